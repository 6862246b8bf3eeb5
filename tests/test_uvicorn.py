"""Against a real uvicorn process started by `app.serve.serve` on a free loopback port: what TestClient
cannot show (uvicorn's own 1009 for an oversize frame, a browser-like Origin handshake), plus one trace."""

from __future__ import annotations

import contextlib
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

from app.nn import random_model, save_model
from app.nn.document import parse_frame

ROOT = Path(__file__).resolve().parent.parent
MAX_MESSAGE = 4096
SLIDES = "https://slides.example.org"
PER_CLIENT = 4
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
    wide = tmp_path_factory.mktemp("wide")  # a model whose steps are big enough to fill a socket's buffers
    save_model(random_model("lstm", hidden_size=256, model_id="wide-char", seed=1), wide / "wide-char")
    env = {
        **os.environ,
        "LSTM_EXPLAINER_SHIPPED_MODELS": "false",
        "LSTM_EXPLAINER_MAX_WS_MESSAGE_BYTES": str(MAX_MESSAGE),
        "LSTM_EXPLAINER_ALLOWED_ORIGINS": SLIDES,
        "LSTM_EXPLAINER_WS_SEND_TIMEOUT": "1",
        "LSTM_EXPLAINER_WS_MAX_PER_CLIENT": str(PER_CLIENT),
    }
    code = (
        "import os, threading, sys\n"
        f"watchdog = threading.Timer({LIFETIME_S}, os._exit, (3,))\n"
        "watchdog.daemon = True\n"
        "watchdog.start()\n"
        "from pathlib import Path\n"
        "from app.serve import serve\n"
        f"serve('127.0.0.1', {port}, [Path(sys.argv[1]), Path(sys.argv[2])], 1)\n"
    )
    log = tmp_path_factory.mktemp("uvicorn") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(models_root), str(wide)], cwd=ROOT, env=env, stdout=out, stderr=out
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
        frames: list[Any] = []
        while not frames or not isinstance(frames[-1], dict) or frames[-1]["type"] != "done":
            message = ws.recv(timeout=10)
            frames.append(message if isinstance(message, bytes) else json.loads(message))
    meta = frames[0]
    assert meta["type"] == "meta" and len(meta["tokens"]) == 11
    binary = [parse_frame(f) for f in frames if isinstance(f, bytes)]
    assert {stream for stream, *_ in binary} == {meta["stream"]}
    assert sum(count for _, kind, _, count, _ in binary if kind == 1) == 11  # every step, in binary frames
    assert [f["type"] for f in frames if isinstance(f, dict)] == ["meta", "params", "done"]
    assert {f["id"] for f in frames if isinstance(f, dict)} == {"r1"}


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


def test_sockets_per_client_address_are_capped(server: str) -> None:
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(open_socket(server)) for _ in range(PER_CLIENT)]
        with open_socket(server) as extra, pytest.raises(ConnectionClosed) as closed:
            extra.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert "WS_MAX_PER_CLIENT" in closed.value.rcvd.reason
        sockets[0].close()  # one leaves: a new one is let in, and works
        time.sleep(0.2)
        with open_socket(server) as again:
            again.send(json.dumps({"type": "trace", "id": 1, "model": "tiny-char", "text": "hi"}))
            while not (isinstance(m := again.recv(timeout=10), str) and '"done"' in m):
                pass


def test_a_client_that_stops_reading_is_let_go(server: str) -> None:
    host, port = server.split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # so the server's frames back up quickly
    sock.connect((host, int(port)))
    text = ("the keys to the cabinet are on the table " * 50)[:2000]  # 12 MB of steps
    with connect(f"ws://{server}/ws/trace", sock=sock, open_timeout=5, close_timeout=2, max_size=2**26) as ws:
        ws.send(json.dumps({"type": "trace", "id": 1, "model": "wide-char", "text": text, "gradients": False}))
        time.sleep(3)  # not reading, well past LSTM_EXPLAINER_WS_SEND_TIMEOUT=1
        with open_socket(server) as other:  # meanwhile other clients are served
            other.send(json.dumps({"type": "trace", "id": 2, "model": "tiny-char", "text": "hi"}))
            while not (isinstance(m := other.recv(timeout=10), str) and '"done"' in m):
                pass
        got_done = False
        with pytest.raises(ConnectionClosed):
            for _ in range(100_000):  # what was already on the wire, then the end of the connection
                m = ws.recv(timeout=10)
                got_done = got_done or (isinstance(m, str) and '"done"' in m)
        assert not got_done  # the server gave up on this stream instead of holding it
