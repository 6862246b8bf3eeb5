"""The minimal-pair scene tells the truth: the numbers its captions quote are the shipped GRU's, measured
here, and the pair claim (`pair_unit`, `pair_from`, `pair_above`) says plainly when it does not hold."""

from __future__ import annotations

from functools import cache

import numpy as np

from app.nn import Model, load_model, run_trace, shipped_models_dir
from app.scenes import SHIPPED_SCENES, Expectation, check_expectation, load_scenes

SCENE = load_scenes([SHIPPED_SCENES])["minimal-pair"]
FIRST = SCENE.states[0].state


@cache
def model(model_id: str) -> Model:
    return load_model(shipped_models_dir() / model_id)


def unit_74() -> tuple[np.ndarray, np.ndarray, list[str]]:
    m = model("lecture-gru")
    a, b = (run_trace(m, t, target="spanish", gradients=False) for t in (FIRST["text"], FIRST["pair"]))
    return a.columns[0].h[:, 74], b.columns[0].h[:, 74], [t.text for t in a.tokens]


def test_the_pair_is_one_word_apart_and_its_unit_steps_at_the_country() -> None:
    ha, hb, tokens = unit_74()
    spain = tokens.index("spain")
    assert len(ha) == len(hb) == 28 and spain == 5
    # the caption: −0.93 before, +1.00 from "Spain" on, −0.99 with "France"; the difference 0 then 1.98
    np.testing.assert_allclose(ha[:spain], -0.93, atol=0.005)
    np.testing.assert_allclose(ha[spain:], 1.00, atol=0.006)
    np.testing.assert_allclose(hb[spain:], -0.99, atol=0.005)
    np.testing.assert_array_equal(ha[:spain], hb[:spain])
    np.testing.assert_allclose(ha[spain:] - hb[spain:], 1.98, atol=0.01)
    assert "−0.93" in SCENE.states[0].caption and "+1.00" in SCENE.states[0].caption


def test_the_update_gate_writes_at_spain_and_keeps_after() -> None:
    trace = run_trace(model("lecture-gru"), FIRST["text"], gradients=False)
    z = np.array([c["act"]["update"][0, 74] for c in trace.tape.caches[0]])
    assert z[5] < 0.005 and z[6:].min() > 0.99  # the third page's caption: 0.00 at Spain, 1.00 after


def test_the_predictions_the_second_page_quotes() -> None:
    m = model("lecture-gru")
    vocab = list(m.vocab)
    pa, pb = (run_trace(m, t, target="spanish", gradients=False).probs[-1] for t in (FIRST["text"], FIRST["pair"]))
    assert round(100 * pa[vocab.index("spanish")]) == 96 and round(100 * pb[vocab.index("french")]) == 92
    assert "spanish 96%" in SCENE.states[1].caption and "french 92%" in SCENE.states[1].caption


def test_a_pair_claim_that_fails_says_what_the_model_did() -> None:
    wrong_unit = Expectation(model="lecture-gru", pair_unit=3, pair_from="spain", pair_above=1.0)
    assert "is 74, not 3" in (check_expectation(FIRST, wrong_unit, model) or "")
    too_much = Expectation(model="lecture-gru", pair_unit=74, pair_from="spain", pair_above=2.5)
    assert "differs by only 1.98" in (check_expectation(FIRST, too_much, model) or "")
    no_pair = {k: v for k, v in FIRST.items() if k != "pair"}
    assert "has no `pair`" in (check_expectation(no_pair, wrong_unit, model) or "")
    longer = {**FIRST, "pair": FIRST["pair"].replace("France", "the United States")}
    assert "of one length" in (check_expectation(longer, wrong_unit, model) or "")


def test_the_john_amanda_page_quotes_the_model() -> None:
    page = SCENE.states[4]
    m = model("lecture-gru")
    vocab = list(m.vocab)
    a, b = (run_trace(m, t, target="he", gradients=False) for t in (page.state["text"], page.state["pair"]))
    ha, hb = a.columns[0].h[:14, 92], b.columns[0].h[:14, 92]
    assert round(float(ha[0]), 2) == 0.95 and round(float(hb[0]), 2) == -0.99
    assert np.all(np.round(ha[1:], 2) >= 0.93) and np.all(np.round(hb[1:], 2) <= -0.88)
    p = {w: (float(a.probs[-1][vocab.index(w)]), float(b.probs[-1][vocab.index(w)])) for w in ("he", "she", "we")}
    assert round(100 * p["he"][0]) == 25 and round(100 * p["she"][0], 1) == 0.8
    assert round(100 * p["she"][1]) == 30 and round(100 * p["he"][1], 1) == 0.5
    assert round(100 * p["we"][0]) == round(100 * p["we"][1]) == 28


def test_the_lstm_page_quotes_its_cell() -> None:
    """The fourth page: lecture-lstm's cell unit 59 is erased and rewritten at "Spain", then kept."""
    page = SCENE.states[3]
    m = model("lecture-lstm")
    a, b = (run_trace(m, t, target="spanish", gradients=False) for t in (page.state["text"], page.state["pair"]))
    T = len(a.tokens)
    ca, cb = a.columns[0].c[:T, 59], b.columns[0].c[:T, 59]
    f = np.array([c["act"]["forget"][0, 59] for c in a.tape.caches[0]])[:T]
    i = np.array([c["act"]["input"][0, 59] for c in a.tape.caches[0]])[:T]
    assert round(float(f[5]), 2) == 0.0 and round(float(i[5]), 2) == 0.99 and f[6:].min() > 0.99
    assert (round(float(ca[4]), 2), round(float(ca[5]), 2), round(float(cb[5]), 2)) == (1.42, -0.93, 2.11)
    assert (round(float(ca[-1]), 2), round(float(cb[-1]), 2)) == (-1.52, 2.59)
    assert np.all(np.diff(ca[5:]) < 0.01) and np.all(np.diff(cb[5:]) > -0.07)  # each write pushes the same way
    vocab = list(m.vocab)
    assert round(100 * a.probs[-1][vocab.index("spanish")]) == 98
    assert round(100 * b.probs[-1][vocab.index("french")]) == 99
    for quoted in ("0.00", "0.99", "1.00", "+1.42", "−0.93", "+2.11", "−1.52", "+2.59", "spanish 98%", "french 99%"):
        assert quoted in page.caption, quoted
