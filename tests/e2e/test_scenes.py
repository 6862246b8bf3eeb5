"""Scenes in a real browser: every scene plays through all its pages without a page error, the caption bar
follows, the keys page, loadScene() answers, the gallery lists every scene, and the gradient lab's curve
vanishes, explodes and is capped by clipping. Screenshots land in tests/e2e/artifacts/ — look at them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from app.scenes import SHIPPED_SCENES, load_scenes

from .conftest import state, trace

SCENES = load_scenes([SHIPPED_SCENES])
EXPLORER_SCENES = [name for name, s in SCENES.items() if s.kind == "explorer"]

# The page on screen is the one the state asks for: its trace (model, text, clamps) has painted, and the
# compared model's too when compare mode is on.
SHOWN = """(after = 0) => {
  const b = document.body.dataset;
  const api = window.lstmExplainer;
  if (b.ready !== '1' || b.error || Number(b.traceId || 0) <= after) return false;
  const s = api.getState();
  const t = api.getTrace();
  const squash = (x) => x.replace(/[\\s,;]+/g, '').toLowerCase(); // a forecaster's commas are no tokens
  if (!t || !t.done || t.model.id !== s.model) return false;
  if (squash(t.tokens.map((k) => k.text).join('')) !== squash(s.text)) return false;
  if (s.compare && api.getCompareTrace) {
    const c = api.getCompareTrace();
    if (!c || c.model.id !== s.compare) return false;
  }
  return true;
}"""


def wait_page(tab: Any, name: str, index: int, after: int = 0, timeout: float = 30_000) -> int:
    """Wait until page `index` is shown and traced (by a trace newer than `after`); the trace id."""
    tab.wait_for_function("(want) => document.body.dataset.scene === want", arg=f"{name}/{index}", timeout=timeout)
    tab.wait_for_function(SHOWN, arg=after, timeout=timeout)
    return trace_id(tab)


def trace_id(tab: Any) -> int:
    return int(tab.evaluate("() => Number(document.body.dataset.traceId || 0)"))


TRACED = ("model", "text", "target", "clamps")  # compare mode alone re-traces only the second model


def retraces(a: dict[str, Any] | None, b: dict[str, Any]) -> bool:
    """Whether going from page state `a` to `b` needs a new trace."""
    return a is None or any(a.get(k) != b.get(k) for k in TRACED)


def expect_404(tab: Any) -> None:
    """Chromium logs the 404 of an unknown scene's fetch as a console error: that one is expected."""
    tab.errors[:] = [e for e in tab.errors if "status of 404" not in e]


def caption(tab: Any) -> str:
    return tab.locator("#scene-bar .scene-caption").inner_text()


@pytest.mark.parametrize("name", EXPLORER_SCENES)
def test_every_scene_plays_through_all_its_pages(tab: Any, server: str, artifacts: Path, name: str) -> None:
    scene = SCENES[name]
    n = len(scene.states)
    tab.goto(f"{server}/?scene={name}&page=0")
    captions = []
    last, previous = 0, None
    for i, page in enumerate(scene.states):
        if i:
            tab.keyboard.press("n" if i % 2 else "PageDown")
        last = wait_page(tab, name, i, after=last if retraces(previous, page.state) else 0)
        previous = page.state
        bar = tab.locator("#scene-bar")
        assert bar.is_visible()
        assert bar.locator(".scene-title").inner_text() == scene.title
        assert bar.locator(".scene-position").inner_text() == f"{i + 1} / {n}"
        assert caption(tab) == page.caption
        captions.append(caption(tab))
        s = state(tab)
        assert (s["scene"], s["page"]) == (name, i)
        # Fields the page names are set; the others are back at their defaults (nothing leaks).
        for key, value in page.state.items():
            assert s[key] == value, (name, i, key)
        assert s["clamps"] == page.state.get("clamps", [])
        assert s["compare"] == page.state.get("compare", "")
        assert s["units"] == page.state.get("units", s["units"])
        # A claim about the page's own model is visible in its predictions panel (a classifier's: its verdict).
        classifier = trace(tab)["model"].get("task_kind") == "classifier"
        for claim in page.expectations():
            if claim.top and claim.model == s["model"] and "predictions" in s["panels"]:
                top = tab.locator(".pred-list li").first.locator(".tok")
                shown = tab.locator(".kind-verdict") if classifier else top
                assert shown.first.inner_text() == claim.top
        tab.screenshot(path=artifacts / f"scene-{name}-{i + 1}.png")
    assert len(set(captions)) == n
    assert tab.locator("#scene-bar .scene-next").is_disabled()
    # Back with the other keys; ← and → still step through the tokens, not the pages.
    tab.keyboard.press("PageUp")
    wait_page(tab, name, n - 2)
    tab.keyboard.press("p")
    if n > 2:
        wait_page(tab, name, n - 3)
    before = state(tab)
    tab.keyboard.press("Home")
    tab.keyboard.press("ArrowRight")
    after = state(tab)
    assert after["page"] == before["page"] and after["step"] == 1


