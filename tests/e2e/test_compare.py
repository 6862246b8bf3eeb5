"""Compare mode and the continuation panel in a real browser on the shipped models: two diagrams stepping
together, predictions side by side, both gradient curves on one log axis (the RNN's falls away, the LSTM's
holds, on the slides' Spain sentence), the `compare` link field, and the Shakespeare twins writing on.
Screenshots land in tests/e2e/artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .conftest import state, trace, wait_ready
from .test_explorer import url

SPAIN = (
    "I have been staying in Spain for the last 10 years and I enjoyed the food there although the weather "
    "was often cold . I can speak fluent"
)
LINE = (
    "By this, she hears the hounds are at a bay;\nWhereat she starts, like one that spies an adder\n"
    "Wreathed up in fatal folds just in his "
)


def wait_compare(page: Any, after: int = 0, timeout: float = 15_000) -> int:
    """Wait until the second model's trace (newer than `after`) has painted; return its id."""
    page.wait_for_function(
        "(after) => document.body.dataset.compareReady === '1' && !document.body.dataset.compareError &&"
        " Number(document.body.dataset.compareTraceId || 0) > after",
        arg=after,
        timeout=timeout,
    )
    return int(page.evaluate("document.body.dataset.compareTraceId"))


def compare_trace(page: Any) -> dict[str, Any] | None:
    return page.evaluate("window.lstmExplainer.getCompareTrace()")


def titles(page: Any) -> tuple[str, str]:
    return (
        page.locator("#diagram .diagram-title").text_content() or "",
        page.locator("#compare-diagram .diagram-title").text_content() or "",
    )


CURVES = """() => {
  const div = document.querySelector('#compare .compare-curve .plot');
  if (!div || !div.data) return null;
  return {
    traces: div.data.map((d) => ({ name: d.name, side: d.meta, x: Array.from(d.x), y: Array.from(d.y) })),
    yType: div.layout.yaxis.type,
  };
}"""


def test_compare_mode_shows_both_models_stepping_together(tab: Any, server: str, artifacts: Path) -> None:
    tab.goto(url(server, model="lecture-lstm", compare="lecture-rnn", text=SPAIN, target="spanish"))
    wait_ready(tab)
    wait_compare(tab)
    main, other = trace(tab), compare_trace(tab)
    assert other is not None and main is not None
    assert other["model"]["id"] == "lecture-rnn" and other["model"]["arch"] == "rnn"
    assert [t["text"] for t in other["tokens"]] == [t["text"] for t in main["tokens"]]
    T = len(main["tokens"])
    # Two diagrams, each labelled with its model; the RNN's is the RNN diagram (no cell state belt).
    assert tab.locator("#diagram").is_visible() and tab.locator("#compare-diagram").is_visible()
    assert tab.locator("#diagram").get_attribute("data-model") == "lecture-lstm"
    assert tab.locator("#compare-diagram").get_attribute("data-model") == "lecture-rnn"
    assert "RNN cell" in (tab.locator("#compare-diagram svg").first.get_attribute("aria-label") or "")
    assert "LSTM cell" in (tab.locator("#diagram svg").first.get_attribute("aria-label") or "")
    assert tab.locator("#diagram .strip[data-q='cell']").count() == 1
    assert tab.locator("#compare-diagram .strip[data-q='cell']").count() == 0
    assert titles(tab) == (f"step {T} of {T}: reading “fluent”",) * 2

    # Predictions side by side: the LSTM answers "spanish"; the RNN does not.
    cols = tab.locator("#compare .compare-col")
    assert cols.count() == 2
    main_col, other_col = tab.locator("#compare .compare-col[data-side='main']"), cols.nth(1)
    assert main_col.get_attribute("data-model") == "lecture-lstm"
    assert other_col.get_attribute("data-model") == "lecture-rnn"
    assert main_col.locator(".pred-list li").first.locator(".tok").inner_text() == "spanish"
    assert other_col.locator(".pred-list li").first.locator(".tok").inner_text() != "spanish"
    for col in (main_col, other_col):
        assert "target “spanish” p =" in col.locator(".pred-headline").inner_text()
    tab.locator("#compare").scroll_into_view_if_needed()
    tab.screenshot(path=artifacts / "compare-spain.png", full_page=True)

    # One step drives both.
    tab.locator("body").press("Home")
    tab.wait_for_function("() => window.lstmExplainer.getState().step === 0")
    assert titles(tab) == (f"step 1 of {T}: reading “i”",) * 2
    for _ in range(5):
        tab.keyboard.press("ArrowRight")
    tab.wait_for_function("() => window.lstmExplainer.getState().step === 5")
    assert titles(tab) == (f"step 6 of {T}: reading “spain”",) * 2
    # ...and so do the predictions: both now score the actual next word, "for".
    for col in (main_col, other_col):
        assert "actual next “for”" in col.locator(".pred-headline").inner_text()


