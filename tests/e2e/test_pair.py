"""The minimal-pair view (static/js/features/pair.js) in Chromium: two sentences one word apart on one
model, one unit's h (solid) and c (dashed) for both on one chart, with the numbers of POST /api/trace for
each sentence; the link round-trips; it fits a 960×540 embed; and an exported file draws it from disk
with every network request blocked. Screenshots land in tests/e2e/artifacts/pair-*.png."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from app.api.tracer import dumps
from app.export import export_page
from app.nn import load_zoo, trace_document

from .conftest import offline_page, state
from .test_colors import CVD, delta_e, lab

SPAIN = (
    "I have been staying in Spain for the last 10 years and I enjoyed the food there although the weather was"
    " often cold. I can speak fluent"
)
FRANCE = SPAIN.replace("Spain", "France")
LOCAL = ("file:", "data:", "blob:")

# What the chart draws: plotly's own copy of each trace's data.
CHART = """() => Array.from(document.querySelector('#pair .pair-plot').data, (d) => ({
  meta: d.meta, x: Array.from(d.x), y: Array.from(d.y), dash: d.line?.dash ?? null, colour: d.line?.color ?? null,
}))"""
PAIR_READY = "() => document.body.dataset.pairReady === '1' && document.querySelector('#pair .pair-plot')?.data"


def link(path: str = "/", **fields: str) -> str:
    return f"{path}?{urllib.parse.urlencode(fields)}"


def memory(doc: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
    """(T, H) hidden states and cell states (None for a GRU) of layer 0."""
    h = np.array([s["layers"][0]["hidden"] for s in doc["steps"]])
    c = doc["steps"][0]["layers"][0].get("cell")
    return h, (np.array([s["layers"][0]["cell"] for s in doc["steps"]]) if c is not None else None)


def check_chart(chart: list[dict[str, Any]], doc_a: dict[str, Any], doc_b: dict[str, Any], unit: int) -> None:
    """Every line and bar on the chart is the server's number for its sentence, unit and step."""
    (ha, ca), (hb, cb) = memory(doc_a), memory(doc_b)
    lines = {d["meta"]: d for d in chart}
    for side, h, c in (("a", ha, ca), ("b", hb, cb)):
        np.testing.assert_allclose(lines[f"{side}.hidden"]["y"], h[:, unit], rtol=1e-6, atol=1e-6, err_msg=f"{side} h")
        assert lines[f"{side}.hidden"]["dash"] == "solid"
        if c is None:
            assert f"{side}.cell" not in lines  # a GRU has no separate cell
        else:
            np.testing.assert_allclose(
                lines[f"{side}.cell"]["y"], c[:, unit], rtol=1e-6, atol=1e-6, err_msg=f"{side} c"
            )
            assert lines[f"{side}.cell"]["dash"] == "dash"
            assert lines[f"{side}.cell"]["colour"] == lines[f"{side}.hidden"]["colour"]  # colour = the sentence
    assert lines["a.hidden"]["colour"] != lines["b.hidden"]["colour"]
    mem_a, mem_b = (ca, cb) if ca is not None else (ha, hb)
    np.testing.assert_allclose(lines["difference"]["y"], mem_a[:, unit] - mem_b[:, unit], rtol=1e-6, atol=2e-6)


def best_unit(doc_a: dict[str, Any], doc_b: dict[str, Any], cue: int) -> int:
    (ha, ca), (hb, cb) = memory(doc_a), memory(doc_b)
    a, b = (ca, cb) if ca is not None else (ha, hb)
    return int(np.abs(a[cue:] - b[cue:]).max(axis=0).argmax())


def server_trace(server: str, model: str, text: str) -> dict[str, Any]:
    r = httpx.post(f"{server}/api/trace", json={"model": model, "text": text, "target": "spanish", "gradients": False})
    r.raise_for_status()
    return r.json()


def inside(tab: Any, selector: str) -> dict[str, float]:
    box = tab.evaluate(
        "(s) => { const r = document.querySelector(s).getBoundingClientRect();"
        " return {top: r.top, bottom: r.bottom, right: r.right, h: r.height, w: r.width, iw: innerWidth,"
        " ih: innerHeight, sw: document.documentElement.scrollWidth}; }",
        selector,
    )
    assert box["top"] >= 0 and box["bottom"] <= box["ih"] and box["right"] <= box["iw"], (selector, box)
    return box