def test_buttons_links_and_leaving_a_scene(tab: Any, server: str, artifacts: Path) -> None:
    tab.goto(f"{server}/?scene=long-context&page=4")
    wait_page(tab, "long-context", 4)
    assert tab.locator("#clamps").is_visible()
    assert state(tab)["step"] == 8 and len(state(tab)["clamps"]) == 1
    tab.screenshot(path=artifacts / "scene-long-context-clamp.png", full_page=True)
    tab.locator("#scene-bar .scene-prev").click()
    wait_page(tab, "long-context", 3)
    assert "scene=long-context" in tab.url and "page=3" in tab.url
    # A reload of the link shows the same page.
    tab.reload()
    wait_page(tab, "long-context", 3)
    tab.locator("#scene-bar .scene-close").click()
    tab.wait_for_function("() => document.getElementById('scene-bar').hidden")
    assert state(tab)["scene"] == ""


def test_load_scene_hook(tab: Any, server: str) -> None:
    tab.goto(server)
    tab.wait_for_function(SHOWN, arg=0)
    applied = tab.evaluate("() => window.lstmExplainer.loadScene('agreement', 2)")
    assert (applied["scene"], applied["page"], applied["target"]) == ("agreement", 2, "was")
    wait_page(tab, "agreement", 2)
    applied = tab.evaluate("() => window.lstmExplainer.loadScene('gender')")
    assert applied["page"] == 0
    wait_page(tab, "gender", 0)
    unknown = tab.evaluate("() => window.lstmExplainer.loadScene('no-such-scene').then(() => 'ok', (e) => e.message)")
    assert unknown.startswith("unknown scene")
    expect_404(tab)
    bad = tab.evaluate("() => window.lstmExplainer.loadScene('gender', 9).then(() => 'ok', (e) => e.message)")
    assert re.match(r"scene .gender. has 4 states", bad)
    assert state(tab)["scene"] == "gender"  # a refused call changes nothing
    # setState with a page turns the page too (the embed's postMessage setState goes this way).
    tab.evaluate("() => window.lstmExplainer.setState({page: 3})")
    wait_page(tab, "gender", 3)


def test_an_unknown_scene_in_a_link_is_said_in_the_bar(tab: Any, server: str) -> None:
    tab.goto(f"{server}/?scene=no-such-scene")
    tab.wait_for_function("() => document.querySelector('#scene-bar.scene-error') !== null")
    assert "unknown scene" in caption(tab)
    expect_404(tab)
    tab.wait_for_function(SHOWN, arg=0)  # the explorer still works


def test_a_scene_in_the_embed(tab: Any, server: str, artifacts: Path) -> None:
    tab.set_viewport_size({"width": 900, "height": 700})
    tab.goto(f"{server}/embed?scene=gender&page=1")
    wait_page(tab, "gender", 1)
    assert caption(tab) == SCENES["gender"].states[1].caption
    tab.locator("#scene-bar .scene-caption").click()  # an embed takes keys once clicked
    tab.keyboard.press("n")
    wait_page(tab, "gender", 2)
    tab.screenshot(path=artifacts / "scene-embed-gender.png")