def test_the_gradient_curves_share_one_log_axis_and_the_rnns_falls_faster(
    tab: Any, server: str, artifacts: Path
) -> None:
    tab.goto(url(server, model="grammar-lstm", compare="grammar-rnn", text=SPAIN, target="spanish", panels=""))
    wait_ready(tab)
    wait_compare(tab)
    tab.wait_for_function(f"() => ({CURVES})()?.traces.length === 2", timeout=20_000)
    curves = tab.evaluate(CURVES)
    assert curves["yType"] == "log"
    by_side = {t["side"]: t for t in curves["traces"]}
    assert by_side["main"]["name"] == "grammar-lstm: ‖∂L/∂c_k‖"
    assert by_side["other"]["name"] == "grammar-rnn: ‖∂L/∂h_k‖"
    legend = tab.locator("#compare .compare-curve .legendtext").all_text_contents()
    assert any("grammar-lstm" in t for t in legend) and any("grammar-rnn" in t for t in legend)
    T = len(trace(tab)["tokens"])
    spain = [t["text"] for t in trace(tab)["tokens"]].index("spain")
    kept = {}
    for side, t in by_side.items():
        assert t["x"] == list(range(1, T + 1))  # the loss at the last step (the target), back to step 1
        kept[side] = t["y"][spain + 1] / t["y"][-1]
    # The same numbers tests/test_seeds.py measures in NumPy, now on screen.
    assert kept["main"] > 0.5 and kept["other"] < 0.01, kept
    assert kept["other"] < kept["main"] / 100
    assert "grammar-rnn keeps" in tab.locator("#compare .compare-curve-note").inner_text()
    tab.locator("#compare .compare-curve").scroll_into_view_if_needed()
    tab.locator("#compare").screenshot(path=artifacts / "compare-gradients.png")

    # Stepping back moves the loss of both curves to the step shown.
    tab.locator("body").press("Home")
    for _ in range(9):
        tab.keyboard.press("ArrowRight")
    tab.wait_for_function(f"() => ({CURVES})()?.traces.every((t) => t.x.length === 10)", timeout=10_000)
    # The dark theme recolours both curves from its own palette.
    light = tab.evaluate("() => document.querySelector('#compare .compare-curve .plot').data[0].line.color")
    tab.evaluate("() => window.lstmExplainer.setState({theme: 'dark'})")
    tab.wait_for_function(
        "(c) => document.querySelector('#compare .compare-curve .plot').data[0].line.color !== c", arg=light
    )
    tab.screenshot(path=artifacts / "compare-dark.png")


