"""The explorer page in a real browser against a real server: typing, stepping, clamping, gradients,
links, errors, tooltips. Screenshots land in tests/e2e/artifacts/ — look at them."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from .conftest import state, trace, wait_plots, wait_ready

RECALL = "b31415926="  # a key letter, digits, '=': the recall models must answer "b"


def url(server: str, path: str = "/", **params: Any) -> str:
    return f"{server}{path}?{urlencode(params)}" if params else f"{server}{path}"


def big_values(tab: Any, quantity: str) -> list[str]:
    return tab.locator(f".strip[data-q='{quantity}'] .big-val").all_text_contents()


UNIT_XY = """([q, j]) => {
  // The centre of unit j's cell on strip q's canvas, in page coordinates.
  const c = document.querySelector(`#diagram .strip-canvas[data-q="${q}"]`);
  const r = c.getBoundingClientRect();
  const cols = Number(c.dataset.cols), rows = Number(c.dataset.rows);
  return [r.left + ((j % cols) + 0.5) * (r.width / cols), r.top + (Math.floor(j / cols) + 0.5) * (r.height / rows)];
}"""


def unit_xy(tab: Any, quantity: str, unit: int) -> tuple[float, float]:
    x, y = tab.evaluate(UNIT_XY, [quantity, unit])
    return x, y


def number(text: str) -> float:
    return float(text.replace("−", "-").strip("()"))


def test_the_landing_page_asks_the_lecture_question(tab: Any, server: str, artifacts: Path) -> None:
    """With no link parameters: the default model, its example sentence and target, predicted."""
    tab.goto(server)
    wait_ready(tab)
    config = tab.evaluate("() => JSON.parse(document.getElementById('app-config').textContent)")
    want = state(tab)
    assert want["model"] == config["defaultModel"]
    assert tab.locator("#text-input").input_value() == want["text"] != ""
    if want["model"] == "lecture-lstm":  # the shipped lecture model answers the slides' question
        assert tab.locator(".pred-list li").first.locator(".tok").inner_text() == want["target"] == "spanish"
        assert "target" in tab.locator(".pred-headline").inner_text()
    # The link now holds the view.
    assert "model=" in tab.url and "text=" in tab.url
    tab.screenshot(path=artifacts / "landing.png")


def test_first_paint_and_typing_retraces(tab: Any, server: str, artifacts: Path) -> None:
    tab.goto(url(server, model="recall-lstm", text="b12"))
    first = wait_ready(tab)
    assert tab.locator(".token-list .chip").count() == 3
    assert "step 3 of 3" in tab.locator(".diagram-title").text_content()

    box = tab.locator("#text-input")
    box.click()
    box.press("End")
    box.press_sequentially("3456=", delay=30)  # faster than the debounce: stale answers must not paint
    latest = wait_ready(tab, after=first)
    tab.wait_for_function("() => window.lstmExplainer.getTrace().tokens.length === 8")
    assert tab.locator(".token-list .chip").count() == 8
    assert "step 8 of 8" in tab.locator(".diagram-title").text_content()
    assert state(tab)["text"] == "b123456="
    assert int(tab.evaluate("document.body.dataset.traceId")) >= latest
    # The trained model answers the key at '='.
    assert tab.locator(".pred-list li").first.locator(".tok").inner_text() == "b"
    tab.screenshot(path=artifacts / "explorer-recall-lstm.png", full_page=True)


def test_keyboard_stepping_moves_the_diagram(tab: Any, server: str) -> None:
    tab.goto(url(server, model="recall-lstm", text=RECALL, units="2"))
    wait_ready(tab)
    tab.locator("body").press("Home")
    assert "step 1 of 10" in tab.locator(".diagram-title").text_content()
    assert tab.locator(".chip.current").inner_text() == "b"
    before = big_values(tab, "cell") + big_values(tab, "forget")

    tab.keyboard.press("ArrowRight")
    assert "step 2 of 10" in tab.locator(".diagram-title").text_content()
    assert tab.locator(".controls .pos-step").inner_text() == "step 2 / 10"
    assert state(tab)["step"] == 1
    after = big_values(tab, "cell") + big_values(tab, "forget")
    assert after != before, "the numbers on the wires did not change with the step"
    # c_{t-1} at step 2 is c_t of step 1: the memory moved along the belt.
    assert big_values(tab, "c_prev") == before[:1]

    tab.keyboard.press("End")
    assert "step 10 of 10" in tab.locator(".diagram-title").text_content()
    assert state(tab)["step"] == -1  # following the end again
    tab.keyboard.press("ArrowLeft")
    assert state(tab)["step"] == 8

    # Space plays; it stops by itself at the end.
    tab.keyboard.press("Home")
    tab.evaluate("window.lstmExplainer.setState({speed: 8})")
    tab.keyboard.press(" ")
    tab.wait_for_function("() => window.lstmExplainer.getState().step === -1", timeout=5000)
    assert tab.locator(".ctl-play").get_attribute("aria-label") == "Play"


def test_hover_shows_the_filled_in_equation(tab: Any, server: str) -> None:
    tab.goto(url(server, model="recall-lstm", text=RECALL, step="3", units="2"))
    wait_ready(tab)
    tab.hover(".strip[data-q='cell'] .big")
    tip = tab.locator(".tooltip")
    assert tip.is_visible()
    eq = tip.locator(".tt-eq").inner_text()
    m = re.fullmatch(r"c\[2\] = f·cₜ₋₁ \+ i·c̃ = (\S+)·(\S+) \+ (\S+)·(\S+) = (\S+)", eq)
    assert m, eq
    f, c_prev, i, g, c = (number(x) for x in m.groups())
    assert math.isclose(f * c_prev + i * g, c, abs_tol=0.03), eq

    tab.hover(".strip[data-q='hidden'] .big")
    assert re.fullmatch(r"h\[2\] = o·tanh\(c\) = \S+·\S+ = \S+", tip.locator(".tt-eq").inner_text())
    tab.mouse.move(*unit_xy(tab, "forget", 5))
    assert re.fullmatch(r"f\[5\] = σ\(pre\) = σ\(\S+\) = \S+", tip.locator(".tt-eq").inner_text())
    tab.mouse.move(5, 5)
    assert tip.is_hidden()


def test_clamping_the_forget_gate_erases_memory(tab: Any, server: str, artifacts: Path) -> None:
    tab.goto(url(server, model="recall-lstm", text=RECALL, target="b", step="3", units="2"))
    first = wait_ready(tab)
    unclamped = trace(tab)

    tab.click(".gate-box[data-gate='forget']")
    dialog = tab.get_by_role("dialog")
    assert "forget gate" in dialog.inner_text()
    dialog.get_by_label("0 (shut)").check()
    dialog.get_by_label("from here on (4 → end)").check()
    tab.screenshot(path=artifacts / "clamp-popover.png")
    dialog.get_by_role("button", name="Clamp").click()
    wait_ready(tab, after=first)

    assert state(tab)["clamps"] == [{"gate": "forget", "value": 0, "layer": 0, "units": None, "start": 3, "stop": None}]
    assert "clamped" in (tab.locator(".gate-box[data-gate='forget']").get_attribute("class") or "")
    # What survives the forget gate is now nothing: the old memory is gone from the belt.
    assert big_values(tab, "kept") == ["0.00"]
    clamped = trace(tab)
    step = clamped["steps"][3]["layers"][0]
    assert all(f == 0 for f in step["gates"]["forget"])
    for c, i, g in zip(step["cell"], step["gates"]["input"], step["gates"]["candidate"], strict=True):
        assert math.isclose(c, i * g, abs_tol=1e-5)
    before_c = unclamped["steps"][3]["layers"][0]["cell"]
    assert max(abs(a - b) for a, b in zip(step["cell"], before_c, strict=True)) > 0.1

    # The comparison arrives over REST; the prediction at '=' loses the key.
    tab.keyboard.press("End")
    tab.wait_for_selector(".pred-change")
    with_p = clamped["steps"][-1]["expected"]["p"]
    without_p = unclamped["steps"][-1]["expected"]["p"]
    assert without_p - with_p > 0.2
    assert f"{without_p:.3f}" in tab.locator(".pred-change").inner_text()
    assert tab.locator(".clamp-compare h3").inner_text().startswith("What the clamp changed")
    tab.screenshot(path=artifacts / "clamped-forget.png", full_page=True)

    tab.locator(".clamp-chip .remove").click()
    wait_ready(tab)
    tab.wait_for_function("() => window.lstmExplainer.getState().clamps.length === 0")
    assert tab.locator(".gate-box.clamped").count() == 0


def test_gradient_panel_shows_vanishing_for_the_rnn(tab: Any, server: str, artifacts: Path) -> None:
    text = "b" + "3141592653589793238462643" + "="
    ratios = {}
    for model in ("recall-rnn", "recall-lstm"):
        tab.goto(url(server, model=model, text=text, target="b", panels="gradients"))
        ready = wait_ready(tab)
        wait_plots(tab, ready)
        curve = tab.locator("#gradients .curve .plot")
        assert curve.locator(".scatterlayer .trace").count() >= 1
        ys = tab.evaluate("document.querySelector('#gradients .curve .plot').data[0].y")
        assert len(ys) == len(text) and all(y > 0 for y in ys)
        assert tab.locator("#gradients .triangle .plot .hm, #gradients .triangle .plot .heatmaplayer").count() >= 1
        ratios[model] = ys[0] / ys[-1]
        tab.locator("#gradients").screenshot(path=artifacts / f"gradients-{model}.png")
    # The same sentence: the plain RNN's gradient from the last loss back to the key vanishes far faster.
    assert ratios["recall-rnn"] < 1e-3 * ratios["recall-lstm"], ratios

    tab.get_by_role("button", name="send the gradient back").click()
    tab.wait_for_function("() => document.querySelectorAll('.chain-node.lit').length === 27", timeout=15_000)
    note = tab.locator(".chain-note").inner_text()
    assert note.startswith("‖∂L/∂h‖ on the hidden state") and "from step 27 back to step 1" in note


def test_the_url_round_trips_the_whole_state(tab: Any, server: str, chromium: Any, artifacts: Path) -> None:
    tab.goto(url(server, model="e2e-deep", text="the cat sat"))
    wait_ready(tab)
    tab.get_by_role("button", name="layer 2").click()
    tab.locator(".token-list .chip").nth(4).click()
    tab.mouse.click(*unit_xy(tab, "cell", 3))
    tab.keyboard.down("Shift")
    tab.mouse.click(*unit_xy(tab, "cell", 7))
    tab.keyboard.up("Shift")
    tab.click("#theme-toggle")
    tab.click("#large-toggle")
    tab.check("#tint-toggle")
    tab.fill("#target-input", "e")
    tab.locator("details[data-panel='gradients'] > summary").click()
    clamp = {"gate": "input", "value": 1, "layer": 1, "units": [3, 7], "start": 2, "stop": 6}
    tab.evaluate("(clamp) => window.lstmExplainer.setState({clamps: [clamp]})", clamp)
    wait_ready(tab)
    tab.wait_for_function("() => window.lstmExplainer.getTrace().target !== null")
    want = state(tab)
    assert want["layer"] == 1 and want["step"] == 4 and want["units"] == [3, 7]
    assert want["theme"] == "dark" and want["large"] and want["tint"] and want["target"] == "e"
    assert "gradients" not in want["panels"]
    link = tab.url
    title = tab.locator(".diagram-title").text_content()

    other = chromium.new_page(viewport={"width": 1500, "height": 1000})
    try:
        other.goto(link)
        wait_ready(other)
        assert state(other) == want
        assert other.locator(".diagram-title").text_content() == title
        assert other.evaluate("document.body.dataset.theme") == "dark"
        assert other.locator("#text-input").input_value() == "the cat sat"
        assert other.locator("#target-input").input_value() == "e"
        assert other.locator("details[data-panel='gradients']").get_attribute("open") is None
        # Both units marked on the strip; drawn large as many as the figure has room for at this size.
        assert other.locator(".strip[data-q='cell'] .sel-mark").count() == 2
        assert other.locator(".strip[data-q='cell'] .big").first.get_attribute("data-u") == "3"
        assert other.locator(".layer-select [aria-pressed='true']").inner_text() == "layer 2"
        other.screenshot(path=artifacts / "round-trip-dark-large.png", full_page=True)
    finally:
        other.close()


def test_errors_show_next_to_their_cause(tab: Any, server: str) -> None:
    tab.goto(url(server, model="recall-lstm", text=RECALL))
    wait_ready(tab)
    tab.fill("#target-input", "Z")
    target_error = tab.locator("#target-error")
    target_error.wait_for(state="visible")
    assert "not in this model's vocabulary" in target_error.inner_text()
    assert tab.locator("#target-input").get_attribute("aria-invalid") == "true"
    assert tab.locator("#text-error").is_hidden()

    tab.fill("#target-input", "")
    wait_ready(tab)
    assert target_error.is_hidden()

    limit = tab.evaluate("JSON.parse(document.getElementById('app-config').textContent).limits.maxChars")
    tab.fill("#text-input", "b" + "1" * limit)
    tab.locator("#text-error").wait_for(state="visible")
    assert f"the limit is {limit}" in tab.locator("#text-error").inner_text()

    tab.goto(url(server, model="no-such-model", text="abc"))
    tab.locator("#model-error").wait_for(state="visible")
    assert "no-such-model" in tab.locator("#model-error").inner_text()
    # The server lists the model it could not load; the page says so.
    assert "e2e-broken" in tab.locator("#failed-models").inner_text()


def test_unknown_tokens_are_marked(tab: Any, server: str) -> None:
    tab.goto(url(server, model="recall-lstm", text="b12x=", panels=""))
    wait_ready(tab)
    chips = tab.locator(".token-list .chip")
    assert chips.nth(3).get_attribute("class") is not None and "unknown" in (chips.nth(3).get_attribute("class") or "")
    assert tab.locator(".token-list .chip.unknown").count() == 1
    tab.keyboard.press("ArrowLeft")
    assert tab.locator(".x-chip.unknown").count() == 1


def test_gates_are_keyboard_operable(tab: Any, server: str) -> None:
    tab.goto(url(server, model="recall-lstm", text=RECALL, panels="clamps"))
    wait_ready(tab)
    gate = tab.locator(".gate-box[data-gate='output']")
    gate.focus()
    tab.keyboard.press("Enter")
    dialog = tab.get_by_role("dialog")
    assert "output gate" in dialog.inner_text()
    assert dialog.locator("input").first.evaluate("el => el === document.activeElement")
    tab.keyboard.press("Escape")
    assert dialog.count() == 0
    assert gate.evaluate("el => el === document.activeElement")


def test_reconnects_and_restores_the_view(tab: Any, server: str) -> None:
    connections: list[Any] = []

    def handler(ws: Any) -> None:
        connections.append(ws)
        if len(connections) == 1:
            ws.on_message(lambda _message: ws.close())  # a server that dies holding the request
        else:
            ws.connect_to_server()

    tab.route_web_socket(re.compile(r".*/ws/trace$"), handler)
    tab.goto(url(server, model="recall-lstm", text=RECALL, panels=""))
    wait_ready(tab)  # the request was re-sent on the new socket
    assert len(connections) == 2
    assert tab.locator(".token-list .chip").count() == len(RECALL)
    assert tab.locator("#connection").is_hidden()


def test_every_architecture_gets_its_diagram(tab: Any, server: str, artifacts: Path) -> None:
    expected = {
        "recall-lstm": {"forget", "input", "candidate", "output"},
        "recall-gru": {"update", "reset", "candidate"},
        "recall-rnn": {"hidden"},
        "e2e-peephole": {"forget", "input", "candidate", "output"},
    }
    for model, gates in expected.items():
        tab.goto(url(server, model=model, text=RECALL if model.startswith("recall") else "hello", panels=""))
        wait_ready(tab)
        found = set(tab.locator(".gate-box").evaluate_all("els => els.map(e => e.dataset.gate)"))
        assert found == gates, model
        assert tab.locator(".wire.peephole").count() == (3 if model == "e2e-peephole" else 0)
        tab.locator("#diagram").screenshot(path=artifacts / f"diagram-{model}.png")


def test_embed_page_shows_the_diagram_without_chrome(tab: Any, server: str, artifacts: Path) -> None:
    tab.goto(url(server, "/embed", model="recall-gru", text=RECALL, panels="predictions"))
    wait_ready(tab)
    assert tab.locator("#diagram svg .gate-box").count() == 3
    assert tab.locator("header").count() == 0
    assert tab.locator("[data-panel='predictions']").is_visible()
    assert tab.locator("[data-panel='memory']").is_hidden()
    tab.screenshot(path=artifacts / "embed.png", full_page=True)


@pytest.mark.parametrize("path", ["/", "/embed"])
def test_a_links_own_text_brings_no_target_of_the_example(tab: Any, server: str, path: str) -> None:
    # docs/embedding.md's explorer(text="the clouds are in the") showed the example's "spanish" at p = 0.000.
    tab.goto(url(server, path, model="lecture-lstm", text="the clouds are in the", panels="predictions"))
    wait_ready(tab)
    assert state(tab)["target"] == ""
    assert "spanish" not in tab.locator("#predictions").inner_text()
    tab.goto(url(server, path, model="lecture-lstm", text="the clouds are in the", target="sky"))
    wait_ready(tab)
    assert state(tab)["target"] == "sky"
    tab.goto(url(server, path, model="lecture-lstm"))  # the example sentence keeps its own target
    wait_ready(tab)
    assert state(tab)["target"] == "spanish"
