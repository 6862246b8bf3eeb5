"""The exported page (`lstm-explainer export`) opened from disk in Chromium with every network request
blocked: it must render, step, hover, plot, show its exported clamp and page through a scene, asking for
nothing but itself. Screenshots land in tests/e2e/artifacts/export-*.png."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.api.tracer import dumps
from app.export import export_page
from app.nn import load_zoo, trace_document

from .conftest import PageErrors, state, trace, wait_plots, wait_ready

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
    context = chromium.new_context(viewport={"width": 1500, "height": 1000}, reduced_motion="reduce")
    requested: list[str] = []

    def route(r: Any) -> None:
        requested.append(r.request.url)
        if r.request.url.startswith(LOCAL):
            r.continue_()
        else:
            r.abort()

    context.route("**/*", route)
    pg = context.new_page()
    errors = PageErrors()
    pg.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    pg.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("websocket", lambda ws: requested.append(ws.url))
    pg.requested = requested
    yield pg
    context.close()
    assert not errors, "\n".join(errors)
    assert requested, "the route saw no request at all"
    assert all(u.startswith(LOCAL) for u in requested), [u for u in requested if not u.startswith(LOCAL)]


# The trace on screen is the state's (a page may keep the previous page's text: then no new trace is sent).
SHOWS_STATE = """() => {
  const s = window.lstmExplainer.getState(), t = window.lstmExplainer.getTrace();
  return document.body.dataset.ready === '1' && !document.body.dataset.error && t !== null && t.done &&
    t.model.id === s.model && t.tokens.map((x) => x.text).join(' ') === s.text.toLowerCase();
}"""


def title(tab: Any) -> str:
    return tab.locator(".diagram-title").text_content() or ""


def test_the_export_works_from_disk_without_network(offline_tab: Any, exported: Path, artifacts: Path) -> None:
    tab = offline_tab
    tab.goto(exported.as_uri())
    first = wait_ready(tab)

    # It says what it is and what needs the server; the inputs are read-only.
    banner = tab.locator("#offline-banner")
    assert banner.is_visible()
    assert "Offline copy" in banner.inner_text() and "lstm-explainer serve" in banner.inner_text()
    assert tab.locator("#text-input").input_value() == SPAIN
    assert tab.locator("#text-input").get_attribute("readonly") is not None
    assert tab.locator("#model-select").is_disabled()
    # No link leads to a server page that is not there (the scene bar's title is inert).
    assert tab.locator("a[href^='/']:visible:not(.scene-title)").count() == 0

    # The diagram of the exported trace, with its clamp.
    doc = trace(tab)
    assert doc["model"]["id"] == "lecture-lstm" and len(doc["tokens"]) == 16
    # ... number for number the document the server sends (the page stores its floats in binary).
    model = load_zoo().models["lecture-lstm"]
    sent = json.loads(dumps(trace_document(model, SPAIN, "spanish", [CLAMP], True)))
    assert doc["gradients"] == sent["gradients"] and doc["tokens"] == sent["tokens"]
    for got, want in zip(doc["steps"], sent["steps"], strict=True):
        assert got == {k: want[k] for k in ("layers", "top", "expected", "loss")}
    assert "step 16 of 16" in title(tab)
    assert tab.locator(".gate-box[data-gate='forget'].clamped").count() == 1
    assert tab.locator(".clamp-chip").count() == 1
    assert "without the clamp" in tab.locator("#predictions .pred-headline").inner_text()

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
    tab.locator(".ctl-prev").click()
    assert "step 15 of 16" in title(tab)
    assert len({at_end, at_two, cell.text_content()}) > 1

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

    # The banner's button switches to the untouched network (exported too) and back.
    tab.locator(".ctl-end").click()
    toggle = tab.locator("#offline-clamps")
    assert toggle.get_attribute("aria-pressed") == "true"
    clamped_p = doc["target"]
    toggle.click()
    second = wait_ready(tab, first)
    assert toggle.get_attribute("aria-pressed") == "false"
    assert state(tab)["clamps"] == [] and tab.locator(".clamp-chip").count() == 0
    assert trace(tab)["steps"][-1]["expected"] != doc["steps"][-1]["expected"]
    assert tab.locator("#predictions .pred-list li").first.locator(".tok").inner_text() == "spanish"
    toggle.click()
    wait_ready(tab, second)
    assert tab.locator(".clamp-chip").count() == 1 and trace(tab)["target"] == clamped_p

    # The diagram downloads as SVG and PNG from the file too.
    for kind in ("svg", "png"):
        with tab.expect_download() as got:
            tab.locator(f"#download-{kind}").click()
        assert got.value.suggested_filename.endswith(f".{kind}")
        assert Path(got.value.path()).stat().st_size > 1000

    # The continuation panel shows the exported continuation.
    tab.locator("details[data-panel='continuation'] > summary").click()
    written = tab.evaluate(
        "JSON.parse(document.getElementById('app-config').textContent).offline.continuations[0].response.continuation"
    )
    assert written
    tab.wait_for_function("(w) => document.querySelector('#continuation').textContent.includes(w)", arg=written)
    assert "server" not in tab.locator("#continuation").inner_text()

    # A clamp that was not exported is refused in place, saying why.
    tab.evaluate("window.lstmExplainer.setState({clamps: [{gate: 'input', value: 1, layer: 0, units: null, "
                 "start: null, stop: null}]})")  # fmt: skip
    tab.wait_for_function("() => document.body.dataset.error === 'clamp_not_exported'")
    assert "lstm-explainer serve" in tab.locator("#clamps .field-error").inner_text()


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