def test_compare_is_a_toggle_a_picker_and_a_link(tab: Any, server: str) -> None:
    tab.goto(url(server, model="lecture-lstm", text="the clouds are in the", target="sky"))
    wait_ready(tab)
    assert tab.locator("#compare-diagram").is_hidden() and tab.locator("#compare").is_hidden()
    assert compare_trace(tab) is None
    toggle = tab.locator("#compare-toggle")
    toggle.click()
    assert state(tab)["compare"] == "lecture-rnn"  # the twin by default
    assert toggle.get_attribute("aria-pressed") == "true"
    assert "compare=lecture-rnn" in tab.url
    first = wait_compare(tab)
    picker = tab.locator("#compare-select")
    assert picker.is_visible() and picker.input_value() == "lecture-rnn"
    # Only models with the same vocabulary can be picked; the others say why not.
    assert picker.locator("option[value='untrained-lecture-lstm-bias0']").is_enabled()
    recall = picker.locator("option[value='recall-rnn']")
    assert recall.is_disabled() and "different vocabulary" in recall.inner_text()
    assert picker.locator("option[value='lecture-lstm']").count() == 0
    picker.select_option("untrained-lecture-lstm-bias0")
    wait_compare(tab, after=first)
    assert compare_trace(tab)["model"]["id"] == "untrained-lecture-lstm-bias0"
    assert tab.locator("#compare-diagram").get_attribute("data-model") == "untrained-lecture-lstm-bias0"
    # An LSTM on the right too, but its gate boxes are not clamp buttons: clamps are the main model's.
    assert tab.locator("#compare-diagram .gate-box").count() == 4
    assert tab.locator("#compare-diagram .gate-box:not(.no-clamp)").count() == 0
    assert tab.locator("#diagram .gate-box:not(.no-clamp)").count() == 4

    # The link round-trips: a fresh tab at this address opens the same comparison.
    link = tab.url
    tab.goto(link)
    wait_ready(tab)
    wait_compare(tab)
    assert state(tab)["compare"] == "untrained-lecture-lstm-bias0"
    assert tab.locator("#compare-select").input_value() == "untrained-lecture-lstm-bias0"
    assert compare_trace(tab)["model"]["id"] == "untrained-lecture-lstm-bias0"

    # A new main model gets its own twin; switching off hides the second model and leaves the link.
    tab.locator("#model-select").select_option("recall-lstm")
    tab.wait_for_function("() => window.lstmExplainer.getState().compare === 'recall-rnn'")
    wait_compare(tab)
    assert compare_trace(tab)["model"]["id"] == "recall-rnn"
    tab.locator("#compare-toggle").click()
    assert state(tab)["compare"] == ""
    assert "compare=" not in tab.url
    assert tab.locator("#compare-diagram").is_hidden() and tab.locator("#compare").is_hidden()
    assert compare_trace(tab) is None


def test_models_with_different_vocabularies_cannot_be_compared(tab: Any, server: str) -> None:
    tab.goto(url(server, model="lecture-lstm", compare="shakespeare-rnn"))
    wait_ready(tab)
    error = tab.locator("#compare .compare-error")
    error.wait_for()
    assert "different vocabulary" in error.inner_text() and "shakespeare-rnn" in error.inner_text()
    assert tab.locator("#compare-diagram").is_hidden()
    assert compare_trace(tab) is None
    tab.goto(url(server, model="lecture-lstm", compare="no-such-model"))
    wait_ready(tab)
    assert "no model “no-such-model”" in tab.locator("#compare .compare-error").inner_text()
    # A model no other model shares a vocabulary with: the toggle is off and says why.
    tab.goto(url(server, model="counting-lstm"))
    wait_ready(tab)
    toggle = tab.locator("#compare-toggle")
    assert toggle.is_disabled()
    assert "nothing to compare it with" in (toggle.get_attribute("title") or "")


def test_clamps_apply_to_the_main_model_only(tab: Any, server: str) -> None:
    clamp = "forget:0:0:all:7:"
    tab.goto(url(server, model="lecture-lstm", compare="lecture-rnn", text=SPAIN, target="spanish", clamps=clamp))
    wait_ready(tab)
    wait_compare(tab)
    assert trace(tab)["steps"][-1]["layers"][0]["clamped"] == {"forget": list(range(128))}
    assert compare_trace(tab)["steps"][-1]["layers"][0]["clamped"] == {}
    assert "Clamps apply to lecture-lstm only" in tab.locator("#compare .compare-note").inner_text()
    # With its forget gate shut after "spain", the LSTM loses the answer too.
    main_col = tab.locator("#compare .compare-col[data-side='main']")
    assert main_col.locator(".pred-list li").first.locator(".tok").inner_text() != "spanish"


def test_typing_keeps_both_models_on_the_latest_text(tab: Any, server: str) -> None:
    tab.goto(url(server, model="recall-lstm", compare="recall-rnn", text="b1"))
    first = wait_ready(tab)
    wait_compare(tab)
    box = tab.locator("#text-input")
    box.click()
    box.press("End")
    box.press_sequentially("234567=", delay=20)  # faster than the throttle: stale answers must not paint
    wait_ready(tab, after=first)
    tab.wait_for_function(
        "() => { const c = window.lstmExplainer.getCompareTrace(); return c && c.tokens.length === 9 &&"
        " document.body.dataset.compareReady === '1'; }"
    )
    assert "".join(t["text"] for t in compare_trace(tab)["tokens"]) == "b1234567="
    assert titles(tab) == ("step 9 of 9: reading “=”",) * 2
    assert "stale" not in (tab.locator("#compare-diagram").get_attribute("class") or "")


