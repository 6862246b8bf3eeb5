"""The classifier and the forecaster (issue 14): their heads' gradients by central differences, the trace's
numbers equal to a step-by-step run and to the training loss's gradients, incremental traces equal to fresh
ones, the per-token attribution, the documents and frames, and the refusals of bad input."""

from __future__ import annotations

import numpy as np
import pytest
from test_gradcheck import numeric, rel_err
from test_trace import assert_identical

from app.nn import ARCHS, ModelFileError, Stepper, TraceInputError, random_model, run_trace
from app.nn.document import Assembler, Frames, document, parse_frame
from app.nn.files import load_model, save_model
from app.nn.model import Model

WORDS = ["<unk>", "the", "film", "was", "not", "good", "bad", "but", "very", "fun", "."]
SENTENCE = "the film was not good but very fun ."


def classifier(arch: str = "lstm", layers: int = 1, seed: int = 0, classes: list[str] | None = None) -> Model:
    return random_model(arch, vocab=WORDS, tokenizer="word", hidden_size=5, input_size=3, layers=layers, seed=seed,
                        kind="classifier", classes=classes or ["negative", "neutral", "positive"])  # fmt: skip


def forecaster(arch: str = "lstm", layers: int = 1, seed: int = 0) -> Model:
    return random_model(arch, hidden_size=5, layers=layers, seed=seed, kind="forecaster", normalisation=(20.0, 8.0))


SERIES = "12, 18.5 25 31, 22 14 9.75 16 27 30 24"


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("arch", ARCHS)
def test_classifier_head_gradients_by_central_differences(arch: str, layers: int) -> None:
    model = classifier(arch, layers)
    rng = np.random.default_rng(3)
    B, T = 3, 6
    tokens = rng.integers(0, len(WORDS), (B, T))
    targets = np.zeros((B, T), int)
    targets[:, -1] = rng.integers(0, 3, B)
    weights = np.zeros((B, T))
    weights[:, -1] = 1.0 / B  # the last step only, as in training
    loss = lambda: model.loss_and_grads(tokens, targets, weights)[0]  # noqa: E731
    _, grads, _ = model.loss_and_grads(tokens, targets, weights)
    assert set(grads.params) == set(model.params)
    assert model.params["decoder.weight"].shape == (3, 5)
    for name, p in model.params.items():
        err = rel_err(grads.params[name], numeric(loss, p))
        assert err < 1e-6, f"{arch} L={layers} {name}: relative error {err:.2e}"


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("arch", ARCHS)
def test_forecaster_head_gradients_by_central_differences(arch: str, layers: int) -> None:
    model = forecaster(arch, layers)
    assert "embedding.weight" not in model.params and model.params["layers.0.weight_ih"].shape[1] == 1
    rng = np.random.default_rng(4)
    values = rng.normal(0, 1, (2, 7))
    inputs, targets = values[:, :-1], values[:, 1:]
    weights = rng.uniform(0.2, 1.0, inputs.shape)
    loss = lambda: model.loss_and_grads(inputs, targets, weights)[0]  # noqa: E731
    value, grads, _ = model.loss_and_grads(inputs, targets, weights)
    z = model.forward(inputs).logits[..., 0].T
    assert value == pytest.approx(float((0.5 * (z - targets) ** 2 * weights).sum()), rel=1e-12)
    assert set(grads.params) == set(model.params)
    for name, p in model.params.items():
        err = rel_err(grads.params[name], numeric(loss, p))
        assert err < 1e-6, f"{arch} L={layers} {name}: relative error {err:.2e}"


@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn"])
def test_classifier_trace_is_the_step_by_step_run_and_the_training_loss(arch: str) -> None:
    model = classifier(arch, 2)
    trace = run_trace(model, SENTENCE, "positive")
    ids = [t.id for t in trace.tokens]
    stepper = Stepper(model)
    for t, k in enumerate(ids):
        _, logits = stepper.step(k)
        np.testing.assert_allclose(trace.logits[t], logits, rtol=1e-12, atol=1e-14)
    # only the last step is scored, with the target label
    assert trace.expected == [None] * (len(ids) - 1) + [2]
    assert np.isnan(trace.losses[:-1]).all()
    tri = trace.triangle
    assert tri is not None and tri.loss_steps.tolist() == [len(ids) - 1] and tri.params is not None
    weights = np.zeros((1, len(ids)))
    weights[0, -1] = 1.0
    targets = np.full((1, len(ids)), 2)
    loss, grads, _ = model.loss_and_grads(np.array([ids]), targets, weights)
    assert trace.losses[-1] == pytest.approx(loss, rel=1e-12)
    for name, g in grads.params.items():
        np.testing.assert_allclose(tri.params.params[name], g, rtol=1e-10, atol=1e-13, err_msg=name)


