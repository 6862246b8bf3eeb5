"""The stage in a real browser (issue 12): in presenter mode, in /embed and on the landing page, the cell
diagram fits the window from 640×360 to 3840×2160 — inside the viewport, covered by nothing, no scrolling
needed — and its text never comes out under 14 CSS px on a 1280×720 screen nor under 11 px in a 640×360
iframe (DIAGRAM.minText in static/js/config.js; linear between, by the smaller of width/1280 and
height/720). Sizes are read with getBoundingClientRect and each text's own screen transform.
Screenshots of every size land in tests/e2e/artifacts/stage-*.png — look at them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import wait_ready
from .test_explorer import url

SPAIN = (
    "I have been staying in Spain for the last 10 years and I enjoyed the food there although the weather"
    " was often cold. I can speak fluent"
)

# Everything the test reads from the page at once: the diagram's box, every visible diagram text's
# rendered font size and box, and what lies on top of each mark a lecturer points at.
MEASURE = """() => {
  const svg = document.querySelector('#diagram svg');
  const box = svg.getBoundingClientRect();
  const texts = [];
  for (const t of svg.querySelectorAll('text, tspan')) {
    const r = t.getBoundingClientRect();
    if (!r.width || !r.height || !t.textContent.trim()) continue;
    const px = parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a;
    texts.push({ text: t.textContent.slice(0, 24), cls: t.getAttribute('class') || t.parentNode.getAttribute('class'),
                 px, height: r.height, left: r.left, top: r.top, right: r.right, bottom: r.bottom });
  }
  // The centres of the strips, layer boxes and value badges: each must be the diagram's own element.
  const marks = [...svg.querySelectorAll('.strip-canvas, .gate-box .box, .big .big-bg, .cell-box')];
  const covered = [];
  for (const m of marks) {
    const r = m.getBoundingClientRect();
    if (!r.width) continue;
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    const hit = document.elementFromPoint(x, y);
    if (!hit || !(svg.contains(hit) || hit === svg)) covered.push({ mark: m.getAttribute('class') || m.dataset.q, x, y,
      by: hit ? `${hit.tagName}.${hit.className}` : 'outside the viewport' });
  }
  const cell = svg.querySelector('.cell-box').getBoundingClientRect();
  return { box: { left: box.left, top: box.top, right: box.right, bottom: box.bottom },
           cell: { left: cell.left, top: cell.top, right: cell.right, bottom: cell.bottom },
           texts, covered, vw: innerWidth, vh: innerHeight,
           scrollW: document.documentElement.scrollWidth, scrollY: scrollY };
}"""


def min_text_px(w: int, h: int) -> float:
    """The stage's rule, as static/js/config.js minTextPx states it."""
    s = min(w / 1280, h / 720)
    return 11 + 3 * max(0.0, min(1.0, (s - 0.5) / 0.5))


def check_stage(tab: Any, w: int, h: int, name: str, artifacts: Path) -> dict[str, Any]:
    m = tab.evaluate(MEASURE)
    tab.screenshot(path=artifacts / f"stage-{name}-{w}x{h}.png")
    eps = 0.5
    # Inside the viewport: the drawing and every label, with no scrolling.
    assert m["scrollY"] == 0
    for key in ("box", "cell"):
        r = m[key]
        assert r["left"] >= -eps and r["top"] >= -eps, (key, r)
        assert r["right"] <= w + eps and r["bottom"] <= h + eps, (key, r, w, h)
    outside = [t for t in m["texts"] if t["bottom"] > h + eps or t["right"] > w + eps or t["left"] < -eps]
    assert not outside, outside[:3]
    assert not m["covered"], m["covered"][:3]
    # Readable: the smallest text, by font size on screen and by its drawn box.
    limit = min_text_px(w, h)
    smallest = min(m["texts"], key=lambda t: t["px"])
    assert smallest["px"] >= limit - 0.01, (smallest, limit)
    lowest_box = min(m["texts"], key=lambda t: t["height"])
    assert lowest_box["height"] >= limit - 0.01, (lowest_box, limit)
    return m


SIZES = [(640, 360), (960, 540), (1280, 720), (1920, 1080), (3840, 2160)]


