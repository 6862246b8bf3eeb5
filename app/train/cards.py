"""Every model card the training code writes is built here: the shape and tokenizer of a new model, the
metrics and provenance of a trained one, the promise of an untrained one. A card is `model.json`
(app/nn/files.py checks its fields); the explorer, `lstm-explainer models` and the tests read it.

The card says what kind of model it is (`task_kind`, from the recipe: "language-model", "classifier" with
its `classes`, or "forecaster" with its `normalisation`) so that models of every kind share the zoo and cards.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..nn.model import Model
from ..nn.tokenizer import tokenizer_from_config
from .recipe import Recipe, text_loss


def new_card(recipe: Recipe, arch: str, hidden: int, model_id: str | None = None) -> dict[str, Any]:
    """The fields a model of this recipe and architecture has before any training."""
    return {
        "id": model_id or f"{recipe.name}-{arch}",
        "title": f"{recipe.title} ({arch.upper()})",
        "task_kind": recipe.kind,
        "arch": arch,
        "layers": recipe.layers,
        "input_size": recipe.input_size,
        "hidden_size": hidden,
        "tokenizer": tokenizer_from_config(recipe.tokenizer).config(),
        "task": recipe.task,
        "description": recipe.description,
        "example": recipe.example[0],
        "example_target": recipe.example[1],
        **({"classes": list(recipe.classes)} if recipe.kind == "classifier" else {}),
        **({"normalisation": dict(recipe.normalisation or {})} if recipe.kind == "forecaster" else {}),
    }


def trained_card(model: Model, recipe: Recipe, info: dict[str, Any]) -> dict[str, Any]:
    """A trained model's card: the recipe's full evaluation of exactly this model, and how it was made."""
    metrics = recipe.evaluate(model, True)
    card = dict(model.card)
    card["metrics"] = {
        "validation": {"name": recipe.val_name, "value": round(metrics["val"], 6)},
        **{k: v for k, v in metrics.items() if k != "val"},
        "train_loss": info["train_loss"],
        "tokens_per_second": info["tokens_per_second"],
    }
    if recipe.check_sample is not None:
        sample = recipe.check_sample()
        card["metrics"]["check"] = {"text": sample, "value": round(text_loss(model, sample, rows=1), 7)}
    if recipe.card_extras is not None:
        card.update(recipe.card_extras(model))
    card["parameters"] = model.n_params()
    card["provenance"] = {
        "trained_with": info.get(
            "command", f"lstm-explainer train {recipe.name} --arch {model.arch} --seed {info['seed']}"
        ),
        "data": recipe.provenance or {"generator": f"app/train/tasks/{recipe.name}.py"},
        **{k: v for k, v in info.items() if k not in ("train_loss", "command")},
    }
    return card


def untrained_card(
    recipe: Recipe, arch: str, hidden: int, forget_bias: float, seed: int, params: dict[str, np.ndarray],
    model_id: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """An untrained model in a recipe's shape: what training starts from (for the forget-bias lesson)."""
    bias = f"{forget_bias:g}"
    return {
        **new_card(recipe, arch, hidden, model_id or f"untrained-{recipe.name}-{arch}-bias{bias}"),
        "title": f"Untrained {arch.upper()}, forget bias {bias}",
        "task": f"no training: the {recipe.name} model's shape with the forget-gate bias at {bias}",
        "description": (
            f"Random weights in the shape of the {recipe.name} model, forget-gate bias initialised to {bias}. "
            "Compare bias 0 with bias +1: a forget gate that starts near σ(0) = 0.5 halves the gradient along "
            "the cell state at every step; one that starts near σ(1) ≈ 0.73 lets it reach much further back."
        ),
        "metrics": {},
        "parameters": int(sum(v.size for v in params.values())),
        "provenance": {
            "trained_with": f"lstm-explainer init {recipe.name} --arch {arch} --forget-bias {bias} --seed {seed}",
            "recipe": recipe.name,
            "seed": seed,
            "steps": 0,
        },
    }
