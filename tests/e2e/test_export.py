"""The exported page (`lstm-explainer export`) opened from disk in Chromium with every network request
blocked: it must render, step, hover, plot, show its exported clamp and page through a scene, asking for
nothing but itself. Screenshots land in tests/e2e/artifacts/export-*.png."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.api.tracer import dumps
from app.export import export_page
from app.nn import load_zoo, trace_document

from .conftest import offline_page, state, trace, wait_plots, wait_ready

SPAIN = "I have been staying in Spain for the last 10 years . I can speak fluent"
CLAMP = {"gate": "forget", "value": 0, "start": 8}
LOCAL = ("file:", "data:", "blob:")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "spain.html"
    return export_page("lecture-lstm", SPAIN, "spanish", [CLAMP], None, out, [])


@pytest.fixture(scope="module")
def exported_scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "long-context.html"
    return export_page("lecture-lstm", SPAIN, None, [], "long-context", out, [])


@pytest.fixture
def offline_tab(chromium: Any) -> Iterator[Any]:
    """A page whose every request that is not file:, data: or blob: is aborted and recorded."""
    with offline_page(chromium, LOCAL, 1500, 1000) as pg:
        yield pg


# The trace on screen is the state's (a page may keep the previous page's text: then no new trace is sent).
SHOWS_STATE = """() => {
  const s = window.lstmExplainer.getState(), t = window.lstmExplainer.getTrace();
  return document.body.dataset.ready === '1' && !document.body.dataset.error && t !== null && t.done &&
    t.model.id === s.model && t.tokens.map((x) => x.text).join(' ') === s.text.toLowerCase();
}"""


# The trace on screen is done and reads these tokens.
SHOWS_TEXT = """(tokens) => {
  const t = window.lstmExplainer.getTrace();
  return document.body.dataset.ready === '1' && t !== null && t.done &&
    JSON.stringify(t.tokens.map((x) => x.text)) === JSON.stringify(tokens);
}"""


def title(tab: Any) -> str:
    return tab.locator(".diagram-title").text_content() or ""


def close(got: Any, want: Any, where: str = "") -> None:
    """The page's document (the engine's, rounded to 7 digits) against the core's: equal but for a last
    digit rounded the other way (the two agree to ~1e-11 before rounding, docs/engine.md)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), (where, got, want)
        for k in want:
            close(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), (where, got, want)
        for k, (g, w) in enumerate(zip(got, want, strict=True)):
            close(g, w, f"{where}[{k}]")
    elif isinstance(want, float) and not isinstance(got, str):
        assert math.isclose(got, want, rel_tol=3e-7, abs_tol=1e-13), (where, got, want)
    else:
        assert got == want, (where, got, want)


def core(model_id: str, text: str, target: str | None, clamps: list[Any], gradients: bool = True) -> dict[str, Any]:
    return json.loads(dumps(trace_document(load_zoo().models[model_id], text, target, clamps, gradients)))


def page_doc(tab: Any) -> dict[str, Any]:
    doc = trace(tab)
    return {k: doc[k] for k in ("model", "tokens", "target", "steps", "gradients", "interventions", "notices")}


TYPED = "My sister has lived in Spain for years . She can speak fluent"


