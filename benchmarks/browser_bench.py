"""Browser benchmark (run by hand): how fast the explorer feels in headless Chromium on loopback.

    python benchmarks/browser_bench.py [--runs 10] [--chromium /usr/bin/chromium] [--samples]
    python benchmarks/browser_bench.py --quick   # one run of each, one second of playing (the smoke test's)

Starts its own server on a free port (shipped models plus two random char LSTMs it creates: one with
256 units, one with 512), then prints
  - navigation → first diagram paint (cold browser context each time; the page's own
    `lstm:first-diagram-paint` performance mark, taken two frames after the diagram was drawn) and
    → plotly.js ready (`lstm:plotly-ready`: fetched after that paint, parsed and run), for the server's
    page and for an exported file opened from file:// (`lstm-explainer export shakespeare-lstm`: the
    weights and plotly.js inflated from the page itself);
  - keystroke → repaint for a 100-character sentence on a char model (a real key press at the end of
    the text — a new letter each run, so no answer comes from the server's cache — until the diagram
    shows the new token and two frames have passed; all panels open, as the explorer opens), as an A/B:
    the page as it is (`local=0`) and with the instant local forward (`local=1`: the engine in the page
    paints the forward pass, the server's trace replaces it), keystrokes taken in turn on the two pages;
    for the second, also the keystroke → the server's trace on screen;
  - frames per second while playing (8×, with the forward animation) at hidden size 256 and 512.
Goals (issue 5): first paint ≤ 500 ms, keystroke → repaint ≤ 100 ms, ≥ 50 fps.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.export import export_file
from app.nn import random_model, save_model
from tests.e2e.harness import CHROMIUM_ARGS, find_chromium, free_port, start_server, stop_server, wait_healthy

CHAR_VOCAB = ["<unk>", *"abcdefghijklmnopqrstuvwxyz .,"]
SENTENCE = "the quick brown fox jumps over the lazy dog while the lecturer watches every gate open and cl"  # 96
PLAY_TEXT = "long short-term memory keeps what matters and forgets the rest"


def wait_ready(page: Any, after: int = 0) -> int:
    page.wait_for_function(
        "(after) => document.body.dataset.ready === '1' && Number(document.body.dataset.traceId || 0) > after",
        arg=after,
        timeout=20_000,
    )
    return int(page.evaluate("() => Number(document.body.dataset.traceId)"))


MARKS = {"paint": "lstm:first-diagram-paint", "plotly": "lstm:plotly-ready"}


def first_paint(browser: Any, url: str, runs: int) -> dict[str, list[float]]:
    """{"paint": [ms], "plotly": [ms]}: navigation → each of the page's MARKS, a cold context each run."""
    times: dict[str, list[float]] = {key: [] for key in MARKS}
    for _ in range(runs):
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        page = context.new_page()
        page.goto(url)
        for key, mark in MARKS.items():
            page.wait_for_function("(m) => performance.getEntriesByName(m).length > 0", arg=mark, timeout=30_000)
            times[key].append(page.evaluate("(m) => performance.getEntriesByName(m)[0].startTime", mark))
        context.close()
    return times


KEY_TO_PAINT = """(n) => ({ done: new Promise((resolve) => {
  // Resolves with ms from the key press to two frames after the diagram shows n tokens (`first`: the
  // page's instant local forward, if it has one, else the server's trace) and to two frames after it
  // shows the server's trace of them (`server`). Wrapped in an object: evaluate_handle would otherwise
  // wait for the promise before the key is even pressed.
  const title = document.querySelector('.diagram-title');
  const box = document.getElementById('text-input');
  const body = document.body;
  let t0 = null;
  const times = { first: null, server: null };
  const settle = (key) => requestAnimationFrame(() => requestAnimationFrame(() => {
    times[key] = performance.now() - t0;
    if (times.first !== null && times.server !== null) resolve(times);
  }));
  box.addEventListener('keydown', () => {
    t0 = performance.now();
    delete body.dataset.shown; // set again by the paint of this keystroke's trace (local or server)
  }, { once: true });
  const obs = new MutationObserver(() => {
    if (t0 === null || !title.textContent.includes(`of ${n}:`)) return;
    if (!times.firstSeen) { times.firstSeen = true; settle('first'); }
    if (body.dataset.shown === 'server' && !times.serverSeen) {
      times.serverSeen = true;
      obs.disconnect();
      settle('server');
    }
  });
  obs.observe(title, { childList: true, characterData: true, subtree: true });
  obs.observe(body, { attributes: true, attributeFilter: ['data-shown'] });
}) })"""

# The A/B of the instant local forward (static/js/features/local-forward.js): the same page with `local=0`
# and with `local=1`, their keystrokes interleaved so both see the same load.
VARIANTS = {"local=0": "0", "local=1": "1"}


