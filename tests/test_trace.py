"""Incremental and lazy traces equal fresh ones to the last bit: a trace extended from an earlier one, and
gradient rows computed in any order or subset, hold exactly the numbers of a fresh whole trace."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from app.api.tracer import trace_bytes
from app.nn import ARCHS, random_model, run_trace
from app.nn import model as nn_model
from app.nn.document import Frames, parse_frame
from app.nn.trace import ROW_BLOCK, TOP_K, Trace, gradient_triangle, kept_rows, kept_steps

CLAMPS = {
    "lstm": [{"gate": "forget", "value": 0.0, "start": 5}],
    "peephole": [{"gate": "input", "value": 1.0, "units": [0, 2], "stop": 12}],
    "cifg": [{"gate": "forget", "value": 0.5, "layer": 1, "start": 3, "stop": 30}],
    "gru": [{"gate": "update", "value": 1.0, "units": [1], "start": 2}],
    "rnn": None,
    "irnn": None,
}
TEXT = "the clouds are in the sky and the keys to the cabinet are on the table"


def same(a: np.ndarray | None, b: np.ndarray | None, what: str) -> None:
    if a is None or b is None:
        assert a is None and b is None, what
        return
    assert a.shape == b.shape, what
    assert np.array_equal(a, b, equal_nan=True), f"{what}: not bit for bit equal"


def assert_identical(got: Trace, fresh: Trace) -> None:
    assert [t.id for t in got.tokens] == [t.id for t in fresh.tokens]
    same(got.logits, fresh.logits, "logits")
    same(got.logp, fresh.logp, "log p")
    same(got.losses, fresh.losses, "losses")
    same(got.ranked, fresh.ranked, "ranked outputs")
    same(got.ranked_p, fresh.ranked_p, "their p")
    same(got.forecast, fresh.forecast, "forecasts")
    assert got.expected == fresh.expected
    for l, (a, b) in enumerate(zip(got.columns, fresh.columns, strict=True)):
        for g in b.act:
            same(a.act[g], b.act[g], f"layer {l} {g}")
        for g in b.pre:
            same(a.pre[g], b.pre[g], f"layer {l} pre {g}")
        for key in ("c", "tanh_c", "h", "hw_n"):
            same(getattr(a, key), getattr(b, key), f"layer {l} {key}")
    ta, tb = got.triangle, fresh.triangle
    assert (ta is None) == (tb is None)
    if ta is not None and tb is not None:
        assert ta.complete and tb.complete
        same(ta.loss_steps, tb.loss_steps, "loss steps")
        same(ta.hidden, tb.hidden, "‖∂L/∂h‖")
        same(ta.cell, tb.cell, "‖∂L/∂c‖")
        assert ta.param_step == tb.param_step
        assert ta.norms == tb.norms
        same(ta.attribution, tb.attribution, "attribution")
        assert (ta.params is None) == (tb.params is None)
        if ta.params is not None and tb.params is not None:
            for name, v in tb.params.params.items():
                same(ta.params.params[name], v, f"∂L/∂{name}")


EDITS = [
    (TEXT, TEXT + "s", None, None),  # a letter typed at the end
    (TEXT, TEXT + " x", "a", "a"),  # two letters, with a target
    (TEXT + "s", TEXT + "s", None, "e"),  # the same text, a new target
    (TEXT, TEXT[:30] + "X" + TEXT[31:], None, None),  # an edit in the middle
    (TEXT, TEXT[:40], "b", None),  # text deleted at the end
    ("z" + TEXT, TEXT, None, None),  # the first token changed: nothing shared
]


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("arch", ARCHS)
def test_an_extended_trace_is_the_fresh_one_bit_for_bit(arch: str, layers: int) -> None:
    model = random_model(arch, layers=layers, hidden_size=9, seed=layers)
    clamps = CLAMPS[arch]
    if clamps and layers == 1:
        clamps = [{**c, "layer": 0} for c in clamps]
    for before, after, t0, t1 in EDITS:
        base = run_trace(model, before, t0, clamps)
        got = run_trace(model, after, t1, clamps, base=base)
        fresh = run_trace(model, after, t1, clamps)
        assert_identical(got, fresh)
        assert got.keep == kept_steps(base, fresh)


def test_a_trace_keeps_the_ranking_not_the_distribution() -> None:
    """A step keeps its TOP_K likeliest tokens, not V floats; the logits decoded again are the ones it ranked
    and scored, and a trace that lets ∂L/∂θ go keeps their norms, the same as a trace that keeps them."""
    words = [a + b for a in "abcdefghijkl" for b in "abcdefghijklmnopqrstuvwxy"]  # 300 words
    vocab = ["<unk>", *words]
    model = random_model("lstm", vocab=vocab, tokenizer="word", hidden_size=8, seed=6)
    text = " ".join(words[(k * 37) % 300] for k in range(ROW_BLOCK + 9))
    trace = run_trace(model, text, "ab")
    assert trace.ranked.shape == trace.ranked_p.shape == (trace.steps, TOP_K)
    probs = trace.probs  # decoded again
    order = np.lexsort((np.arange(len(vocab))[None].repeat(trace.steps, 0), -probs), axis=1)[:, :TOP_K]
    same(trace.ranked, order, "the ranking of the decoded distribution")
    same(trace.ranked_p, np.take_along_axis(probs, order, 1), "its p")
    same(trace.losses, -trace.logp[np.arange(trace.steps), [*trace.ids[1:], trace.target_pieces[0].id]], "losses")
    server = run_trace(model, text, "ab", param_grads=False)
    assert server.triangle is not None and server.triangle.params is None and trace.triangle is not None
    assert server.triangle.norms == trace.triangle.norms
    same(server.triangle.hidden, trace.triangle.hidden, "‖∂L/∂h‖")
    assert trace_bytes(server) < trace.steps * len(vocab) * 8  # less than one (T, V) float64 array
    grown = run_trace(model, text + " ac", "ad", param_grads=False, base=server)
    assert_identical(grown, run_trace(model, text + " ac", "ad", param_grads=False))


def test_what_is_kept() -> None:
    model = random_model("lstm", hidden_size=6)
    base = run_trace(model, "abcdef")
    assert run_trace(model, "abcdefg", base=base).keep == 5  # step 5 now predicts "g": sent again
    assert run_trace(model, "abcdef", "x", base=base).keep == 5  # a new target changes the last step only
    assert run_trace(model, "abcdef", base=base).keep == 6  # nothing changed
    assert run_trace(model, "abXdef", base=base).keep == 1  # step 1 now predicts "X"
    clamp = [{"gate": "forget", "value": 1.0, "start": 3}]
    assert run_trace(model, "abcdef", None, clamp, base=base).keep == 3  # clamps from step 3 on


def test_clamp_changes_end_the_shared_prefix_and_stay_exact() -> None:
    model = random_model("gru", layers=2, hidden_size=7, seed=3)
    base = run_trace(model, TEXT, "a", [{"gate": "reset", "value": 0.0, "start": 20}])
    moved = [{"gate": "reset", "value": 0.0, "start": 25}]
    got = run_trace(model, TEXT, "a", moved, base=base)
    assert got.keep == 20
    assert_identical(got, run_trace(model, TEXT, "a", moved))


@pytest.mark.parametrize("arch", ["lstm", "gru", "irnn"])
def test_gradient_rows_in_any_order_or_subset_are_the_whole_triangle(arch: str) -> None:
    model = random_model(arch, layers=2, hidden_size=8, seed=5)
    text = (TEXT * 2)[: ROW_BLOCK * 2 + 7]  # three blocks, the last one partial
    fresh = run_trace(model, text, "a")
    lazy = run_trace(model, text, "a", gradients=False)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(lazy.tokens)).tolist()
    for k in range(0, len(order), 11):
        gradient_triangle(lazy, order[k : k + 11])
    assert_identical(lazy, fresh)


def test_rows_kept_from_a_lazy_base_are_only_those_it_computed() -> None:
    model = random_model("lstm", hidden_size=6, seed=2)
    base = run_trace(model, TEXT, gradients=False)
    gradient_triangle(base, [3, 10])
    got = run_trace(model, TEXT + "!", gradients=False, base=base)
    assert got.triangle is not None and [int(t) for t in got.triangle.loss_steps[got.triangle.computed]] == [3, 10]
    gradient_triangle(got)
    assert_identical(got, run_trace(model, TEXT + "!"))


def test_rows_of_a_partial_last_block_are_computed_again_and_whole_blocks_kept() -> None:
    """A block's rows depend on how many rows it has: typing at the end keeps the whole blocks' rows only."""
    model = random_model("lstm", layers=2, hidden_size=6, seed=2)
    text = (TEXT * 2)[: ROW_BLOCK * 2 + 5]
    base = run_trace(model, text)
    got = run_trace(model, text + "s", gradients=False, base=base)
    assert (got.keep, kept_rows(base, got)) == (len(text) - 1, 2 * ROW_BLOCK)
    assert got.triangle is not None
    assert got.triangle.loss_steps[got.triangle.computed].tolist() == list(range(2 * ROW_BLOCK))
    gradient_triangle(got)
    assert_identical(got, run_trace(model, text + "s"))
    # the same length: every kept step's row is kept, the partial block's too
    same_length = run_trace(model, text[:-1] + "Q", base=base)
    assert kept_rows(base, same_length) == same_length.keep == len(text) - 2


def test_a_sweep_carries_only_the_rows_that_are_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    """The triangle's work is its T(T+1)/2 row-steps per layer, not ROW_BLOCK rows for every step of every block."""
    model = random_model("lstm", layers=2, hidden_size=5, seed=1)
    text = (TEXT * 2)[: ROW_BLOCK * 2 + 3]
    trace = run_trace(model, text, "a", gradients=False)  # with a target every step has a loss
    carried = []
    step_backward = nn_model.step_backward

    def counting(spec, p, cache, dh, dc):  # type: ignore[no-untyped-def]
        carried.append(dh.shape[0])
        return step_backward(spec, p, cache, dh, dc)

    monkeypatch.setattr(nn_model, "step_backward", counting)
    gradient_triangle(trace)
    T = trace.steps
    assert sum(carried) == model.layers * T * (T + 1) // 2
    monkeypatch.undo()
    assert_identical(trace, run_trace(model, text, "a"))