@pytest.mark.parametrize("model", ["lecture-gru", "lecture-lstm"])
def test_the_pair_draws_both_sentences_with_the_servers_numbers(
    tab: Any, server: str, artifacts: Path, model: str
) -> None:
    tab.set_viewport_size({"width": 1280, "height": 720})
    tab.goto(server + link(model=model, text=SPAIN, target="spanish", pair=FRANCE, panels="predictions,pair"))
    tab.wait_for_function(PAIR_READY, timeout=30_000)
    doc_a, doc_b = server_trace(server, model, SPAIN), server_trace(server, model, FRANCE)
    unit = best_unit(doc_a, doc_b, 5)
    assert tab.locator("#pair .pair-unit").input_value() == str(unit)  # the default: the unit that separates most
    assert tab.locator("#pair .pair-best").inner_text() == f"best: {unit}"
    assert f"unit {unit}" in tab.locator("#pair .pair-title").inner_text()
    check_chart(tab.evaluate(CHART), doc_a, doc_b, unit)
    ticks = tab.evaluate("() => document.querySelector('#pair .pair-plot').layout.xaxis.ticktext")
    assert "spain/france" in ticks and len(ticks) == 28  # every token labelled, the swapped one with both words
    # The chart is the stage: on the first screen at 1280×720, in the diagram's place.
    box = inside(tab, "#pair .pair-plot")
    assert box["h"] >= 220 and box["sw"] <= box["iw"], box
    assert not tab.locator("#diagram").is_visible()
    preds = tab.locator("#pair .pair-preds").inner_text()
    if model == "lecture-gru":  # the scene's numbers: each sentence gets its own language
        assert "spanish 96%" in preds and "french 92%" in preds, preds
        note = tab.locator("#pair .pair-note").inner_text()
        assert "jumps most at “spain” / “france” (step 6): 0.00 → 1.98" in note, note
    tab.screenshot(path=artifacts / f"pair-{model}-1280x720.png")
    # Stepping moves the chart's cursor with the diagram's step.
    tab.locator("body").press("Home")
    tab.wait_for_function("() => document.querySelector('#pair .pair-plot').layout.shapes[0].x0 === 1")


def test_the_pair_round_trips_through_the_url(tab: Any, server: str) -> None:
    tab.set_viewport_size({"width": 1280, "height": 720})
    tab.goto(server + link(model="lecture-gru", text=SPAIN, target="spanish"))
    tab.wait_for_function("() => document.body.dataset.ready === '1'")
    tab.locator("#pair-button").click()  # opens with a copy of the sentence to change a word of
    tab.wait_for_function("() => document.body.dataset.pairReady === '1'")
    assert state(tab)["pair"] == SPAIN and "read as the same tokens" in tab.locator("#pair .pair-note").inner_text()
    tab.locator("#pair .pair-input").fill(FRANCE)
    tab.wait_for_function(
        "(b) => window.lstmExplainer.getState().pair === b && document.body.dataset.pairReady === '1' &&"
        " document.querySelector('#pair .pair-plot').data",
        arg=FRANCE,
    )
    tab.locator("#pair .pair-unit").fill("3")
    tab.locator("#pair .pair-unit").press("Enter")
    tab.wait_for_function("() => window.lstmExplainer.getState().pairunit === 3")
    query = urllib.parse.parse_qs(urllib.parse.urlparse(tab.url).query)
    assert query["pair"] == [FRANCE] and query["pairunit"] == ["3"] and "pair" in query["panels"][0].split(",")
    tab.goto(tab.url)  # the link reopens the same picture
    tab.wait_for_function(PAIR_READY)
    assert state(tab)["pair"] == FRANCE and state(tab)["pairunit"] == 3
    assert tab.locator("#pair .pair-title").inner_text().startswith("unit 3")
    tab.locator("#pair .pair-best").click()
    tab.wait_for_function("() => window.lstmExplainer.getState().pairunit === -1")
    assert "pairunit" not in tab.url
    also = tab.locator("#pair .pair-also")  # the next units apart, a click each
    assert also.count() == 2
    runner = int(also.first.inner_text())
    also.first.click()
    tab.wait_for_function("(u) => window.lstmExplainer.getState().pairunit === u", arg=runner)
    tab.locator("#pair .pair-best").click()
    tab.wait_for_function("() => window.lstmExplainer.getState().pairunit === -1")
    # The unit in the cell diagram at the word where the difference jumps ("spain", step 5).
    tab.locator("#pair .pair-diagram").click()
    tab.wait_for_function("() => !window.lstmExplainer.getState().panels.includes('pair')")
    assert state(tab)["units"] == [74] and state(tab)["step"] == 5
    assert tab.locator("#diagram").is_visible() and "pair=" in tab.url  # the second sentence stays in the link
    tab.locator("#pair-button").click()
    tab.wait_for_function(PAIR_READY)
    tab.locator("#pair .pair-close").click()
    tab.wait_for_function("() => !window.lstmExplainer.getState().panels.includes('pair')")


