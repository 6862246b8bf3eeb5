"""Load generator for /ws/trace (docs/protocol.md): N concurrent sockets, each tracing a ~60-token text
with every gradient row.

Start a server first (`lstm-explainer serve`, optionally with `--workers 2`), then:

    python benchmarks/ws_load.py                      # 50, 150 and 300 clients, the same sentence
    python benchmarks/ws_load.py -n 300 --distinct    # every client a different sentence (no cache hits)
    python benchmarks/ws_load.py -n 300 --distinct --view row   # a page showing one gradient row
    python benchmarks/ws_load.py URL --quick          # two clients, 12 tokens (the smoke test's run)

Latencies are measured from sending the request: first frame (the "meta" envelope) and "done" (after the
last gradient row the view asks for). The connection is opened before the clock starts, as a page does
when it loads. Loopback only: this is a tool for measuring your own machine, not someone else's server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
import urllib.request
from collections.abc import Coroutine
from dataclasses import dataclass
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_CLIENTS = 1000
BASE = "the keys to the cabinet are on the table and the cat that the dogs chase is black".split()  # noqa: SIM905


@dataclass
class Result:
    first: float | None = None  # seconds from send to the first frame
    done: float | None = None  # seconds from send to "done"
    frames: int = 0
    bytes: int = 0
    error: str | None = None


def sentence(tokenizer: str, tokens: int, variant: int | None) -> str:
    """About `tokens` tokens of English; `variant` shuffles the words so every client's text differs."""
    words = BASE * (tokens // len(BASE) + 2)
    if variant is not None:
        random.Random(variant).shuffle(words)
    if tokenizer == "word":
        return " ".join(words[:tokens])
    return " ".join(words)[:tokens]


def model_card(ws_url: str, model: str | None) -> dict:
    """The card of `model` (default: the server's default model), from GET /api/models."""
    parts = urlsplit(ws_url)
    http = f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}/api/models"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
    with opener.open(http, timeout=10) as response:
        listing = json.load(response)
    wanted = model or listing["default"]
    for card in listing["models"]:
        if card["id"] == wanted:
            return card
    sys.exit(f"no model {wanted!r} on the server; it has {[c['id'] for c in listing['models']]}")


async def client(url: str, request: dict, timeout: float) -> Result:
    result = Result()
    try:
        async with connect(url, proxy=None, open_timeout=timeout, max_size=2**24) as ws:
            sent = time.perf_counter()
            await ws.send(json.dumps(request))
            async with asyncio.timeout(timeout):
                while True:  # bounded by the timeout and by the server's finite stream
                    text = await ws.recv()
                    result.frames += 1
                    result.bytes += len(text)
                    if result.first is None:
                        result.first = time.perf_counter() - sent
                    if isinstance(text, bytes):
                        continue  # numbers: counted, not decoded (the client is not what is measured)
                    if text.startswith('{"type":"error"'):
                        result.error = json.loads(text)["code"]
                        return result
                    if text.startswith('{"type":"done"'):
                        result.done = time.perf_counter() - sent
                        return result
    except (OSError, TimeoutError, WebSocketException) as e:
        result.error = type(e).__name__
    return result


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


VIEWS = {
    "all": {"rows": "all", "pre": "all"},  # the whole document, as the explorer with every panel open
    "row": {"rows": "last", "pre": []},  # the last step's gradient row only, as a page with one curve shown
    "none": {"rows": [], "pre": []},  # the forward only: nobody opened a gradient panel
}


def view_for(name: str, text_tokens: int) -> dict:
    view = dict(VIEWS[name])
    if view["rows"] == "last":
        view["rows"] = [max(0, text_tokens - 2)]
    return view


async def run(url: str, card: dict, clients: int, distinct: bool, tokens: int, timeout: float, view: str) -> str:
    requests = [
        {
            "type": "trace",
            "id": k,
            "model": card["id"],
            "text": sentence(card["tokenizer"], tokens, k if distinct else None),
            "gradients": True,
            "view": view_for(view, tokens),
        }
        for k in range(clients)
    ]
    start = time.perf_counter()
    results = await asyncio.gather(*(client(url, r, timeout) for r in requests))
    wall = time.perf_counter() - start
    ok = [r for r in results if r.error is None]
    errors: dict[str, int] = {}
    for r in results:
        if r.error is not None:
            errors[r.error] = errors.get(r.error, 0) + 1
    frames = sum(r.frames for r in results)
    line = f"{clients:>4} clients  {'distinct' if distinct else 'same    '}  view {view:<4}"
    if ok:
        first = [r.first for r in ok if r.first is not None]
        done = [r.done for r in ok if r.done is not None]
        line += (
            f"  first frame p50 {percentile(first, 50):6.3f}s p99 {percentile(first, 99):6.3f}s"
            f"  done p50 {percentile(done, 50):6.3f}s p99 {percentile(done, 99):6.3f}s"
        )
    line += f"  errors {sum(errors.values())}{' ' + str(errors) if errors else ''}"
    per_trace = sum(r.bytes for r in ok) / max(1, len(ok))
    line += f"  {frames / wall:8.0f} frames/s  {per_trace / 1e3:7.1f} kB/trace  wall {wall:.2f}s"
    return line


def event_loop_run(coroutine: Coroutine[None, None, str]) -> str:
    """uvloop when installed (uvicorn[standard] brings it), so the client costs less CPU than the server."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", default="ws://127.0.0.1:8000/ws/trace")
    parser.add_argument("-n", "--clients", type=int, action="append", help="concurrent sockets (repeatable)")
    parser.add_argument("--model", help="model id (default: the server's default model)")
    parser.add_argument("--tokens", type=int, default=60, help="tokens per text (default 60)")
    parser.add_argument("--distinct", action="store_true", help="a different text for every client")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a client gives up")
    parser.add_argument("--view", choices=sorted(VIEWS), default="all", help="what each client looks at")
    parser.add_argument("--quick", action="store_true", help="two clients, 12 tokens each")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.tokens = [2], 12
    host = urlsplit(args.url).hostname
    if host not in LOOPBACK:
        sys.exit(f"refusing {host!r}: this load generator only targets a server on this machine")
    sizes = args.clients or [50, 150, 300]
    if any(not 1 <= n <= MAX_CLIENTS for n in sizes):
        sys.exit(f"--clients must be between 1 and {MAX_CLIENTS}")
    card = model_card(args.url, args.model)
    print(f"{args.url}  model {card['id']} ({card['tokenizer']}, {card['arch']}, H={card['hidden_size']})")
    for n in sizes:
        line = event_loop_run(run(args.url, card, n, args.distinct, args.tokens, args.timeout, args.view))
        print(line, flush=True)


if __name__ == "__main__":
    main()
