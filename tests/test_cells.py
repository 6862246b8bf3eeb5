"""The traced run: step by step equals whole sequence, the batch forward agrees, interventions do what
they say."""

from __future__ import annotations

import numpy as np
import pytest

from app.nn import ARCHS, Stepper, TraceInputError, random_model, run_trace, trace_document
from app.nn.cells import SPECS, sigmoid
from app.nn.document import round_sig


@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("arch", ARCHS)
def test_step_by_step_equals_whole_sequence(arch: str, layers: int) -> None:
    model = random_model(arch, layers=layers, hidden_size=16, seed=2)
    text = "the clouds are in the sky"
    trace = run_trace(model, text, gradients=False)
    stepper = Stepper(model)
    for t, tok in enumerate(trace.tokens):
        caches, logits = stepper.step(tok.id)
        # the trace decodes its steps in blocks (again, when asked): the same logits up to the last bits
        np.testing.assert_allclose(logits, trace.logits[t], rtol=1e-12, atol=1e-15)
        for l, cache in enumerate(caches):
            whole = trace.tape.caches[l][t]
            np.testing.assert_array_equal(cache["h"], whole["h"])
            if cache["c"] is not None:
                np.testing.assert_array_equal(cache["c"], whole["c"])
            for g in model.spec.gates:
                np.testing.assert_array_equal(cache["act"][g], whole["act"][g])


@pytest.mark.parametrize("arch", ARCHS)
def test_trace_agrees_with_the_batched_training_forward(arch: str) -> None:
    model = random_model(arch, layers=2, hidden_size=12, seed=4)
    text = "a batch forward must match"
    trace = run_trace(model, text, gradients=False)
    ids = np.array([[t.id for t in trace.tokens]] * 3)  # three identical rows
    tape = model.forward(ids)
    for l in range(2):
        for t in range(ids.shape[1]):
            for row in range(3):
                np.testing.assert_allclose(tape.caches[l][t]["h"][row], trace.tape.caches[l][t]["h"][0], rtol=1e-12)
    np.testing.assert_allclose(tape.logits[:, 1], trace.logits, rtol=1e-11, atol=1e-13)


def test_lstm_cell_by_hand() -> None:
    """One step of a 1-unit LSTM computed with a pencil."""
    model = random_model("lstm", vocab=["<unk>", "x"], hidden_size=1, input_size=1, seed=0)
    p = model.params
    p["embedding.weight"][:] = [[0.0], [1.0]]
    p["layers.0.weight_ih"][:] = [[0.5], [1.0], [2.0], [-1.0]]  # i, f, g, o
    p["layers.0.weight_hh"][:] = 0.0
    p["layers.0.bias_ih"][:] = [0.0, 1.0, 0.0, 0.5]
    p["layers.0.bias_hh"][:] = 0.0
    model._xw_table = None
    trace = run_trace(model, "xx", gradients=False)
    i, f, g, o = sigmoid(np.array(0.5)), sigmoid(np.array(2.0)), np.tanh(2.0), sigmoid(np.array(-0.5))
    c1 = i * g
    cache = trace.tape.caches[0][0]
    assert cache["c"][0, 0] == pytest.approx(c1, rel=1e-15)
    assert cache["h"][0, 0] == pytest.approx(o * np.tanh(c1), rel=1e-15)
    # the second step has no recurrent weights: same gates, c2 = f·c1 + i·g
    assert trace.tape.caches[0][1]["c"][0, 0] == pytest.approx(f * c1 + i * g, rel=1e-15)


def test_forget_one_input_zero_keeps_the_cell_constant() -> None:
    model = random_model("lstm", hidden_size=10, seed=1)
    ivs = [{"gate": "forget", "value": 1.0, "start": 3}, {"gate": "input", "value": 0.0, "start": 3}]
    trace = run_trace(model, "keep this memory", interventions=ivs)
    cells = np.stack([c["c"][0] for c in trace.tape.caches[0]])
    assert not np.allclose(cells[1], cells[2])
    for t in range(3, len(cells)):
        np.testing.assert_array_equal(cells[t], cells[2])


