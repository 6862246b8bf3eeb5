"""Starting a real server and finding Chromium: shared by the browser tests and benchmarks/browser_bench.py."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.nn import random_model, save_model

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def find_chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_test_models(root: Path) -> Path:
    """Models the shipped zoo lacks: a two-layer LSTM (the layer selector), a peephole LSTM, and a broken one."""
    vocab = ["<unk>", *"abcdefghijklmnopqrstuvwxyz .,"]
    deep = random_model("lstm", vocab=vocab, layers=2, hidden_size=24, input_size=8, model_id="e2e-deep", seed=3)
    deep.card["title"] = "Two-layer test LSTM"
    save_model(deep, root / "e2e-deep")
    peep = random_model("peephole", vocab=vocab, hidden_size=20, input_size=8, model_id="e2e-peephole", seed=4)
    save_model(peep, root / "e2e-peephole")
    # A model whose weights file is damaged: the page must say that it failed to load.
    save_model(random_model("lstm", model_id="e2e-broken"), root / "e2e-broken")
    (root / "e2e-broken" / "weights.safetensors").write_bytes(b"not safetensors")
    return root


def start_server(models: Path, port: int, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LSTM_EXPLAINER_")}
    env.update({"LSTM_EXPLAINER_MODELS": str(models), **(extra_env or {})})
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "app.main:create_app",
        "--factory",
        "--port",
        str(port),
        "--log-level",
        "warning",
        # As `lstm-explainer serve` runs it (settings.ws_compression is off by default); uvicorn's own
        # default would deflate every frame, which on loopback doubles the time a trace takes to stream.
        "--ws-per-message-deflate",
        "false",
    ]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{err}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server at {url} did not become healthy in {timeout} s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stderr:
        proc.stderr.close()