def test_a_binary_frame_is_what_docs_protocol_md_says() -> None:
    model = random_model("lstm", layers=2, hidden_size=5)
    trace = run_trace(model, "abcd", "e")
    frames = Frames(trace)
    data = frames.steps(7, 1, 2)
    magic, stream, kind, dtype, first, count, values = struct.unpack_from("<4sIHHIII", data)
    assert (magic, stream, kind, dtype, first, count) == (b"LXT1", 7, 1, 0, 1, 2)
    step = frames.layout.step_size
    assert values == 2 * step and len(data) == 24 + 4 * values
    record = np.frombuffer(data, "<f4", step, 24 + 4 * step)  # the second record: step 2
    names = [n for n, _ in frames.layout.step]
    at = sum(size for n, size in frames.layout.step[: names.index("layers.1.gates.forget")])
    np.testing.assert_array_equal(record[at : at + 5], trace.columns[1].act["forget"][2].astype("<f4"))
    rows = frames.rows(7, 2, 2)
    _, kind, first, count, vals = parse_frame(rows)
    assert (kind, first, count, vals.dtype) == (3, 2, 2, np.dtype("<f8"))
    assert len(vals) == (3 + 4) * 2 * 2  # rows 2 and 3: t + 1 numbers for h and c of each layer
    np.testing.assert_array_equal(vals[:3], trace.triangle.hidden[0, 2, :3])  # type: ignore[union-attr]


