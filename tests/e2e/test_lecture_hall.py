"""The lecture hall's small fixes in a real browser (issue 12): probability bars on an absolute scale,
every token (and so the cue word) on the gradient axes, the backward row inside its panel, one line style
per quantity, one Tab stop for the token strip, no sideways scroll on a phone, near-zero cells visible in
the dark theme, and an embedded scene that cannot be left mid-slide."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import trace, wait_plots, wait_ready
from .test_compare import SPAIN, wait_compare
from .test_explorer import url

BARS = """() => [...document.querySelectorAll(SEL)].map((li) => {
  const bar = li.querySelector('.bar').getBoundingClientRect();
  const fill = li.querySelector('.bar .fill').getBoundingClientRect();
  return { label: li.getAttribute('aria-label'), ratio: fill.width / bar.width, width: bar.width };
})"""


def bars(tab: Any, selector: str) -> list[dict[str, Any]]:
    return tab.evaluate(BARS.replace("SEL", repr(selector)))


def percent(label: str) -> float:
    return float(re.search(r": ([\d.]+)%", label).group(1)) / 100  # type: ignore[union-attr]


def test_probability_bars_are_on_an_absolute_scale(tab: Any, server: str, artifacts: Path) -> None:
    """The RNN's best guess, far from sure, draws a short bar beside the LSTM's confident one."""
    tab.set_viewport_size({"width": 1280, "height": 720})
    tab.goto(url(server, model="grammar-lstm", compare="grammar-rnn", text=SPAIN, target="spanish", panels=""))
    wait_ready(tab)
    wait_compare(tab)
    tab.wait_for_function("() => document.querySelectorAll('#compare .compare-col .pred-list li').length > 8")
    for side in ("main", "other"):
        rows = bars(tab, f"#compare .compare-col[data-side='{side}'] .pred-list li")
        assert rows
        for r in rows:
            assert r["width"] > 20, r  # a track to read the length against
            assert abs(r["ratio"] - percent(r["label"])) < 0.02, r
    top_rnn = bars(tab, "#compare .compare-col[data-side='other'] .pred-list li")[0]
    top_lstm = bars(tab, "#compare .compare-col[data-side='main'] .pred-list li")[0]
    assert top_lstm["ratio"] > 0.9 and top_rnn["ratio"] < top_lstm["ratio"] - 0.2, (top_lstm, top_rnn)
    tab.locator("#compare .compare-preds").screenshot(path=artifacts / "hall-bars.png")


TICKS = """(sel) => { const d = document.querySelector(sel); return d && d.layout ? d.layout.xaxis.ticktext : null; }"""
CHAIN = """() => {
  const fig = document.querySelector('#gradients .chain');
  const svg = fig.querySelector('.chain-svg');
  return { fig: fig.getBoundingClientRect().width, svg: svg.getBoundingClientRect().width,
           tokens: [...svg.querySelectorAll('.chain-tok')].map((t) => t.textContent) };
}"""


@pytest.mark.parametrize("width", [1280, 1600])
def test_the_gradient_axes_name_every_token(tab: Any, server: str, artifacts: Path, width: int) -> None:
    tab.set_viewport_size({"width": width, "height": 900})
    tab.goto(url(server, model="grammar-lstm", text=SPAIN, target="spanish", panels="gradients"))
    trace_id = wait_ready(tab)
    wait_plots(tab, trace_id)
    tokens = [t["text"] for t in trace(tab)["tokens"]]
    for sel in ("#gradients .curve .plot", "#gradients .triangle .plot"):
        ticks = tab.evaluate(TICKS, sel)
        assert ticks == tokens, (sel, ticks)
        assert "spain" in ticks
    chain = tab.evaluate(CHAIN)
    assert chain["tokens"] == tokens  # written whole ("staying", not "stayi")
    assert chain["svg"] <= chain["fig"] + 0.5, chain  # the backward row fits its panel
    tab.locator("#gradients").screenshot(path=artifacts / f"hall-gradients-{width}.png")


LINES = """(sel) => { const d = document.querySelector(sel); if (!d || !d.data) return null;
  return d.data.map((t) => ({ name: t.name, dash: t.line.dash || 'solid', color: t.line.color })); }"""


def test_one_line_style_per_quantity(tab: Any, server: str) -> None:
    """Solid is h and dashed is c in every chart; the colour is the model."""
    tab.goto(url(server, model="grammar-lstm", compare="grammar-rnn", text=SPAIN, target="spanish", panels="gradients"))
    trace_id = wait_ready(tab)
    wait_compare(tab)
    wait_plots(tab, trace_id)
    tab.wait_for_function("() => document.querySelector('#compare .compare-curve .plot')?.data?.length === 2")
    styles = tab.evaluate(LINES, "#gradients .curve .plot") + tab.evaluate(LINES, "#compare .compare-curve .plot")
    for s in styles:
        want = "dash" if "∂c" in s["name"] else "solid"
        assert s["dash"] == want, s
    colours = {s["color"] for s in tab.evaluate(LINES, "#gradients .curve .plot")}
    assert len(colours) == 1  # one model, one colour
    note = tab.locator("#gradients .chain-note").inner_text()
    assert "‖∂L/∂h‖" in note  # each "how much survives" number says what it measures
    assert "‖∂L/∂c‖" in tab.locator("#compare .compare-curve-note").inner_text()


def test_the_token_strip_is_one_tab_stop(tab: Any, server: str) -> None:
    tab.goto(url(server, model="grammar-lstm", text=SPAIN, target="spanish", step=5))
    wait_ready(tab)
    tab.locator("#text-input").focus()
    presses = 0
    while presses < 8:
        tab.keyboard.press("Tab")
        presses += 1
        if tab.evaluate("() => document.activeElement.classList.contains('ctl-play')"):
            break
    assert presses <= 6, "Tab from the text box reaches the play button in a few presses"
    # Back into the strip: one stop, the current token, and the arrows move along it with the step.
    tab.keyboard.press("Shift+Tab")
    while not tab.evaluate("() => document.activeElement.classList.contains('chip')"):
        tab.keyboard.press("Shift+Tab")
    assert tab.evaluate("() => document.activeElement.dataset.t") == "5"
    assert tab.locator(".chip[tabindex='0']").count() == 1
    tab.keyboard.press("ArrowRight")
    tab.wait_for_function("() => document.activeElement.dataset.t === '6'")
    assert tab.evaluate("() => window.lstmExplainer.getState().step") == 6


def test_no_sideways_scroll_on_a_phone(tab: Any, server: str, artifacts: Path) -> None:
    tab.set_viewport_size({"width": 390, "height": 844})
    tab.goto(
        url(
            server,
            model="grammar-lstm",
            text=SPAIN,
            target="spanish",
            panels="predictions,clamps,memory,gradients,unrolled,continuation",
        )
    )
    trace_id = wait_ready(tab)
    wait_plots(tab, trace_id)
    widths = tab.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], widths
    tab.screenshot(path=artifacts / "hall-phone-390.png", full_page=True)


def test_near_zero_cells_are_visible_in_the_dark_theme(tab: Any, server: str) -> None:
    tab.goto(url(server, model="grammar-lstm", text=SPAIN, theme="dark"))
    wait_ready(tab)
    ratio = tab.evaluate(
        """async () => {
          const m = await import('/static/js/colors.js');
          const zero = m.scales('dark').cell.rgb(0);
          const hex = getComputedStyle(document.body).getPropertyValue('--strip-bg').trim().slice(1);
          const bg = [0, 2, 4].map((k) => parseInt(hex.slice(k, k + 2), 16));
          const [a, b] = [m.luminance(zero), m.luminance(bg)].sort((x, y) => y - x);
          return (a + 0.05) / (b + 0.05);
        }"""
    )
    assert ratio > 1.5, f"a zero cell against the strip's background: contrast {ratio:.2f}"


def test_an_embedded_scene_cannot_be_left_unless_the_link_allows_it(tab: Any, server: str) -> None:
    tab.set_viewport_size({"width": 960, "height": 540})
    tab.goto(f"{server}/embed?scene=long-context&page=1")
    wait_ready(tab)
    assert not tab.locator("#scene-bar").is_hidden()
    assert not tab.locator(".scene-close").is_visible()
    tab.goto(f"{server}/embed?scene=long-context&page=1&show=scene,exit,tokens,controls")
    wait_ready(tab)
    assert tab.locator(".scene-close").is_visible()
    # The explorer page keeps its ×.
    tab.goto(f"{server}/?scene=long-context&page=1")
    wait_ready(tab)
    assert tab.locator(".scene-close").is_visible()


def test_which_units_wrote_here_finds_the_write_moment(tab: Any, server: str, artifacts: Path) -> None:
    """At "spain" the button selects the units whose cell state moved most there, largest first."""
    tab.set_viewport_size({"width": 1280, "height": 720})
    tokens_text = SPAIN.lower().split()
    spain = tokens_text.index("spain")
    tab.goto(url(server, model="grammar-lstm", text=SPAIN, target="spanish", step=spain))
    wait_ready(tab)
    doc = trace(tab)
    assert doc["tokens"][spain]["text"] == "spain"
    now = doc["steps"][spain]["layers"][0]["cell"]
    before = doc["steps"][spain - 1]["layers"][0]["cell"]
    moved = sorted(range(len(now)), key=lambda j: -abs(now[j] - before[j]))[:3]
    tab.locator("#writers-button").click()
    tab.wait_for_function(
        "(u) => JSON.stringify(window.lstmExplainer.getState().units) === u", arg=str(moved).replace(" ", "")
    )
    assert f"unit {moved[0]} Δc" in tab.locator("#writers-note").inner_text()
    # Marked on every strip; drawn large as many as the figure has room for, the first always.
    assert tab.locator("#diagram .strip[data-q='cell'] .sel-mark").count() == 3
    badges = tab.locator("#diagram .strip[data-q='cell'] .big")
    assert badges.count() >= 1 and badges.first.get_attribute("data-u") == str(moved[0])
    tab.screenshot(path=artifacts / "hall-writers-spain.png")
    tab.keyboard.press("ArrowRight")
    tab.wait_for_function("() => document.getElementById('writers-note').textContent === ''")


def test_the_long_context_scene_follows_the_unit_that_writes_the_country(tab: Any, server: str) -> None:
    """The scene's first page draws large the unit whose cell moves most at "spain" (the write moment)."""
    tab.goto(f"{server}/?scene=long-context&page=0")
    wait_ready(tab)
    st = tab.evaluate("window.lstmExplainer.getState()")
    doc = trace(tab)
    t = st["step"]
    assert doc["tokens"][t]["text"] == "spain"
    now, before = doc["steps"][t]["layers"][0]["cell"], doc["steps"][t - 1]["layers"][0]["cell"]
    top = max(range(len(now)), key=lambda j: abs(now[j] - before[j]))
    assert st["units"] == [top]
    assert tab.locator("#diagram .strip[data-q='cell'] .big").first.get_attribute("data-u") == str(top)
