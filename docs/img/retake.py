"""Retake the README's pictures from a running server (`lstm-explainer serve`, then
`python docs/img/retake.py http://127.0.0.1:8000`): the stage at 1280×720 — the first thing a lecturer
sees, here on the LSTM at the word that writes its memory — and the gradients panel of the RNN and of the
LSTM on the Spain sentence. Headless Chromium at device scale 1.5, so the pictures stay sharp on a
high-density screen."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
SPAIN = (
    "I have been staying in Spain for the last 10 years and I enjoyed the food there although the weather"
    " was often cold . I can speak fluent"
)


def ready(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function("() => document.body.dataset.ready === '1'", timeout=30_000)
    page.wait_for_timeout(800)


def main(base: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        ctx = browser.new_context(viewport={"width": 1280, "height": 720}, device_scale_factor=1.5)
        page = ctx.new_page()
        # the stage on the LSTM at "Spain": the forget gate shuts, the input gate writes the country into unit 59
        q = urlencode({"model": "lecture-lstm", "text": SPAIN, "target": "spanish", "step": 5, "units": 59,
                       "present": 1})  # fmt: skip
        page.goto(f"{base}/?{q}")
        ready(page)
        page.screenshot(path=HERE / "explorer.png")
        page.goto(f"{base}/?scene=long-context&page=5&present=1")  # the forget gate shut after "Spain"
        ready(page)
        page.screenshot(path=HERE / "clamp.png")
        for model in ("grammar-rnn", "grammar-lstm"):
            page.set_viewport_size({"width": 1280, "height": 900})
            q = urlencode({"model": model, "text": SPAIN, "target": "spanish", "panels": "gradients"})
            page.goto(f"{base}/?{q}")
            ready(page)
            page.wait_for_function("() => Number(document.body.dataset.plotsReady || 0) > 0", timeout=30_000)
            page.wait_for_timeout(500)
            name = "gradients-rnn" if model.endswith("rnn") else "gradients-lstm"
            page.locator("#gradients").screenshot(path=HERE / f"{name}.png")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