def test_forget_zero_erases_memory_and_cuts_the_gradient() -> None:
    model = random_model("lstm", hidden_size=10, seed=1)
    trace = run_trace(model, "erase", interventions=[{"gate": "forget", "value": 0.0, "start": 2, "stop": 3}])
    c = trace.tape.caches[0]
    np.testing.assert_allclose(c[2]["c"], c[2]["act"]["input"] * c[2]["act"]["candidate"])
    tri = trace.triangle
    assert tri is not None and tri.cell is not None
    # ∂c_2/∂c_1 = f_2 = 0: the conveyor belt is cut; the cell gradient before step 2 only flows via h
    bare = run_trace(model, "erase")
    assert bare.triangle is not None and bare.triangle.cell is not None
    assert tri.cell[0, 3, 1] < bare.triangle.cell[0, 3, 1]


@pytest.mark.parametrize("arch", ["lstm", "peephole", "cifg", "gru"])
def test_a_clamped_gate_reads_its_constant(arch: str) -> None:
    model = random_model(arch, hidden_size=8, layers=2, seed=3)
    gate = SPECS[arch].gates[1]
    iv = {"gate": gate, "value": 0.25, "layer": 1, "units": [2, 5], "start": 1, "stop": 4}
    doc = trace_document(model, "clamp me", interventions=[iv])
    for t, step in enumerate(doc["steps"]):
        layer = step["layers"][1]
        values = layer["gates"][gate]
        if 1 <= t < 4:
            assert values[2] == values[5] == 0.25
            assert layer["clamped"] == {gate: [2, 5]}
        else:
            assert layer["clamped"] == {}
            assert values[2] != 0.25
        assert step["layers"][0]["clamped"] == {}
    assert doc["interventions"] == [{**iv, "value": 0.25}]


@pytest.mark.parametrize(
    ("iv", "message"),
    [
        ({"gate": "reset", "value": 0.5}, "lstm has no gate 'reset'"),
        ({"gate": "forget", "value": 1.5}, "lives in [0, 1]"),
        ({"gate": "candidate", "value": -2}, "lives in [-1, 1]"),
        ({"gate": "forget", "value": 0, "layer": 2}, "layer 2 does not exist"),
        ({"gate": "forget", "value": 0, "units": [99]}, "unit 99 is out of range"),
        ({"gate": "forget", "value": 0, "units": []}, "non-empty list"),
        ({"gate": "forget", "value": "1"}, "finite number"),
        ({"gate": "forget", "value": float("nan")}, "finite number"),
        ({"gate": "forget", "value": 0, "colour": "red"}, "unknown field"),
        ("forget=0", "must be an object"),
    ],
)
def test_bad_interventions_say_what_is_wrong(iv: object, message: str) -> None:
    model = random_model("lstm", hidden_size=8, layers=2)
    with pytest.raises(TraceInputError, match=message.replace("[", r"\[").replace("]", r"\]")) as e:
        run_trace(model, "text", interventions=[iv])
    assert e.value.code == "bad_intervention"


@pytest.mark.parametrize(
    ("start", "stop", "why"),
    [
        (5, 5, "its stop (step 5) is not after its start (step 5)"),
        (99999, 0, "its stop (step 0) is not after its start (step 99999)"),
        (None, 0, "its stop (step 0) is not after its start (step 0)"),
        (4, None, "it starts at step 4 and this text's last step is 3"),
        (7, 9, "it starts at step 7 and this text's last step is 3"),
    ],
)
def test_a_range_that_covers_no_step_clamps_nothing_and_says_so(start: int | None, stop: int | None, why: str) -> None:
    model = random_model("lstm", hidden_size=8, seed=3)
    applied = {"gate": "input", "value": 0.5, "stop": 2}
    empty = {"gate": "forget", "value": 0.0, "start": start, "stop": stop}
    alone = trace_document(model, "text", interventions=[applied])
    doc = trace_document(model, "text", interventions=[applied, empty])
    assert doc["notices"] == [f"intervention 1 (forget gate) clamps nothing: {why}"]
    assert doc["interventions"][1] == {**empty, "layer": 0, "units": None}  # as asked, not rewritten
    assert doc["steps"] == alone["steps"] and doc["gradients"] == alone["gradients"]


def test_a_range_past_the_end_still_clamps_the_steps_it_covers() -> None:
    doc = trace_document(
        random_model("lstm", hidden_size=8),
        "text",
        interventions=[{"gate": "forget", "value": 0.0, "start": 2, "stop": 99}],
    )
    assert doc["notices"] == []
    assert [bool(step["layers"][0]["clamped"]) for step in doc["steps"]] == [False, False, True, True]


