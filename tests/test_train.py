"""Training: the loss falls, a seed reproduces a run, clipping clips, and every shipped model reproduces
the validation metric written in its card."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from app.nn import load_model, shipped_models_dir
from app.train.optim import Adam, clip_by_global_norm
from app.train.recipe import Recipe, text_loss
from app.train.run import train
from app.train.tasks import get_evaluate, recall

SHIPPED = sorted(p.parent for p in shipped_models_dir().glob("*/model.json"))


def tiny_recall(**changes: object) -> Recipe:
    from dataclasses import replace

    settings: dict = {"hidden": {"lstm": 8, "rnn": 8}, "levels": [4, 8], "max_steps": 300, "eval_every": 100}
    return replace(recall.RECIPE, **{**settings, **changes})


def test_a_tiny_model_learns_in_seconds() -> None:
    log = io.StringIO()
    _, info = train(tiny_recall(), "lstm", seed=0, log=log)
    losses = [h["loss"] for h in info["history"]]
    assert losses[-1] < 0.25 * np.log(len(recall.RECALL_VOCAB)), losses  # chance is log V
    assert info["steps"] == 300 and info["tokens_per_second"] > 0
    assert "tok/s" in log.getvalue() and "ETA" in log.getvalue()


def test_a_seed_reproduces_a_run() -> None:
    a, _ = train(tiny_recall(max_steps=15), "rnn", seed=3, log=io.StringIO())
    b, _ = train(tiny_recall(max_steps=15), "rnn", seed=3, log=io.StringIO())
    c, _ = train(tiny_recall(max_steps=15), "rnn", seed=4, log=io.StringIO())
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert not np.array_equal(a.params["layers.0.weight_hh"], c.params["layers.0.weight_hh"])


def test_forget_bias_starts_at_one() -> None:
    model, _ = train(tiny_recall(max_steps=1), "lstm", seed=0, log=io.StringIO())
    H = model.hidden_size
    # after one Adam step of size ≤ lr the bias is still ~1: the gate starts open
    assert np.allclose(model.params["layers.0.bias_ih"][H : 2 * H], 1.0, atol=0.01)


def test_clip_by_global_norm() -> None:
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    assert clip_by_global_norm(grads, 1.0) == pytest.approx(5.0)
    assert np.sqrt((grads["a"] ** 2).sum() + (grads["b"] ** 2).sum()) == pytest.approx(1.0)
    small = {"a": np.array([0.1])}
    clip_by_global_norm(small, 1.0)
    assert small["a"][0] == 0.1


def test_adam_minimises_a_quadratic() -> None:
    x = {"x": np.array([5.0, -3.0])}
    opt = Adam(x, lr=0.1)
    for _ in range(500):
        opt.step({"x": 2 * x["x"]})
    assert np.abs(x["x"]).max() < 1e-2


def test_the_models_we_ship_are_all_here_and_small() -> None:
    ids = {p.name for p in SHIPPED}
    assert {"recall-lstm", "recall-gru", "recall-rnn", "counting-lstm", "lecture-lstm", "lecture-gru",
            "lecture-rnn"} <= ids  # fmt: skip
    total = sum(f.stat().st_size for p in SHIPPED for f in p.iterdir())
    assert total < 40e6


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_model_reproduces_its_card(path: Path) -> None:
    model = load_model(path)
    card = json.loads((path / "model.json").read_text())
    assert card["id"] == path.name
    if card["provenance"]["steps"] == 0:  # untrained on purpose: its card promises a forget-gate bias
        H, bias = model.hidden_size, float(card["id"].rsplit("bias", 1)[1])
        assert np.all(model.params["layers.0.bias_ih"][H : 2 * H] + model.params["layers.0.bias_hh"][H : 2 * H]
                      == bias)  # fmt: skip
        return
    metrics = card["metrics"]
    check = metrics.get("check")
    if check is not None:  # real-text models carry a fixed sample of their validation text
        got = text_loss(model, check["text"], rows=1)
        assert got == pytest.approx(check["value"], abs=1e-5)
    evaluate = get_evaluate(card["provenance"]["recipe"])
    if evaluate is None:  # its evaluation needs the corpus: the check sample above is what can be checked
        assert check is not None
        return
    got = evaluate(model, True)
    assert got["val"] == pytest.approx(metrics["validation"]["value"], abs=1e-6)
    for key, value in metrics.items():
        if key in got and key != "val":
            assert got[key] == value, key  # every figure the card states, e.g. lecture's hand-written set