def test_the_meta_and_params_are_built_once_and_a_caller_cannot_change_them() -> None:
    # Every socket streaming a cached trace sends the same meta; the stream adds its notices to its copy.
    trace = run_trace(random_model("lstm", hidden_size=5), "abcd", "e")
    frames = Frames(trace)
    first = frames.meta()
    first["notices"] = [*first["notices"], "this socket's own"]
    again = frames.meta()
    assert "this socket's own" not in again["notices"] and again is not first
    assert again["tokens"] is first["tokens"]  # built once, not per call
    assert again["tokens"][0] == {"text": "a", "id": trace.tokens[0].id, "unknown": False, "join": False}
    assert frames.params() is frames.params() is not None


def test_row_of_is_the_row_of_each_loss_step_and_none_elsewhere() -> None:
    trace = run_trace(random_model("lstm", hidden_size=5), "abcdef")
    tri = trace.triangle
    assert tri is not None
    assert [tri.row_of(int(t)) for t in tri.loss_steps] == list(range(len(tri.loss_steps)))
    assert tri.row_of(-1) is None and tri.row_of(trace.steps + 3) is None


def test_a_lean_trace_sends_the_same_frames_and_extends_exactly() -> None:
    model = random_model("lstm", layers=2, hidden_size=7, seed=4)
    exact, lean = run_trace(model, TEXT, gradients=False), run_trace(model, TEXT, gradients=False, lean=True)
    assert lean.columns[0].act["forget"].dtype == np.float32 and lean.columns[0].tanh_c is None
    for kind in ("steps", "pre"):
        assert getattr(Frames(lean), kind)(1, 0, lean.steps) == getattr(Frames(exact), kind)(1, 0, exact.steps)
    grown = run_trace(model, TEXT + "s", gradients=False, base=lean, lean=True)
    assert grown.keep == len(TEXT) - 1
    assert_identical(grown, run_trace(model, TEXT + "s", gradients=False, lean=True))
    # an exact trace never builds on a lean one (its activations are not exact)
    assert run_trace(model, TEXT + "s", gradients=False, base=lean).keep == 0
    with pytest.raises(ValueError, match="lean"):
        gradient_triangle(lean)


PIECES = ["<unk>", "a", "b", "c", "ab", "##a", "##b", "##c", "##ca", "."]


@pytest.mark.parametrize("arch", ["lstm", "gru"])
def test_an_extended_trace_with_a_target_of_pieces_is_the_fresh_one(arch: str) -> None:
    """A target of word pieces (read on after the text) is taken from the base only when it is the same."""
    model = random_model(arch, vocab=PIECES, tokenizer="word", hidden_size=6, seed=4)
    text = "a b ab c a b c ab a b c a b"
    for before, after, t0, t1 in [
        (text, text, "bcab", "bcab"),  # nothing changed
        (text, text, "bcab", "bca"),  # another target of the same first piece
        (text, text, "b", "bcab"),  # one piece, then three
        (text, text + " c", "bcab", "bcab"),  # a word typed, the same target
        (text + " c", text, "bcab", "ab"),  # a word deleted, a whole-word target
    ]:
        base = run_trace(model, before, t0)
        got = run_trace(model, after, t1, base=base)
        fresh = run_trace(model, after, t1)
        assert_identical(got, fresh)
        assert got.target is not None and got.target.text == t1
        assert [p.id for p in got.target_pieces] == [p.id for p in fresh.target_pieces]
