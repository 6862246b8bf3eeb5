"""Model cards as the API shows them: the model.json card with the tokenizer summarised."""

from __future__ import annotations

from typing import Any

from app.nn import Model, Zoo

PREFERRED_DEFAULT = "lecture-lstm"


def public_card(model: Model) -> dict[str, Any]:
    """The card without the vocabulary (which can be tens of thousands of words) plus the clampable gates."""
    card = {k: v for k, v in model.card.items() if k != "tokenizer"}
    card.update(
        tokenizer=model.tokenizer.kind,
        vocab_size=len(model.vocab),
        gates={gate: model.spec.gate_range(gate) for gate in model.spec.gates},
    )
    card.setdefault("metrics", {})
    return card


def detail_card(model: Model) -> dict[str, Any]:
    return {**public_card(model), "vocab": model.vocab}


def default_model_id(zoo: Zoo) -> str | None:
    if PREFERRED_DEFAULT in zoo.models:
        return PREFERRED_DEFAULT
    return next(iter(zoo.models), None)