def test_forecaster_trace_is_the_step_by_step_run_and_the_training_loss() -> None:
    model = forecaster("lstm", 2)
    trace = run_trace(model, SERIES, "26")
    values = np.array([float(s) for s in SERIES.replace(",", " ").split()] + [26.0])
    x = (values - 20.0) / 8.0
    np.testing.assert_allclose(trace.ids, x[:-1], rtol=0, atol=0)
    stepper = Stepper(model)
    for t in range(trace.steps):
        _, z = stepper.step(x[t])
        np.testing.assert_allclose(trace.logits[t], z, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(trace.losses, 0.5 * (trace.logits[:, 0] - x[1:]) ** 2, rtol=1e-12)
    T = trace.steps
    weights = np.zeros((1, T))
    weights[0, -1] = 1.0
    _, grads, _ = model.loss_and_grads(x[None, :-1], x[None, 1:], weights)
    tri = trace.triangle
    assert tri is not None and tri.params is not None and tri.param_step == T - 1
    for name, g in grads.params.items():
        np.testing.assert_allclose(tri.params.params[name], g, rtol=1e-10, atol=1e-13, err_msg=name)
    doc = document(trace)
    forecast = doc["steps"][-1]["forecast"]
    assert forecast["expected"] == 26.0
    assert forecast["value"] == pytest.approx(20.0 + 8.0 * trace.logits[-1, 0], rel=1e-6)
    assert doc["model"]["task_kind"] == "forecaster" and doc["target"]["value"] == 26.0
    assert doc["tokens"][2] == {"text": "25", "id": 0, "unknown": False, "join": False, "value": 25.0}


def test_attribution_is_gradient_times_input_by_central_differences() -> None:
    """∂L/∂x_k · x_k is d/dα L at α = 0 when x_k is scaled by 1 + α (a token's embedding row, said once)."""
    model = classifier("lstm", 2, seed=2)
    text = "the film was not good but very fun"  # every word once
    attribution = run_trace(model, text, "negative").triangle.attribution  # type: ignore[union-attr]
    emb = model.params["embedding.weight"]
    for k, tok in enumerate(model.tokenizer.tokenize(text)):
        row = emb[tok.id].copy()

        def loss(a: float, row: np.ndarray = row, i: int = tok.id) -> float:
            emb[i] = row * (1 + a)
            model._xw_table = None  # the cached projection of the embedding
            out = float(run_trace(model, text, "negative", gradients=False).losses[-1])
            emb[i] = row
            model._xw_table = None
            return out

        numeric = (loss(1e-6) - loss(-1e-6)) / 2e-6
        assert attribution[k] == pytest.approx(numeric, rel=1e-5, abs=1e-10), k
    fore = forecaster("gru", seed=5)
    attr = run_trace(fore, SERIES).triangle.attribution  # type: ignore[union-attr]
    assert attr is not None and attr.shape == (11,) and attr[-1] == 0.0  # the last loss is L_9: x_10 unread
    assert np.abs(attr[:-1]).max() > 0


@pytest.mark.parametrize("arch", ["lstm", "gru"])
def test_incremental_traces_equal_fresh_ones(arch: str) -> None:
    model = classifier(arch)
    for old, new, t_old, t_new in [
        (SENTENCE, SENTENCE + " bad", "positive", "positive"),
        (SENTENCE, SENTENCE, "positive", "negative"),
        (SENTENCE, "the film was good but very fun .", None, "neutral"),
    ]:
        base = run_trace(model, old, t_old)
        got = run_trace(model, new, t_new, base=base)
        assert_identical(got, run_trace(model, new, t_new))
        np.testing.assert_array_equal(got.triangle.attribution, run_trace(model, new, t_new).triangle.attribution)  # type: ignore[union-attr]
    fore = forecaster(arch)
    for old, new, t_old, t_new in [
        (SERIES, SERIES + " 19", None, None),
        (SERIES, SERIES, "20", "21"),  # only the target's value changes: the last step is not kept
        (SERIES, SERIES.replace("22", "23"), None, None),  # a value in the middle: the step before it is redone
    ]:
        base = run_trace(fore, old, t_old)
        got = run_trace(fore, new, t_new, base=base)
        fresh = run_trace(fore, new, t_new)
        assert_identical(got, fresh)
        assert document(got) == document(fresh)
    assert run_trace(fore, SERIES.replace("22", "23"), base=run_trace(fore, SERIES)).keep == 3


def test_classifier_document_and_frames() -> None:
    model = classifier("lstm", 2)
    trace = run_trace(model, SENTENCE, "neutral")
    doc = document(trace)
    assert doc["model"]["task_kind"] == "classifier" and doc["model"]["classes"] == ["negative", "neutral", "positive"]
    for step in doc["steps"]:
        assert "top" not in step and [c["label"] for c in step["classes"]] != []
        ps = [c["p"] for c in step["classes"]]
        assert ps == sorted(ps, reverse=True) and sum(ps) == pytest.approx(1.0, abs=1e-6)
    last = doc["steps"][-1]
    assert last["expected"]["token"] == "neutral" and last["loss"] == pytest.approx(-np.log(last["expected"]["p"]))
    assert all(s["expected"] is None and s["loss"] is None for s in doc["steps"][:-1])
    assert len(doc["gradients"]["params"]["attribution"]) == trace.steps
    _check_frames(trace, doc)


def test_forecaster_frames() -> None:
    trace = run_trace(forecaster("peephole", 2), SERIES, "30")
    _check_frames(trace, document(trace))


def _check_frames(trace, doc) -> None:  # type: ignore[no-untyped-def]
    """The binary frames, assembled as docs/protocol.md says, are the JSON document at float32 precision."""
    frames = Frames(trace)
    meta = {**frames.meta(), "stream": 1, "keep": 0, "keep_rows": 0, "base": None, "gradients": True}
    got = Assembler(meta)
    got.frame(frames.steps(1, 0, trace.steps))
    got.frame(frames.pre(1, 0, trace.steps))
    got.frame(frames.rows(1, 0, trace.steps))
    got.params = frames.params()
    _, kind, _, count, _ = parse_frame(frames.steps(1, 0, 2))
    assert (kind, count) == (1, 2)
    _close(got.document(), doc)


def _close(a, b, where: str = "") -> None:  # type: ignore[no-untyped-def]
    if isinstance(b, dict):
        assert isinstance(a, dict) and a.keys() == b.keys(), f"{where}: {a.keys() if isinstance(a, dict) else a}"
        for k in b:
            _close(a[k], b[k], f"{where}.{k}")
    elif isinstance(b, list):
        assert isinstance(a, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{where}[{i}]")
    elif isinstance(b, float) and not isinstance(a, str):
        assert a == pytest.approx(b, rel=1e-5, abs=1e-6), where
    else:
        assert a == b, where


def test_bad_input_is_refused_with_the_reason() -> None:
    fore = forecaster()
    with pytest.raises(TraceInputError, match=r"'ten' \(item 3\) is not a number") as e:
        run_trace(fore, "1, 2, ten")
    assert e.value.code == "not_a_number"
    with pytest.raises(TraceInputError, match="one number"):
        run_trace(fore, "1 2", "3 4")
    with pytest.raises(TraceInputError, match="nothing to trace"):
        run_trace(fore, " , ,")
    with pytest.raises(TraceInputError, match="larger than"):
        run_trace(fore, "1 2 1e300")
    with pytest.raises(TraceInputError, match=r"labels \['negative', 'neutral', 'positive'\]"):
        run_trace(classifier(), SENTENCE, "good")


def test_cards_of_the_new_kinds_load_and_are_checked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for model in (classifier("gru"), forecaster("lstm")):
        path = save_model(model, tmp_path / model.kind)
        loaded = load_model(path)
        assert loaded.kind == model.kind
        np.testing.assert_array_equal(run_trace(loaded, SERIES if model.kind == "forecaster" else SENTENCE).logits,
                                      run_trace(model.astype(np.float32).astype(np.float64),
                                                SERIES if model.kind == "forecaster" else SENTENCE).logits)  # fmt: skip
    card = load_model(tmp_path / "forecaster").card
    broken = {k: v for k, v in card.items() if k != "normalisation"}
    from app.nn.files import check_card

    with pytest.raises(ModelFileError, match="normalisation"):
        check_card(broken)
    with pytest.raises(ModelFileError, match="classes"):
        check_card({**load_model(tmp_path / "classifier").card, "classes": ["only"]})
    with pytest.raises(ModelFileError, match="task_kind"):
        check_card({**card, "task_kind": "translator"})