def test_rnn_has_nothing_to_clamp() -> None:
    with pytest.raises(TraceInputError, match="no gates"):
        run_trace(random_model("rnn"), "abc", interventions=[{"gate": "forget", "value": 0}])


def test_unknown_tokens_are_marked_not_dropped() -> None:
    model = random_model("lstm")
    doc = trace_document(model, "a€b", gradients=False)
    assert [t["text"] for t in doc["tokens"]] == ["a", "€", "b"]
    assert [t["unknown"] for t in doc["tokens"]] == [False, True, False]
    assert doc["tokens"][1]["id"] == model.vocab.index("<unk>")


def test_word_tokenizer_splits_numbers_and_punctuation() -> None:
    vocab = ["<unk>", "i", "have", "been", "in", "spain", "for", "10", "years", ".", ","]
    model = random_model("lstm", vocab=vocab, tokenizer="word")
    doc = trace_document(model, "I have been in Spain for 10 years, mate.", target="spain")
    assert [t["text"] for t in doc["tokens"]] == ["i", "have", "been", "in", "spain", "for", "10", "years", ",",
                                                  "mate", "."]  # fmt: skip
    assert doc["tokens"][9]["unknown"]
    assert doc["steps"][-1]["expected"]["token"] == "spain"
    assert doc["steps"][-1]["loss"] == pytest.approx(-np.log(doc["steps"][-1]["expected"]["p"]), rel=1e-6)


@pytest.mark.parametrize(
    ("text", "target", "code"),
    [("", None, "empty_text"), ("abc", "zz", "bad_target"), ("abc", "€", "bad_target")],
)
def test_bad_text_and_targets(text: str, target: str | None, code: str) -> None:
    with pytest.raises(TraceInputError) as e:
        run_trace(random_model("lstm"), text, target=target)
    assert e.value.code == code


def test_document_shape_and_precision() -> None:
    model = random_model("lstm", layers=2, hidden_size=5)
    doc = trace_document(model, "abcd", target="e")
    trace = run_trace(model, "abcd", target="e")
    assert len(doc["steps"]) == 4
    step = doc["steps"][1]
    assert set(step["layers"][0]["gates"]) == {"input", "forget", "candidate", "output"}
    assert len(step["top"]) == 10
    assert step["top"] == sorted(step["top"], key=lambda x: -x["p"])
    assert step["expected"]["token"] == "c"
    rows = doc["gradients"]["layers"][1]["hidden"]
    assert [len(r) for r in rows] == [1, 2, 3, 4]
    # at least 7 significant digits survive the trip to JSON
    exact = trace.tape.caches[0][1]["c"][0]
    np.testing.assert_allclose(step["layers"][0]["cell"], exact, rtol=5e-7)
    assert doc["gradients"]["params"]["step"] == 3
    assert set(doc["gradients"]["params"]["layers"][0]) == {"input", "forget", "candidate", "output"}
    assert trace_document(model, "abcd", gradients=False)["gradients"] is None


def test_round_sig_keeps_seven_digits() -> None:
    a = np.array([0.123456789, -98765.4321, 1.5e-12, 0.0, 3.0, 123456789.0, -1e30])
    r = round_sig(a)
    assert [repr(x) for x in r.tolist()] == ["0.1234568", "-98765.43", "1.5e-12", "0.0", "3.0", "123456800.0",
                                             "-1e+30"]  # fmt: skip


def test_round_sig_keeps_the_smallest_numbers_numbers() -> None:
    """A gate clamped to 5e-324 (schemathesis's choice) showed null: 10**330 overflowed to inf."""
    a = np.array([5e-324, -1.23456789e-310, 1.23456789e-300, 1e-308])
    assert round_sig(a).tolist() == [5e-324, -1.23456789e-310, 1.234568e-300, 1e-308]
    doc = trace_document(random_model("lstm"), "ab", interventions=[{"gate": "output", "value": 5e-324}])
    assert all(v == 5e-324 for step in doc["steps"] for v in step["layers"][0]["gates"]["output"])


def test_loss_rows_are_null_without_a_next_token() -> None:
    doc = trace_document(random_model("gru"), "abc")
    assert doc["steps"][-1]["loss"] is None and doc["steps"][-1]["expected"] is None
    assert doc["gradients"]["layers"][0]["hidden"][-1] is None
    assert doc["gradients"]["layers"][0]["cell"] is None
