"""The JavaScript trace engine in headless Chromium beside the NumPy core in this process (run by hand).

    python benchmarks/engine_bench.py [--model shakespeare-lstm] [--runs 10] [--chromium /usr/bin/chromium]
    python benchmarks/engine_bench.py --exported [--model shakespeare-lstm] [--runs 20]
    python benchmarks/engine_bench.py --quick   # one counted run on recall-lstm (the smoke test's run)

For a 100-character text on the model (default: the 256-unit Shakespeare LSTM) it prints the median and
the spread of
  - the forward pass (every gate and state of every step, the next-token distributions) and the whole trace
    with the gradient triangle and the parameter norms, each ending in the rounded document;
  - for the engine, once on the page's own thread (the computation alone) and once through its Web Worker
    (what a page sees: the time to the forward's document and to the gradients, structured cloning included);
  - for the core, run_trace + document (app.nn), as the server computes a POST /api/trace answer
    (one BLAS thread, as the server runs it);
and the ratio engine / core. With --exported it instead writes an exported file (`lstm-explainer export`) of
the model, opens it from file:// and types the 100th character of the text into the sentence box, again
and again (each time after the 99-character text has been traced): the time from the keystroke to the
repainted diagram (the frame after the diagram shows the new step), to the gradients (the page's trace
done), and the longest task the page's thread ran meanwhile (the page stays responsive if it is short).
Each run times the engine and the core one after the other, so that both see
the same load; the machine's load average is printed before and after, since the figures are only
comparable with the load they were taken under.
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
from app.nn.document import document
from app.nn.trace import run_trace
from tests.e2e.engine_harness import EngineServer, call, engine_page
from tests.e2e.harness import CHROMIUM_ARGS, find_chromium

TEXT = "To be, or not to be, that is the question: Whether 'tis nobler in the mind to suffer the slings and "

# Through the worker: ms to the forward's document and to the whole document.
WORKER_RUN = """async (request) => {
  const t0 = performance.now();
  let forward = null;
  await window.engineTest.client.trace(request, { onForward: () => { forward = performance.now() - t0; } });
  return [forward, performance.now() - t0];
}"""


def core_ms(model: Any, text: str, gradients: bool) -> float:
    t0 = time.perf_counter()
    document(run_trace(model, text, gradients=gradients))
    return 1000 * (time.perf_counter() - t0)


def one_run(page: Any, model: Any, text: str) -> dict[str, float]:
    """ms of each measure once, the engine's and the core's one after the other so both see the same load."""
    engine = "([id, text, options]) => window.engineTest.timeDirect(id, text, options, 1)[0]"
    out = {}
    for g, what in ((False, "forward"), (True, "whole")):
        out[f"engine {what}"] = page.evaluate(engine, [model.id, text, {"gradients": g}])
        out[f"core {what}"] = core_ms(model, text, g)
    out["worker forward"], out["worker whole"] = page.evaluate(WORKER_RUN, {"model": model.id, "text": text})
    return out


# In the exported page: set the 99-character text, wait for its whole trace, then type the 100th character
# as a keystroke would (an input event) and time the repaint and the gradients; the longest task meanwhile
# from a PerformanceObserver of long tasks (the page's thread blocked ≥ 50 ms).
KEYSTROKE = """async ([before, after]) => {
  const box = document.getElementById('text-input');
  // done: the page marked a newer trace ready and shows this text (cheap to ask: getTrace() would copy
  // the whole trace every time and become what is measured)
  const done = (text) => {
    const after = Number(document.body.dataset.traceId || 0);
    return new Promise((resolve) => {
      const check = () => {
        const b = document.body.dataset;
        if (b.ready === '1' && Number(b.traceId) > after && window.lstmExplainer.getState().text === text) resolve();
        else setTimeout(check, 5);
      };
      check();
    });
  };
  if (window.lstmExplainer.getState().text !== before) {
    const traced = done(before);
    box.value = before;
    box.dispatchEvent(new Event('input', { bubbles: true }));
    await traced;
  }
  await new Promise((r) => setTimeout(r, 600)); // the previous trace's deferred panels are painted
  const n = [...after].length;
  const title = document.querySelector('.diagram-title');
  let longest = 0;
  const tasks = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) longest = Math.max(longest, e.duration);
  });
  tasks.observe({ type: 'longtask' });
  const t0 = performance.now();
  const painted = new Promise((resolve) => {
    const seen = () => title.textContent.includes(`step ${n} of ${n}`);
    const observer = new MutationObserver(() => {
      if (!seen()) return;
      observer.disconnect();
      requestAnimationFrame(() => resolve(performance.now() - t0));
    });
    observer.observe(document.getElementById('diagram'), { subtree: true, childList: true, characterData: true });
  });
  const traced = done(after);
  box.value = after;
  box.dispatchEvent(new Event('input', { bubbles: true }));
  const diagram = await painted;
  await traced;
  const gradients = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 50));
  tasks.disconnect();
  return [diagram, gradients, longest];
}"""


def exported_keystroke(args: Any, text: str) -> None:
    import tempfile

    from app.export import export_page

    out = Path(tempfile.mkdtemp()) / "bench.html"
    export_page(args.model, text[:99], None, [], None, out, [])
    from playwright.sync_api import sync_playwright

    runs = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(out.as_uri())
        page.wait_for_function("() => document.body.dataset.ready === '1'", timeout=60_000)
        warm = max(2, args.runs // 5)
        for k in range(warm + args.runs):
            runs.append(page.evaluate(KEYSTROKE, [text[:99], text[:99] + "abcdefghij"[k % 10]]))
        browser.close()
    runs = runs[warm:]
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    for k, label in enumerate(("keystroke → repainted diagram", "keystroke → gradients (trace done)",
                               "longest task on the page's thread")):  # fmt: skip
        print(f"{label:44} {summary([r[k] for r in runs])}")


def summary(times: list[float]) -> str:
    return f"{statistics.median(times):8.1f} ms  (min {min(times):.1f}, max {max(times):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="shakespeare-lstm")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--chromium", default=find_chromium())
    parser.add_argument("--exported", action="store_true", help="time keystrokes in an exported file instead")
    parser.add_argument("--quick", action="store_true", help="one counted run on recall-lstm")
    args = parser.parse_args()
    if args.quick:
        args.model, args.runs = "recall-lstm", 1
    if not args.chromium:
        sys.exit("no Chromium found: pass --chromium /path/to/chromium")
    from playwright.sync_api import sync_playwright

    model = load_model(shipped_models_dir() / args.model)
    text = TEXT[:100]
    tokens = len(model.tokenizer.tokenize(text))
    print(f"{args.model}: {model.arch}, H = {model.hidden_size}, {tokens} tokens; {args.runs} runs each")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    if args.exported:
        exported_keystroke(args, text)
        return

    runs: list[dict[str, float]] = []
    with sync_playwright() as p, threadpool_limits(limits=1, user_api="blas"):
        browser = p.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
        with (
            EngineServer({args.model: shipped_models_dir() / args.model}) as server,
            engine_page(browser, server) as page,
        ):
            assert call(page, "load", args.model) == {"value": args.model}
            assert call(page, "loadDirect", args.model) == {"value": args.model}
            warm = max(2, args.runs // 5)  # the first runs warm up the JIT and the caches, and are not counted
            runs = [one_run(page, model, text) for _ in range(warm + args.runs)][warm:]
        browser.close()
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    col = {key: [r[key] for r in runs] for key in runs[0]}
    rows = [
        ("forward, document", col["engine forward"], col["core forward"]),
        ("forward + gradients, document", col["engine whole"], col["core whole"]),
        ("  in the worker: to the forward's document", col["worker forward"], col["core forward"]),
        ("  in the worker: to the whole document", col["worker whole"], col["core whole"]),
    ]
    print(f"{'':44} {'engine (Chromium)':36} {'core (NumPy)':36} engine / core")
    for label, ours, theirs in rows:
        ratio = statistics.median(ours) / statistics.median(theirs)
        print(f"{label:44} {summary(ours):36} {summary(theirs):36} {ratio:.2f}")
    gradients = statistics.median(col["engine whole"]) - statistics.median(col["engine forward"])
    core_gradients = statistics.median(col["core whole"]) - statistics.median(col["core forward"])
    print(f"{'gradients alone (difference of medians)':44} {gradients:8.1f} ms{'':27} {core_gradients:8.1f} ms")


if __name__ == "__main__":
    main()
