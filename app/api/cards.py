"""Model cards as the API shows them: the model.json card with the tokenizer summarised."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from app.nn import Model, Zoo

PREFERRED_DEFAULT = "lecture-gru"  # the lecture model that best understands a person's own sentences (README)


def public_card(model: Model) -> dict[str, Any]:
    """The card without the vocabulary (which can be tens of thousands of words) plus the clampable gates."""
    card = {k: v for k, v in model.card.items() if k != "tokenizer"}
    card.update(
        tokenizer=model.tokenizer.kind,
        vocab_size=len(model.vocab),
        gates={gate: model.spec.gate_range(gate) for gate in model.spec.gates},
        vocab_signature=vocab_signature(model),
    )
    card.setdefault("metrics", {})
    return card


def vocab_signature(model: Model) -> str:
    """Equal for models that read text into the same tokens (compare mode pairs only those)."""
    blob = json.dumps(model.tokenizer.config(), ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def detail_card(model: Model) -> dict[str, Any]:
    return {**public_card(model), "vocab": model.vocab}


def default_model_id(zoo: Zoo) -> str | None:
    if PREFERRED_DEFAULT in zoo.models:
        return PREFERRED_DEFAULT
    return next(iter(zoo.models), None)
