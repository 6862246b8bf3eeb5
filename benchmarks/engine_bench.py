"""The JavaScript trace engine in headless Chromium beside the NumPy core in this process (run by hand).

    python benchmarks/engine_bench.py [--model shakespeare-lstm] [--runs 10] [--chromium /usr/bin/chromium]

For a 100-character text on the model (default: the 256-unit Shakespeare LSTM) it prints the median and
the spread of
  - the forward pass (every gate and state of every step, the next-token distributions) and the whole trace
    with the gradient triangle and the parameter norms, each ending in the rounded document;
  - for the engine, once on the page's own thread (the computation alone) and once through its Web Worker
    (what a page sees: the time to the forward's document and to the gradients, structured cloning included);
  - for the core, app.nn.trace: run_trace + document, as the server computes a POST /api/trace answer
    (one BLAS thread, as the server runs it);
and the ratio engine / core. The machine's load average is printed before and after: the figures are
only comparable with the load they were taken under.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from threadpoolctl import threadpool_limits

from app.nn import load_model, shipped_models_dir
from app.nn.trace import document, run_trace
from tests.e2e.engine_harness import EngineServer, call, engine_page
from tests.e2e.harness import CHROMIUM_ARGS, find_chromium

TEXT = "To be, or not to be, that is the question: Whether 'tis nobler in the mind to suffer the slings and "

# Through the worker: ms to the forward's document and to the whole document, per run.
WORKER_RUNS = """async ([request, runs]) => {
  const times = [];
  for (let k = 0; k < runs; k++) {
    const t0 = performance.now();
    let forward = null;
    await window.engineTest.client.trace(request, { onForward: () => { forward = performance.now() - t0; } });
    times.push([forward, performance.now() - t0]);
  }
  return times;
}"""


def core_times(model: Any, text: str, gradients: bool, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        document(run_trace(model, text, gradients=gradients))
        times.append(1000 * (time.perf_counter() - t0))
    return times


def summary(times: list[float]) -> str:
    return f"{statistics.median(times):8.1f} ms  (min {min(times):.1f}, max {max(times):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="shakespeare-lstm")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--chromium", default=find_chromium())
    args = parser.parse_args()
    if not args.chromium:
        sys.exit("no Chromium found: pass --chromium /path/to/chromium")
    from playwright.sync_api import sync_playwright

    model = load_model(shipped_models_dir() / args.model)
    text = TEXT[:100]
    tokens = len(model.tokenizer.tokenize(text))
    print(f"{args.model}: {model.arch}, H = {model.hidden_size}, {tokens} tokens; {args.runs} runs each")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
        with (
            EngineServer({args.model: shipped_models_dir() / args.model}) as server,
            engine_page(browser, server) as page,
        ):
            assert call(page, "load", args.model) == {"value": args.model}
            assert call(page, "loadDirect", args.model) == {"value": args.model}
            request = {"model": args.model, "text": text}
            warm = max(2, args.runs // 5)
            page.evaluate("(a) => window.engineTest.timeDirect(...a)", [args.model, text, {}, warm])
            direct = {
                g: page.evaluate(
                    "(a) => window.engineTest.timeDirect(...a)", [args.model, text, {"gradients": g}, args.runs]
                )
                for g in (False, True)
            }
            page.evaluate(WORKER_RUNS, [request, warm])
            worker = page.evaluate(WORKER_RUNS, [request, args.runs])
        browser.close()

    with threadpool_limits(limits=1, user_api="blas"):
        core_times(model, text, True, warm)
        core = {g: core_times(model, text, g, args.runs) for g in (False, True)}
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    rows = [
        ("forward, document", direct[False], core[False]),
        ("forward + gradients, document", direct[True], core[True]),
        ("  in the worker: to the forward's document", [f for f, _ in worker], core[False]),
        ("  in the worker: to the whole document", [d for _, d in worker], core[True]),
    ]
    print(f"{'':44} {'engine (Chromium)':36} {'core (NumPy)':36} engine / core")
    for label, ours, theirs in rows:
        ratio = statistics.median(ours) / statistics.median(theirs)
        print(f"{label:44} {summary(ours):36} {summary(theirs):36} {ratio:.2f}")
    gradients = statistics.median(direct[True]) - statistics.median(direct[False])
    core_gradients = statistics.median(core[True]) - statistics.median(core[False])
    print(f"{'gradients alone (difference of medians)':44} {gradients:8.1f} ms{'':27} {core_gradients:8.1f} ms")


if __name__ == "__main__":
    main()