def test_the_export_works_from_disk_without_network(offline_tab: Any, exported: Path, artifacts: Path) -> None:
    tab = offline_tab
    tab.goto(exported.as_uri())
    first = wait_ready(tab)

    # It says what it is, what it carries and what needs the server; the inputs take new text.
    banner = tab.locator("#offline-banner")
    assert banner.is_visible()
    assert "Offline copy" in banner.inner_text() and "lstm-explainer serve" in banner.inner_text()
    assert "lecture-lstm" in banner.inner_text()
    assert tab.locator("#text-input").input_value() == SPAIN
    assert tab.locator("#text-input").get_attribute("readonly") is None
    # No link leads to a server page that is not there (the scene bar's title is inert).
    assert tab.locator("a[href^='/']:visible:not(.scene-title)").count() == 0

    # The diagram of the exported view, with its clamp, computed in the page: number for number the core's.
    doc = trace(tab)
    assert doc["model"]["id"] == "lecture-lstm" and len(doc["tokens"]) == 16
    close(page_doc(tab), core("lecture-lstm", SPAIN, "spanish", [CLAMP]))
    assert "step 16 of 16" in title(tab)
    assert tab.locator(".gate-box[data-gate='forget'].clamped").count() == 1
    assert tab.locator(".clamp-chip").count() == 1
    headline = "() => document.querySelector('#predictions .pred-headline')?.innerText.includes('without the clamp')"
    tab.wait_for_function(headline)

    # Stepping with the keyboard and the buttons changes the numbers.
    cell = tab.locator(".strip[data-q='cell'] .big-val").first
    at_end = cell.text_content()
    tab.locator("body").press("Home")
    assert "step 1 of 16" in title(tab)
    tab.keyboard.press("ArrowRight")
    assert "step 2 of 16" in title(tab) and state(tab)["step"] == 1
    at_two = cell.text_content()
    tab.locator(".ctl-next").click()
    assert "step 3 of 16" in title(tab)
    tab.locator(".ctl-end").click()
    assert "step 16 of 16" in title(tab) and cell.text_content() == at_end
    assert len({at_end, at_two}) > 1

    # Hover shows the filled-in equation.
    tab.hover(".strip[data-q='cell'] .big")
    eq = tab.locator(".tooltip .tt-eq").inner_text()
    assert re.match(r"c\[\d+\] = f·cₜ₋₁ \+ i·c̃ = ", eq), eq
    tab.mouse.move(5, 5)

    # plotly.js (inflated from the page itself) draws the gradients and memory panels.
    wait_plots(tab, first)
    assert tab.locator("#gradients .curve .plot .scatterlayer .trace").count() >= 1
    assert tab.locator("#memory .js-plotly-plot").count() >= 1
    tab.screenshot(path=artifacts / "export-clamped.png", full_page=True)

    # The banner's button switches to the untouched network and back.
    toggle = tab.locator("#offline-clamps")
    assert toggle.get_attribute("aria-pressed") == "true"
    toggle.click()
    second = wait_ready(tab, first)
    assert toggle.get_attribute("aria-pressed") == "false"
    assert state(tab)["clamps"] == [] and tab.locator(".clamp-chip").count() == 0
    assert tab.locator("#predictions .pred-list li").first.locator(".tok").inner_text() == "spanish"
    toggle.click()
    second = wait_ready(tab, second)
    assert tab.locator(".clamp-chip").count() == 1

    # Typing a sentence of one's own re-traces it in the page: the diagram, the predictions and the
    # gradients are the core's for that text.
    tab.evaluate("window.lstmExplainer.setState({clamps: []})")
    second = wait_ready(tab, second)
    tab.locator("#target-input").fill("")
    tab.locator("#text-input").fill(TYPED)
    want = core("lecture-lstm", TYPED, None, [])
    tab.wait_for_function(SHOWS_TEXT, arg=[tok["text"] for tok in want["tokens"]], timeout=30_000)
    third = wait_ready(tab, second)
    assert trace(tab)["gradients"] is not None
    close(page_doc(tab), want)
    assert f"step {len(trace(tab)['tokens'])} of" in title(tab)
    wait_plots(tab, third)
    assert tab.locator("#gradients .curve .plot .scatterlayer .trace").count() >= 1
    tab.screenshot(path=artifacts / "export-typed.png")

    # Typed on, key by key (each trace extends the last: the shared steps are not computed again), and
    # back: still the core's numbers for the text on screen, gradients included.
    tab.locator("#text-input").press("End")
    tab.keyboard.type(" spanish and french", delay=20)
    for _ in range(7):
        tab.keyboard.press("Backspace")
    edited = TYPED + " spanish and"
    want = core("lecture-lstm", edited, None, [])
    tab.wait_for_function(SHOWS_TEXT, arg=[tok["text"] for tok in want["tokens"]], timeout=30_000)
    third = wait_ready(tab, third)
    close(page_doc(tab), want)
    tab.locator("#target-input").fill("english")
    want = core("lecture-lstm", edited, "english", [])
    tab.wait_for_function("() => window.lstmExplainer.getTrace()?.target?.text === 'english'")
    third = wait_ready(tab, third)
    close(page_doc(tab), want)
    tab.locator("#target-input").fill("")
    tab.locator("#text-input").fill(TYPED)
    tab.wait_for_function(SHOWS_TEXT, arg=[tok["text"] for tok in core("lecture-lstm", TYPED, None, [])["tokens"]])
    third = wait_ready(tab, third)

    # A new clamp (never exported) is computed too.
    new_clamp = {"gate": "input", "value": 1, "layer": 0, "units": [3, 7], "start": 2, "stop": 6}
    tab.evaluate("(c) => window.lstmExplainer.setState({clamps: [c]})", new_clamp)
    fourth = wait_ready(tab, third)
    close(page_doc(tab), core("lecture-lstm", TYPED, None, [new_clamp]))
    assert tab.locator(".clamp-chip").count() == 1

    # The continuation panel writes the core's greedy continuation.
    tab.evaluate("window.lstmExplainer.setState({clamps: []})")
    wait_ready(tab, fourth)
    from app.api.tracer import continuation_for
    from app.nn.generate import default_length

    model = load_zoo().models["lecture-lstm"]
    written = continuation_for(model, TYPED, default_length(model))["continuation"]
    tab.locator("details[data-panel='continuation'] > summary").click()
    tab.wait_for_function("(w) => document.querySelector('#continuation').textContent.includes(w)", arg=written.strip())

    # The diagram downloads as SVG and PNG from the file too.
    for kind in ("svg", "png"):
        with tab.expect_download() as got:
            tab.locator(f"#download-{kind}").click()
        assert got.value.suggested_filename.endswith(f".{kind}")
        assert Path(got.value.path()).stat().st_size > 1000

    # A refused request is refused in place, with the server's words.
    tab.locator("#target-input").fill("two words")
    tab.wait_for_function("() => document.body.dataset.error === 'bad_target'")


