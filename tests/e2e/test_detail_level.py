"""The diagram's two levels of detail in a real browser (issue 12): the lecture level — the selected units'
numbers on the wires, no strips — is the default on the stage (presenter mode and /embed); the research
level is one click away and kept in the URL (`detail=`); a click on a wire zooms into all of its units
(kept in the URL too, `zoom=`);
compare mode in a 960×540 embed shows one readable diagram at a time with the predictions side by side.
Screenshots land in tests/e2e/artifacts/detail-*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import state, trace, wait_ready
from .test_compare import wait_compare
from .test_explorer import url
from .test_stage import SPAIN, check_figure, check_stage, min_text_px

LEVEL = "() => document.querySelector('#diagram svg').dataset.level"
# How many strips show their grid of all units, and how many numbers the wires carry.
MARKS = """() => {
  const svg = document.querySelector('#diagram svg');
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  return { grids: [...svg.querySelectorAll('.strip:not(.zoom .strip) .strip-canvas')].filter(visible).length,
           badges: [...svg.querySelectorAll('.strip .big')].filter(visible).length };
}"""


def test_the_lecture_level_is_the_default_on_the_stage(tab: Any, server: str, artifacts: Path) -> None:
    tab.set_viewport_size({"width": 1280, "height": 720})
    tab.goto(url(server, model="grammar-lstm", text=SPAIN, target="spanish", present=1, units="4"))
    wait_ready(tab)
    assert tab.evaluate(LEVEL) == "lecture"
    marks = tab.evaluate(MARKS)
    # No strip of all units; one number per wire for the one selected unit (11 quantities of an LSTM).
    assert marks == {"grids": 0, "badges": 11}, marks
    check_stage(tab, 1280, 720, "detail-lecture-present", artifacts)
    tab.screenshot(path=artifacts / "detail-lecture-present-1280x720.png")
    # The explorer's own page, not on the stage, stays at the research level.
    tab.goto(url(server, model="grammar-lstm", text=SPAIN, target="spanish", units="4"))
    wait_ready(tab)
    assert tab.evaluate(LEVEL) == "research"
    assert tab.evaluate(MARKS)["grids"] == 11


def test_the_research_toggle_round_trips_through_the_url(tab: Any, server: str, artifacts: Path) -> None:
    tab.set_viewport_size({"width": 1280, "height": 720})
    tab.goto(url(server, model="grammar-lstm", text=SPAIN, target="spanish", present=1, units="4"))
    wait_ready(tab)
    tab.locator("#diagram .detail-toggle").get_by_role("button", name="research").click()
    assert state(tab)["detail"] == "research"
    assert "detail=research" in tab.url
    assert tab.evaluate(LEVEL) == "research"
    assert tab.evaluate(MARKS)["grids"] == 11
    check_stage(tab, 1280, 720, "detail-research-present", artifacts)
    tab.reload()
    wait_ready(tab)
    assert tab.evaluate(LEVEL) == "research"
    assert tab.locator("#diagram .detail-toggle [data-level='research']").get_attribute("aria-pressed") == "true"
    tab.locator("#diagram .detail-toggle").get_by_role("button", name="lecture").click()
    assert "detail=lecture" in tab.url and tab.evaluate(LEVEL) == "lecture"


@pytest.mark.parametrize(("w", "h"), [(960, 540), (640, 360)])
def test_the_lecture_level_reads_in_an_embed(tab: Any, server: str, artifacts: Path, w: int, h: int) -> None:
    tab.set_viewport_size({"width": w, "height": h})
    tab.goto(url(server, "/embed", scene="long-context"))
    wait_ready(tab, timeout=20_000)
    assert tab.evaluate(LEVEL) == "lecture"
    m = check_stage(tab, w, h, "detail-lecture-embed", artifacts)
    assert min(t["px"] for t in m["texts"]) >= max(11, min_text_px(w, h)) - 0.01


def test_clicking_a_wire_zooms_into_all_its_units(tab: Any, server: str, artifacts: Path) -> None:
    tab.set_viewport_size({"width": 1280, "height": 720})
    tab.goto(url(server, model="grammar-lstm", text=SPAIN, target="spanish", present=1, units="4"))
    wait_ready(tab)
    hidden = trace(tab)["model"]["hidden_size"]
    # The cell-state belt, right of the + (the wire carries c_t).
    belt = tab.locator("#diagram .wire-hit[data-q='cell']").first.bounding_box()
    tab.mouse.click(belt["x"] + belt["width"] * 0.75, belt["y"] + belt["height"] / 2)
    zoom = tab.locator("#diagram .zoom")
    assert zoom.get_attribute("data-q") == "cell"
    assert zoom.locator(".strip-canvas").get_attribute("data-units") == str(hidden)
    assert zoom.locator(".big").count() == 1  # the selected unit's number, above its grid
    sizes = tab.evaluate(
        """() => [...document.querySelectorAll('#diagram .zoom text')].filter((t) => t.textContent.trim())
             .map((t) => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)"""
    )
    assert min(sizes) >= 14 - 0.01, sizes
    tab.screenshot(path=artifacts / "detail-zoom-cell-1280x720.png")
    # A unit of the zoomed wire selects it; Esc goes back to the cell.
    canvas = zoom.locator(".strip-canvas").bounding_box()
    cols = int(zoom.locator(".strip-canvas").get_attribute("data-cols"))
    rows = int(zoom.locator(".strip-canvas").get_attribute("data-rows"))
    tab.mouse.click(canvas["x"] + 0.5 * canvas["width"] / cols, canvas["y"] + 0.5 * canvas["height"] / rows)
    assert state(tab)["units"] == [0]
    tab.keyboard.press("Escape")
    assert tab.locator("#diagram .zoom").count() == 0
    assert state(tab)["present"] is True  # Esc closed the zoom, not presenter mode
    # At the lecture level a wire's number zooms too: the forget gate's.
    tab.locator("#diagram .strip[data-q='forget'] .big").click()
    assert tab.locator("#diagram .zoom").get_attribute("data-q") == "forget"
    tab.locator("#diagram .zoom-close").click()
    assert tab.locator("#diagram .zoom").count() == 0


def test_the_zoom_is_kept_in_the_url(tab: Any, server: str, artifacts: Path) -> None:
    # A wire zoomed into is in the link (`zoom=`): a reload, or the same link in an embed, reopens it.
    tab.set_viewport_size({"width": 1280, "height": 720})
    tab.goto(url(server, model="grammar-lstm", text=SPAIN, target="spanish", present=1, units="4"))
    wait_ready(tab)
    assert state(tab)["zoom"] == ""
    tab.locator("#diagram .strip[data-q='forget'] .big").click()
    assert state(tab)["zoom"] == "forget"
    assert "zoom=forget" in tab.url
    tab.reload()
    wait_ready(tab)
    assert tab.locator("#diagram .zoom").get_attribute("data-q") == "forget"
    tab.keyboard.press("Escape")
    assert tab.locator("#diagram .zoom").count() == 0
    assert state(tab)["zoom"] == "" and "zoom=" not in tab.url
    # Set from outside (a host page's setState), and opened in a 960×540 embed from its link.
    tab.evaluate("() => window.lstmExplainer.setState({ zoom: 'cell' })")
    assert tab.locator("#diagram .zoom").get_attribute("data-q") == "cell"
    tab.set_viewport_size({"width": 960, "height": 540})
    tab.goto(url(server, "/embed", model="grammar-lstm", text=SPAIN, target="spanish", units="4", zoom="cell"))
    wait_ready(tab)
    assert tab.locator("#diagram .zoom").get_attribute("data-q") == "cell"
    tab.screenshot(path=artifacts / "detail-zoom-url-embed-960x540.png")
    # A wire the diagram does not have (an LSTM's link on a GRU) opens nothing.
    tab.goto(url(server, "/embed", model="lecture-gru", zoom="tanh_cell"))
    wait_ready(tab)
    assert tab.locator("#diagram .zoom").count() == 0


def test_compare_in_a_960_embed_keeps_each_diagram_readable(tab: Any, server: str, artifacts: Path) -> None:
    w, h = 960, 540
    tab.set_viewport_size({"width": w, "height": h})
    tab.goto(url(server, "/embed", model="grammar-lstm", compare="grammar-rnn", text=SPAIN, target="spanish"))
    wait_ready(tab)
    wait_compare(tab)
    limit = min_text_px(w, h)
    tabs = tab.locator(".compare-tabs")
    assert tabs.is_visible()
    assert tab.locator("#compare-diagram").is_hidden()
    assert check_figure(tab, "#diagram", w, h) >= limit - 0.01
    width = tab.evaluate("() => document.querySelector('#diagram svg').getBoundingClientRect().width")
    assert width > 0.5 * w, width  # not squashed beside or under the other one
    tab.screenshot(path=artifacts / "detail-compare-embed-main-960x540.png")
    tabs.get_by_role("button", name="grammar-rnn").click()
    tab.wait_for_timeout(200)  # the diagram's text is fitted in a ResizeObserver callback
    assert tab.locator("#diagram").is_hidden()
    assert check_figure(tab, "#compare-diagram", w, h) >= limit - 0.01
    # The predictions of the two side by side: one row, two columns.
    cols = tab.evaluate(
        "() => [...document.querySelectorAll('#compare .compare-col')].map((c) => c.getBoundingClientRect().toJSON())"
    )
    assert len(cols) == 2 and abs(cols[0]["top"] - cols[1]["top"]) < 1 and cols[1]["left"] > cols[0]["right"], cols
    tab.screenshot(path=artifacts / "detail-compare-embed-other-960x540.png")