@pytest.mark.parametrize(("w", "h"), SIZES)
def test_the_presenter_stage_fits_and_reads(tab: Any, server: str, artifacts: Path, w: int, h: int) -> None:
    tab.set_viewport_size({"width": w, "height": h})
    tab.goto(url(server, model="grammar-lstm", text=SPAIN, target="spanish", present=1, units="4"))
    wait_ready(tab)
    m = check_stage(tab, w, h, "present", artifacts)
    if (w, h) == (1280, 720):
        smallest = min(t["px"] for t in m["texts"])
        assert smallest >= 14
        # The diagram is the screen: its cell takes most of the window's height.
        assert m["cell"]["bottom"] - m["cell"]["top"] > 0.55 * h


@pytest.mark.parametrize(("w", "h"), SIZES)
def test_the_embedded_stage_fits_and_reads(tab: Any, server: str, artifacts: Path, w: int, h: int) -> None:
    """Embedded as docs/embedding.md documents it: the next-token panel beside the diagram."""
    tab.set_viewport_size({"width": w, "height": h})
    tab.goto(url(server, "/embed", model="grammar-lstm", text=SPAIN, target="spanish", panels="predictions"))
    wait_ready(tab)
    check_stage(tab, w, h, "embed", artifacts)


def test_the_embed_at_640_without_panels(tab: Any, server: str, artifacts: Path) -> None:
    tab.set_viewport_size({"width": 640, "height": 360})
    tab.goto(url(server, "/embed", model="lecture-gru", text=SPAIN))
    wait_ready(tab)
    m = check_stage(tab, 640, 360, "embed-gru", artifacts)
    assert min(t["px"] for t in m["texts"]) >= 11 - 0.01


def test_the_landing_page_shows_the_whole_diagram_at_1280x720(tab: Any, server: str, artifacts: Path) -> None:
    """A lecturer opening the app on the projector sees the diagram without scrolling."""
    tab.set_viewport_size({"width": 1280, "height": 720})
    tab.goto(server)
    wait_ready(tab)
    check_stage(tab, 1280, 720, "landing", artifacts)


def test_the_stage_follows_a_resized_window(tab: Any, server: str, artifacts: Path) -> None:
    """From a laptop to the projector: the stage is laid out again, not only at load."""
    tab.set_viewport_size({"width": 1920, "height": 1080})
    tab.goto(url(server, model="grammar-lstm", text=SPAIN, present=1))
    wait_ready(tab)
    tab.set_viewport_size({"width": 1280, "height": 720})
    tab.wait_for_timeout(300)  # a ResizeObserver and a frame
    check_stage(tab, 1280, 720, "resized", artifacts)


def check_figure(tab: Any, selector: str, w: int, h: int) -> float:
    """The smallest text of one diagram (CSS px), after checking it lies inside the window."""
    m = tab.evaluate(MEASURE.replace("'#diagram svg'", repr(f"{selector} svg")))
    r = m["cell"]
    assert r["left"] >= -0.5 and r["top"] >= -0.5 and r["right"] <= w + 0.5 and r["bottom"] <= h + 0.5, r
    assert not m["covered"], m["covered"][:3]
    return min(t["px"] for t in m["texts"])


def test_compare_mode_on_the_stage_shows_one_readable_model_at_a_time(tab: Any, server: str, artifacts: Path) -> None:
    """At 1280×720 two diagrams side by side are each too small to read: a tab per model, and "both"."""
    tab.set_viewport_size({"width": 1280, "height": 720})
    tab.goto(url(server, model="grammar-lstm", compare="grammar-rnn", text=SPAIN, target="spanish", present=1))
    wait_ready(tab)
    tab.wait_for_function("() => document.body.dataset.compareReady === '1'", timeout=15_000)
    tabs = tab.locator(".compare-tabs")
    assert tabs.is_visible()
    assert tab.locator("#diagram").is_visible() and tab.locator("#compare-diagram").is_hidden()
    assert check_figure(tab, "#diagram", 1280, 720) >= 14
    tab.screenshot(path=artifacts / "stage-compare-main-1280x720.png")
    tabs.get_by_role("button", name="grammar-rnn").click()
    assert tab.locator("#diagram").is_hidden() and tab.locator("#compare-diagram").is_visible()
    tab.wait_for_timeout(200)  # the diagram's text is fitted in a ResizeObserver callback
    assert check_figure(tab, "#compare-diagram", 1280, 720) >= 14
    tab.screenshot(path=artifacts / "stage-compare-other-1280x720.png")
    tabs.get_by_role("button", name="both").click()
    assert tab.locator("#diagram").is_visible() and tab.locator("#compare-diagram").is_visible()
    # Stepping moves both, whichever is shown.
    tab.locator(".ctl-prev").click()
    assert tab.evaluate("() => window.lstmExplainer.getState().step") == 26