def test_the_pair_fits_a_960x540_embed(tab: Any, server: str, artifacts: Path) -> None:
    tab.set_viewport_size({"width": 960, "height": 540})
    tab.goto(server + link("/embed", model="lecture-gru", text=SPAIN, target="spanish", pair=FRANCE, panels="pair"))
    tab.wait_for_function(PAIR_READY, timeout=30_000)
    check_chart(
        tab.evaluate(CHART), server_trace(server, "lecture-gru", SPAIN), server_trace(server, "lecture-gru", FRANCE), 74
    )
    for selector in ("#pair .pair-plot", "#pair .pair-preds", "#controls"):
        inside(tab, selector)
    assert tab.evaluate("() => document.documentElement.scrollHeight <= innerHeight")
    assert not tab.locator("#pair .pair-input").is_visible()  # no text box unless show= asks for one
    assert not tab.locator("#pair .pair-close").is_visible()  # nor a way out of the slide
    tab.screenshot(path=artifacts / "pair-embed-960x540.png")


@pytest.fixture
def offline_tab(chromium: Any) -> Iterator[Any]:
    """A page whose every request that is not file:, data: or blob: is aborted and recorded."""
    with offline_page(chromium, LOCAL) as pg:
        yield pg


def test_an_exported_pair_scene_draws_from_disk(offline_tab: Any, tmp_path: Path, artifacts: Path) -> None:
    out = export_page(None, None, None, [], "minimal-pair", tmp_path / "pair.html", [])
    tab = offline_tab
    tab.goto(out.as_uri())
    tab.wait_for_function("() => document.body.dataset.scene === 'minimal-pair/0'")
    tab.wait_for_function(PAIR_READY, timeout=60_000)
    core = load_zoo().models["lecture-gru"]
    docs = [json.loads(dumps(trace_document(core, t, "spanish", [], False))) for t in (SPAIN, FRANCE)]
    check_chart(tab.evaluate(CHART), *docs, 74)
    assert "spanish 96%" in tab.locator("#pair .pair-preds").inner_text()
    # Projected: presenter mode gives the stage the screen (the banner and the caption stay above it).
    tab.evaluate("window.lstmExplainer.setState({present: true})")
    tab.wait_for_function("() => document.body.classList.contains('present')")
    tab.wait_for_timeout(300)  # the stage's height follows the chrome in the next frames
    inside(tab, "#pair .pair-plot")
    tab.screenshot(path=artifacts / "pair-export-1280x720.png")
    # The LSTM's page: the same pair on lecture-lstm (in the file too), its cell unit 59.
    for _ in range(3):
        tab.locator("body").press("PageDown")
    tab.wait_for_function("() => document.body.dataset.scene === 'minimal-pair/3'")
    tab.wait_for_function(
        "() => document.body.dataset.pairReady === '1' && window.lstmExplainer.getState().model === 'lecture-lstm'"
    )
    tab.wait_for_function("() => document.querySelector('#pair .pair-title')?.innerText.includes('unit 59')")
    assert "spanish 98%" in tab.locator("#pair .pair-preds").inner_text()
    tab.screenshot(path=artifacts / "pair-export-lstm-1280x720.png")
    # The John / Amanda page: the chart is drawn again to its new box, never over the predictions beside it.
    tab.locator("body").press("PageDown")
    tab.wait_for_function("() => document.body.dataset.scene === 'minimal-pair/4'")
    tab.wait_for_function(
        "() => document.body.dataset.pairReady === '1' && window.lstmExplainer.getState().pair.startsWith('Amanda')"
    )
    tab.wait_for_timeout(300)
    edges = tab.evaluate(
        "() => [document.querySelector('#pair .pair-plot .main-svg').getBoundingClientRect().right,"
        " document.querySelector('#pair .pair-preds').getBoundingClientRect().left]"
    )
    assert edges[0] <= edges[1], edges
    assert "unit 92" in tab.locator("#pair .pair-title").inner_text()
    tab.screenshot(path=artifacts / "pair-export-john-1280x720.png")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_two_sentences_colours_stay_apart_for_colour_blind_eyes(tab: Any, server: str, theme: str) -> None:
    tab.goto(server + link(model="lecture-gru", theme=theme, panels=""))
    tab.wait_for_function("() => document.body.dataset.ready === '1'")
    colours = tab.evaluate(
        "() => { const css = getComputedStyle(document.body);"
        " return ['--pair-a', '--pair-b', '--pair-diff', '--panel'].map((v) => css.getPropertyValue(v).trim()); }"
    )
    rgb = np.array([[int(c.lstrip("#")[k : k + 2], 16) for k in (0, 2, 4)] for c in colours])
    for cvd in CVD:
        a, b, diff, panel = lab(rgb, cvd)
        assert delta_e(a, b) > 20, f"the two sentences' colours look alike for {cvd} ({theme})"
        assert min(delta_e(a, diff), delta_e(b, diff)) > 10, f"a sentence looks like the difference bars ({cvd})"
        assert min(delta_e(a, panel), delta_e(b, panel)) > 30, f"a sentence's line fades into the panel ({cvd})"