def test_the_shakespeare_twins_continue_the_same_line(tab: Any, server: str, artifacts: Path) -> None:
    tab.goto(url(server, model="shakespeare-lstm", compare="shakespeare-rnn", text=LINE, panels="continuation"))
    wait_ready(tab)
    wait_compare(tab)
    panel = tab.locator("#continuation")
    tab.wait_for_function(
        "() => document.querySelectorAll('#continuation .continuation-col mark.generated').length === 2"
    )
    cols = panel.locator(".continuation-col")
    assert [cols.nth(k).get_attribute("data-model") for k in range(2)] == ["shakespeare-lstm", "shakespeare-rnn"]
    written = [cols.nth(k).locator("mark.generated").text_content() or "" for k in range(2)]
    assert all(len(w) == 200 for w in written), written
    assert written[0] != written[1]
    assert "fatal folds just in his" in (cols.nth(0).locator(".prompt").text_content() or "")
    # The same continuation the API gives (greedy: deterministic).
    api = tab.evaluate(
        """(text) => fetch('/api/continue', {method: 'POST', headers: {'Content-Type': 'application/json'},
             body: JSON.stringify({model: 'shakespeare-rnn', text})}).then((r) => r.json())""",
        LINE,
    )
    assert api["continuation"] == written[1]
    panel.scroll_into_view_if_needed()
    tab.locator("details[data-panel='continuation']").screenshot(path=artifacts / "compare-continuation.png")

    # Without compare mode, only the main model writes.
    tab.locator("#compare-toggle").click()
    tab.wait_for_function("() => document.querySelectorAll('#continuation .continuation-col').length === 1")
    assert panel.locator(".continuation-col").get_attribute("data-model") == "shakespeare-lstm"
    # ...and switched back on, the second model writes again beside it.
    tab.locator("#compare-toggle").click()
    tab.wait_for_function(
        "() => document.querySelectorAll('#continuation .continuation-col mark.generated').length === 2"
    )


def test_the_continuation_length_is_chosen_and_kept_in_the_url(tab: Any, server: str, artifacts: Path) -> None:
    tab.goto(url(server, model="shakespeare-lstm", text=LINE, panels="continuation"))
    wait_ready(tab)
    written = tab.locator("#continuation mark.generated")
    written.wait_for()
    assert len(written.text_content() or "") == 200  # the model's default, left out of the URL
    assert tab.locator("#continuation-length").input_value() == "200"
    assert "length=" not in tab.url
    first = written.text_content() or ""

    tab.locator("#continuation-length").select_option("400")
    tab.wait_for_function("() => document.querySelector('#continuation mark.generated')?.textContent.length === 400")
    assert (written.text_content() or "").startswith(first)  # greedy: the longer text extends the shorter
    assert state(tab)["length"] == 400 and "length=400" in tab.url

    tab.reload()  # the link keeps the choice
    wait_ready(tab)
    tab.wait_for_function("() => document.querySelector('#continuation mark.generated')?.textContent.length === 400")
    assert tab.locator("#continuation-length").input_value() == "400"
    tab.locator("details[data-panel='continuation']").screenshot(path=artifacts / "continuation-length.png")

    # A word model offers words, and its own default.
    tab.goto(url(server, model="lecture-lstm", text=SPAIN, panels="continuation"))
    wait_ready(tab)
    tab.locator("#continuation mark.generated").wait_for()
    assert tab.locator("#continuation-length").input_value() == "20"
    assert "words" in (tab.locator(".continuation-length").text_content() or "")
    tab.locator("#continuation-length").select_option("5")
    tab.wait_for_function(
        "() => document.querySelector('#continuation mark.generated')?.textContent.trim().split(/\\s+/).length <= 5"
    )


def test_compare_in_the_embed_page(tab: Any, server: str, artifacts: Path) -> None:
    tab.goto(url(server, "/embed", model="lecture-lstm", compare="lecture-rnn", text=SPAIN, target="spanish"))
    wait_ready(tab)
    wait_compare(tab)
    assert tab.locator("#diagram").is_visible() and tab.locator("#compare-diagram").is_visible()
    assert compare_trace(tab)["model"]["id"] == "lecture-rnn"
    assert tab.locator("#compare .compare-col").count() == 2
    tab.screenshot(path=artifacts / "compare-embed.png", full_page=True)