def test_the_gallery_lists_every_scene(tab: Any, server: str, artifacts: Path) -> None:
    tab.goto(f"{server}/scenes")
    cards = tab.locator(".scene-card")
    assert cards.count() == len(SCENES)
    rows = tab.evaluate("() => fetch('/api/scenes').then((r) => r.json())")
    for row, card in zip(rows, cards.all(), strict=True):
        assert card.get_attribute("data-scene") == row["name"]
        assert card.locator("h2").inner_text() == row["title"]
        assert f"{row['count']} steps" in card.locator(".scene-count").inner_text()
        href = card.locator("a.primary-link").get_attribute("href")
        assert href == (f"/lab?scene={row['name']}" if row["kind"] == "lab" else f"/?scene={row['name']}")
        assert "scene=" + row["name"] in card.locator(".scene-embed-url input").input_value()
    tab.screenshot(path=artifacts / "scene-gallery.png", full_page=True)
    tab.locator(".scene-card[data-scene='short-context'] a.primary-link").click()
    wait_page(tab, "short-context", 0)


def lab_final(tab: Any) -> tuple[float, str, float]:
    """The curve's end as the readout says it, its verdict, and the last y plotly drew."""
    tab.wait_for_function("() => document.body.dataset.plotsReady === '1'")
    final = float(tab.locator("#diagram").get_attribute("data-final") or "nan")
    verdict = tab.locator("#diagram").get_attribute("data-verdict") or ""
    drawn = tab.evaluate("() => { const d = document.getElementById('lab-plot').data; const y = d[d.length - 1].y;"
                         " return y[y.length - 1]; }")  # fmt: skip
    return final, verdict, drawn


def test_the_lab_slider_changes_the_curve(tab: Any, server: str, artifacts: Path) -> None:
    tab.goto(f"{server}/lab?scene=vanishing-lab")
    tab.wait_for_function("() => !document.getElementById('scene-bar').hidden")
    assert "/ 5" in tab.locator("#scene-bar .scene-position").inner_text()
    final, verdict, drawn = lab_final(tab)
    assert verdict == "vanishes" and final < 1e-2 and drawn == pytest.approx(final)  # 0.9^50
    tab.screenshot(path=artifacts / "lab-vanishes.png")

    tab.locator("#lab-w").fill("1.2")
    final, verdict, drawn = lab_final(tab)
    assert verdict == "explodes" and final > 1e3 and drawn == pytest.approx(final)
    assert "w=1.2" in tab.url

    tab.locator("#lab-clip").check()
    tab.locator("#lab-threshold").fill("5")
    tab.locator("#lab-threshold").press("Enter")
    tab.wait_for_function("() => window.lstmExplainer.getState().threshold === 5")
    _, verdict, drawn = lab_final(tab)
    assert drawn == pytest.approx(5)  # clipping caps it
    assert "clipping caps it" in tab.locator("#lab-readout").inner_text()
    tab.screenshot(path=artifacts / "lab-clipped.png")

    # The slope of the nonlinearity pulls even a large W_rec back under 1.
    tab.locator("#lab-clip").uncheck()
    tab.locator("#lab-slope").fill("0.5")
    final, verdict, _ = lab_final(tab)
    assert verdict == "vanishes" and final < 1e-2

    # The scene's pages set the sliders, with the keys.
    tab.locator("#scene-bar .scene-caption").click()
    tab.keyboard.press("n")
    tab.wait_for_function("() => window.lstmExplainer.getState().page === 1")
    assert tab.locator("#lab-w").input_value() == "1.1" and not tab.locator("#lab-clip").is_checked()
    final, verdict, _ = lab_final(tab)
    assert verdict == "explodes"
    assert caption(tab) == SCENES["vanishing-lab"].states[1].caption