def keystroke_to_repaint(browser: Any, server: str, model: str, runs: int) -> dict[str, dict[str, list[float]]]:
    """{variant: {"first": [ms], "server": [ms]}} over `runs` keystrokes on each variant's page."""
    text = SENTENCE[:99]
    pages = {}
    for name, flag in VARIANTS.items():
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        page = context.new_page()
        page.goto(f"{server}/?{urlencode({'model': model, 'text': text, 'local': flag})}")
        last = wait_ready(page)
        if flag == "1":  # the engine loaded and warmed up after the first paint
            page.wait_for_function("(m) => (document.body.dataset.localModels || '').split(' ').includes(m)",
                                   arg=model, timeout=60_000)  # fmt: skip
        page.locator("#text-input").click()
        page.locator("#text-input").press("End")
        pages[name] = (context, page, [last])
    times: dict[str, dict[str, list[float]]] = {name: {"first": [], "server": []} for name in VARIANTS}
    for run in range(runs):
        for name, (_, page, last) in pages.items():
            page.bring_to_front()
            page.wait_for_timeout(300)  # a lone keystroke, as when a lecturer adds one letter
            n = len(text) + 1
            done = page.evaluate_handle(KEY_TO_PAINT, n)
            # A different letter each run: a text the server has not traced (and cached) before.
            page.keyboard.press("abcdefghijklmnopqrstuvwxyz"[run % 26])
            result = page.evaluate("(h) => h.done", done)
            times[name]["first"].append(result["first"])
            times[name]["server"].append(result["server"])
            last[0] = wait_ready(page, last[0])
            page.keyboard.press("Backspace")
            last[0] = wait_ready(page, last[0])
    for context, _, _ in pages.values():
        context.close()
    return times


FPS = """(ms) => new Promise((resolve) => {
  const frames = [];
  const start = performance.now();
  const tick = (now) => {
    frames.push(now);
    if (now - start < ms) requestAnimationFrame(tick);
    else {
      const gaps = frames.slice(1).map((t, k) => t - frames[k]);
      resolve({ fps: (frames.length - 1) / ((frames.at(-1) - frames[0]) / 1000),
                worst: Math.max(...gaps), long: gaps.filter((g) => g > 25).length });
    }
  };
  requestAnimationFrame(tick);
})"""


def playing_fps(browser: Any, server: str, model: str, panels: str | None, seconds: float = 5.0) -> dict[str, float]:
    """Frames per second while playing at 8× (the forward animation on); panels None = the default set."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    params = {"model": model, "text": PLAY_TEXT, "speed": 8, "units": "3,100,200"}
    if panels is not None:
        params["panels"] = panels
    page.goto(f"{server}/?{urlencode(params)}")
    ready = wait_ready(page)
    if panels != "":  # measure playing, not plotly's first drawing of the panels
        page.wait_for_function("(id) => Number(document.body.dataset.plotsReady || 0) >= id", arg=ready)
    page.evaluate("() => { window.lstmExplainer.setState({ step: 0 }); window.lstmExplainer.play(); }")
    result = page.evaluate(FPS, seconds * 1000)
    context.close()
    return result


def describe(name: str, values: list[float], goal: str, samples: bool = False) -> None:
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
    print(f"{name:<58} median {statistics.median(values):7.1f} ms   p90 {p90:7.1f} ms   ({goal})")
    if samples:
        print(f"{'':<58} every run, sorted: {', '.join(f'{v:.0f}' for v in values)} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--chromium", default=find_chromium())
    ap.add_argument("--samples", action="store_true", help="also print every run's time")
    ap.add_argument("--quick", action="store_true", help="one run of each, one second of playing at H = 256")
    args = ap.parse_args()
    if args.quick:
        args.runs = 1
    if not args.chromium:
        sys.exit("no Chromium found: pass --chromium /path/to/chromium")

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp)
        for h in (256, 512):
            m = random_model("lstm", vocab=CHAR_VOCAB, hidden_size=h, input_size=32, model_id=f"bench-{h}", seed=h)
            save_model(m, models / f"bench-{h}")
        port = free_port()
        proc = start_server(models, port)
        server = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(server, proc)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
                print(f"Chromium {browser.version}, headless, loopback; {args.runs} runs each\n")
                out = models / "shakespeare-lstm.html"
                exported = export_file("shakespeare-lstm", "To be, or not to be", None, [], None, out)
                pages = [("recall-lstm", f"{server}/?{urlencode({'model': 'recall-lstm', 'text': 'b31415926='})}"),
                         ("shakespeare-lstm export, file://", out.as_uri())]  # fmt: skip
                for what, url in pages:
                    times = first_paint(browser, url, args.runs)
                    describe(f"navigation → first diagram paint ({what})", times["paint"], "goal ≤ 500 ms",
                             args.samples)  # fmt: skip
                    describe("  … → plotly.js ready (loaded after the paint)", times["plotly"], "the panels wait",
                             args.samples)  # fmt: skip
                print(f"{'':<58} exported file {exported.path.stat().st_size / 1e6:.2f} MB\n")
                for model in ("recall-lstm", "bench-256"):
                    ab = keystroke_to_repaint(browser, server, model, args.runs)
                    for variant, measured in ab.items():
                        describe(f"keystroke → repaint, 100 chars ({model}), {variant}", measured["first"],
                                 "goal ≤ 100 ms", args.samples)  # fmt: skip
                    describe("  … local=1: keystroke → the server's trace on screen", ab["local=1"]["server"],
                             "replaces the local paint", args.samples)  # fmt: skip
                    off, on = (statistics.median(m["first"]) for m in ab.values())
                    print(f"{'':<58} local=1 / local=0, median: {on / off:.2f}×\n")
                playing = [("bench-256", None, "all panels open"), ("bench-256", "", "diagram only"),
                           ("bench-512", None, "all panels open")]  # fmt: skip
                for model, panels, what in playing[:1] if args.quick else playing:
                    r = playing_fps(browser, server, model, panels, 1.0 if args.quick else 5.0)
                    name = f"playing at 8×, {model}, {what}"
                    print(
                        f"{name:<58} {r['fps']:6.1f} fps   worst frame {r['worst']:5.1f} ms"
                        f"   frames > 25 ms: {r['long']}   (goal ≥ 50 fps)"
                    )
                browser.close()
        finally:
            stop_server(proc)


if __name__ == "__main__":
    main()
