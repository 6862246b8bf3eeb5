"""The server's memory under slow and abandoned clients (issue 10), measured on a server this script starts.

    python benchmarks/memory_soak.py                         # the issue's soak, on this checkout
    python benchmarks/memory_soak.py --checkout /path/to/old  # the same soak on another checkout's server
    python benchmarks/memory_soak.py --rounds 2 --cycles 200 --rest 200   # a shorter run
    python benchmarks/memory_soak.py --quick     # a few sockets and requests (the smoke test's run)

1. Stalled: `--stalled` sockets (20) each ask for a different `--chars`-character trace (2,000) of
   shakespeare-lstm and never read. The server's RSS is sampled while they hang and after they are gone.
2. Rounds: each round is `--cycles` sockets (1,000) that ask for a trace, read its first two frames and
   vanish without a close handshake, then `--rest` different POST /api/trace requests (1,000). RSS after
   each round; the goal is the last within 1.5× of the first.
Throughout, a probe traces a short sentence every half second; its slowest answer is reported (goal: 1 s).
RSS is read from /proc (Linux). Loopback only: the server is this script's own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Coroutine
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
LINE = "to be or not to be that is the question whether tis nobler in the mind to suffer the slings and arrows"
WORDS = LINE.split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def text(seed: int, chars: int) -> str:
    rng = random.Random(seed)
    out = ""
    while len(out) < chars:
        out += rng.choice(WORDS) + " "
    return out[:chars]


def start(checkout: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LSTM_EXPLAINER_")}
    env["PYTHONPATH"] = str(checkout)  # this checkout's `app`, whatever is installed
    cmd = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--port", str(port),
           "--log-level", "warning", "--ws-per-message-deflate", "false"]  # fmt: skip
    return subprocess.Popen(cmd, cwd=checkout, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_up(base: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if proc.poll() is not None:
                sys.exit("the server exited")
            try:
                if (await client.get(f"{base}/healthz", timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    sys.exit("the server did not start")


class Probe:
    """Another client, tracing a short sentence every half second: the slowest answer is what it saw."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.worst = 0.0
        self.failures = 0
        self.running = True

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            k = 0
            while self.running:
                t0 = time.perf_counter()
                r = await client.post(f"{self.base}/api/trace", json={"model": "recall-lstm", "text": f"c48{k % 10}="})
                self.worst = max(self.worst, time.perf_counter() - t0)
                self.failures += r.status_code != 200
                k += 1
                await asyncio.sleep(0.5)


async def stalled(ws_url: str, n: int, chars: int, pid: int, hang: float = 30) -> tuple[float, float]:
    """Open `n` sockets that ask for a trace each and never read; the peak RSS while they hang."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", int(ws_url.rsplit(":", 1)[1].split("/")[0])))
        socks.append(s)
    conns = []
    for k, s in enumerate(socks):
        ws = await connect(ws_url, sock=s, max_size=2**28, close_timeout=1)
        await ws.send(json.dumps({"type": "trace", "id": k, "model": "shakespeare-lstm", "text": text(k, chars)}))
        conns.append(ws)
    peak = 0.0
    for _ in range(int(hang * 4)):  # 30 s: the traces compute, the sockets back up, the server lets them go
        peak = max(peak, rss_mb(pid))
        await asyncio.sleep(0.25)
    for ws in conns:
        ws.transport.abort()
    return peak, rss_mb(pid)


async def abandon(ws_url: str, seed: int) -> None:
    try:
        async with asyncio.timeout(30):
            ws = await connect(ws_url, max_size=2**28)
            await ws.send(json.dumps({"type": "trace", "id": 1, "model": "shakespeare-lstm", "text": text(seed, 500)}))
            for _ in range(2):
                await ws.recv()
            ws.transport.abort()  # gone mid-stream, no close handshake
    except (OSError, TimeoutError):
        pass


async def rest(client: httpx.AsyncClient, base: str, seed: int) -> None:
    words = text(seed, 300).split()[:60]
    await client.post(f"{base}/api/trace", json={"model": "lecture-lstm", "text": " ".join(words)})


async def bounded(jobs: list[Coroutine[None, None, None]], width: int) -> None:
    gate = asyncio.Semaphore(width)

    async def one(job: Coroutine[None, None, None]) -> None:
        async with gate:
            await job

    await asyncio.gather(*(one(j) for j in jobs))


async def main(args: argparse.Namespace) -> None:
    port = free_port()
    base, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws/trace"
    proc = start(args.checkout, port)
    try:
        await wait_up(base, proc)
        async with httpx.AsyncClient(timeout=60) as client:
            await rest(client, base, -1)
        probe = Probe(base)
        probing = asyncio.ensure_future(probe.run())
        start_rss = rss_mb(proc.pid)
        print(f"checkout {args.checkout}  server pid {proc.pid}  RSS after start {start_rss:.0f} MB", flush=True)
        peak, after = await stalled(ws_url, args.stalled, args.chars, proc.pid, args.hang)
        print(f"{args.stalled} stalled sockets, {args.chars}-char traces: peak +{peak - start_rss:.0f} MB, "
              f"{after - start_rss:+.0f} MB after", flush=True)  # fmt: skip
        rounds = []
        seed = 0
        for r in range(args.rounds):
            t0 = time.perf_counter()
            await bounded([abandon(ws_url, seed + k) for k in range(args.cycles)], 20)
            seed += args.cycles
            async with httpx.AsyncClient(timeout=120) as client:
                await bounded([rest(client, base, seed + k) for k in range(args.rest)], 8)
            seed += args.rest
            await asyncio.sleep(2)
            rounds.append(rss_mb(proc.pid))
            print(f"round {r + 1}: RSS {rounds[-1]:.0f} MB  ({time.perf_counter() - t0:.0f} s)", flush=True)
        probe.running = False
        await probing
        print(f"last round / first round: {rounds[-1] / rounds[0]:.2f}x (goal <= 1.5)   probe: slowest "
              f"{probe.worst:.2f} s (goal <= 1 s), {probe.failures} failed", flush=True)  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkout", type=Path, default=ROOT, help="run the server from this checkout")
    ap.add_argument("--stalled", type=int, default=20)
    ap.add_argument("--chars", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--cycles", type=int, default=1000)
    ap.add_argument("--rest", type=int, default=1000)
    ap.add_argument("--hang", type=float, default=30, help="seconds the stalled sockets hang")
    ap.add_argument("--quick", action="store_true", help="2 stalled 100-char traces for 2 s, 1 round of 3 + 3")
    args = ap.parse_args()
    if args.quick:
        args.stalled, args.chars, args.hang, args.rounds, args.cycles, args.rest = 2, 100, 2, 1, 3, 3
    asyncio.run(main(args))
