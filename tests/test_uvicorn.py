"""Against a real uvicorn process started by `app.serve.serve` on a free loopback port: what TestClient
cannot show (uvicorn's own 1009 for an oversize frame, a browser-like Origin handshake), plus one trace."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
MAX_MESSAGE = 4096
SLIDES = "https://slides.example.org"
LIFETIME_S = 60  # the server exits by itself after this, whatever happens to the test run


# Loopback never goes through a proxy, whatever the environment says.
http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(models_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "LSTM_EXPLAINER_SHIPPED_MODELS": "false",
        "LSTM_EXPLAINER_MAX_WS_MESSAGE_BYTES": str(MAX_MESSAGE),
        "LSTM_EXPLAINER_ALLOWED_ORIGINS": SLIDES,
    }
    code = (
        "import os, threading, sys\n"
        f"watchdog = threading.Timer({LIFETIME_S}, os._exit, (3,))\n"
        "watchdog.daemon = True\n"
        "watchdog.start()\n"
        "from pathlib import Path\n"
        "from app.serve import serve\n"
        f"serve('127.0.0.1', {port}, [Path(sys.argv[1])], 1)\n"
    )
    log = tmp_path_factory.mktemp("uvicorn") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(models_root)], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    url = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with http.open(f"http://{url}/healthz", timeout=1):
                    break
            except OSError:  # not listening yet (URLError is an OSError)
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def open_socket(url: str, **kwargs: Any) -> ClientConnection:
    return connect(f"ws://{url}/ws/trace", proxy=None, open_timeout=5, close_timeout=2, **kwargs)


def test_trace_over_a_real_socket(server: str) -> None:
    with open_socket(server, origin=SLIDES) as ws:
        ws.send(json.dumps({"type": "trace", "id": "r1", "model": "tiny-char", "text": "hello there"}))
        frames = []
        while not frames or frames[-1]["type"] != "done":
            frames.append(json.loads(ws.recv(timeout=10)))
    assert [f["type"] for f in frames] == ["meta"] + ["step"] * 11 + ["gradients", "done"]
    assert {f["id"] for f in frames} == {"r1"}


def test_page_and_headers_over_http(server: str) -> None:
    request = urllib.request.Request(f"http://{server}/", headers={"Accept-Encoding": "gzip"})
    with http.open(request, timeout=5) as r:
        assert r.status == 200
        assert "frame-ancestors" not in r.headers["content-security-policy"]  # any page may embed, file:// too
        assert r.headers["content-encoding"] == "gzip"


def test_oversize_frame_is_closed_by_uvicorn_with_1009(server: str) -> None:
    with open_socket(server) as ws:
        ws.send("x" * (MAX_MESSAGE + 1))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    # refused by the protocol layer (serve() sets ws_max_size), not by the app's own check after buffering
    assert "messages are limited" not in closed.value.rcvd.reason


def test_foreign_origin_is_closed_with_1008(server: str) -> None:
    with open_socket(server, origin="https://elsewhere.example") as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def test_binary_frame_is_closed_with_1003(server: str) -> None:
    with open_socket(server) as ws:
        ws.send(b"\x00\x01")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003


def test_serve_refuses_a_missing_model_directory(tmp_path: Path) -> None:
    from app.serve import serve

    with pytest.raises(SystemExit, match="not a directory"):
        serve("127.0.0.1", free_port(), [tmp_path / "nope"], 1)