def test_an_export_switches_between_the_models_it_carries(offline_tab: Any, tmp_path: Path, artifacts: Path) -> None:
    tab = offline_tab
    out = export_page("recall-lstm", "c31415=", "c", [], None, tmp_path / "recall.html", [],
                      models=["recall-lstm", "recall-gru", "recall-rnn"])  # fmt: skip
    tab.goto(out.as_uri())
    first = wait_ready(tab)
    options = tab.locator("#model-select option").evaluate_all("(os) => os.map((o) => o.value)")
    assert set(options) == {"recall-lstm", "recall-gru", "recall-rnn"}
    after = first
    for model in ("recall-gru", "recall-rnn", "recall-lstm"):
        tab.locator("#model-select").select_option(model)
        tab.wait_for_function("(m) => window.lstmExplainer.getTrace()?.model.id === m", arg=model)
        after = wait_ready(tab, after)
        s = state(tab)
        close(page_doc(tab), core(model, s["text"], s["target"] or None, []))
    # compare mode: the second model is traced in the page as well
    tab.evaluate("window.lstmExplainer.setState({compare: 'recall-rnn'})")
    tab.wait_for_function("() => document.body.dataset.compareReady === '1'")
    other = tab.evaluate("window.lstmExplainer.getCompareTrace()")
    s = state(tab)
    want = core("recall-rnn", s["text"], s["target"] or None, [])
    keys = ("model", "tokens", "steps", "gradients")
    close({k: other[k] for k in keys}, {k: want[k] for k in keys})
    tab.screenshot(path=artifacts / "export-compare.png")

    # A sampled continuation draws the server's tokens for the same seed (NumPy's generator, ported).
    from app.api.tracer import continuation_for
    from app.nn.generate import default_length, sampling_from_state

    tab.evaluate("window.lstmExplainer.setState({compare: '', sample: '0.9:0:7', panels: ['continuation']})")
    model = load_zoo().models["recall-lstm"]
    text = state(tab)["text"]
    written = continuation_for(model, text, default_length(model), sampling_from_state("0.9:0:7"))["continuation"]
    greedy = continuation_for(model, text, default_length(model))["continuation"]
    assert written != greedy
    tab.wait_for_function("(w) => document.querySelector('#continuation').textContent.includes(w)", arg=written)


def test_an_exported_scene_pages_through_its_states(offline_tab: Any, exported_scene: Path, artifacts: Path) -> None:
    tab = offline_tab
    tab.goto(exported_scene.as_uri())
    tab.wait_for_function("() => document.body.dataset.scene === 'long-context/0'")
    count = int(tab.locator(".scene-position").inner_text().split("/")[1])
    assert count >= 3
    captions = set()
    for page in range(count):
        if page:
            tab.locator("body").press("PageDown") if page % 2 else tab.locator(".scene-next").click()
            tab.wait_for_function("(p) => document.body.dataset.scene === `long-context/${p}`", arg=page)
        tab.wait_for_function(SHOWS_STATE)
        captions.add(tab.locator(".scene-caption").inner_text())
        assert tab.locator(".scene-position").inner_text() == f"{page + 1} / {count}"
        assert not tab.locator("#text-error").is_visible(), tab.locator("#text-error").inner_text()
        s = state(tab)
        if s["compare"]:
            tab.wait_for_function("() => document.body.dataset.compareReady")
        tab.screenshot(path=artifacts / f"export-scene-{page}.png")
    assert len(captions) == count
    tab.locator("body").press("PageUp")
    tab.wait_for_function("(p) => document.body.dataset.scene === `long-context/${p}`", arg=count - 2)


def test_an_exported_lab_scene_plots_and_pages(offline_tab: Any, tmp_path: Path, artifacts: Path) -> None:
    tab = offline_tab
    out = export_page("lecture-lstm", "", None, [], "vanishing-lab", tmp_path / "lab.html", [])
    tab.goto(out.as_uri())
    tab.wait_for_function("() => document.body.dataset.plotsReady === '1'")
    assert tab.locator("#offline-banner").is_visible()
    assert tab.locator("a[href^='/']:visible:not(.scene-title)").count() == 0
    assert tab.locator("#lab-plot .scatterlayer .trace").count() >= 1
    first = state(tab)
    assert first["scene"] == "vanishing-lab" and first["page"] == 0
    tab.locator("body").press("PageDown")
    tab.wait_for_function("() => window.lstmExplainer.getState().page === 1")
    assert state(tab)["w"] != first["w"]
    assert tab.locator(".scene-position").inner_text().startswith("2 / ")
    tab.screenshot(path=artifacts / "export-lab.png")
