"""The recurrent core: pure NumPy cells, traced runs, gradients through time, model files.

Nothing here knows about the web; the server and the training code build on it.
"""

from __future__ import annotations

import numpy as np

from .cells import ARCHS, SPECS, CellSpec
from .document import trace_document
from .errors import ModelFileError, TraceInputError
from .files import load_model, save_model
from .interventions import Intervention, parse_interventions
from .model import Model, init_params
from .tokenizer import NumberTokenizer, Token, Tokenizer
from .trace import Stepper, Trace, run_trace
from .zoo import Zoo, discover_models, load_zoo, shipped_models_dir


def random_model(
    arch: str = "lstm",
    vocab: list[str] | None = None,
    hidden_size: int = 8,
    input_size: int = 6,
    layers: int = 1,
    tokenizer: str = "char",
    seed: int = 0,
    model_id: str | None = None,
    dtype: type = np.float64,
    kind: str = "language-model",
    classes: list[str] | None = None,
    normalisation: tuple[float, float] = (0.0, 1.0),
) -> Model:
    """An untrained model, for tests, demos and the forget-bias lesson. A classifier has `classes` (two by
    default), a forecaster reads numbers (input size 1) with `normalisation` (mean, scale)."""
    vocab = vocab or ["<unk>", *"abcdefghijklmnopqrstuvwxyz .,"]
    if kind == "forecaster":
        vocab, tokenizer, input_size = ["<number>"], "numbers", 1
    classes = (classes or ["negative", "positive"]) if kind == "classifier" else None
    rng = np.random.default_rng(seed)
    n_out = len(classes) if classes else None
    params = init_params(arch, layers, len(vocab), input_size, hidden_size, rng, dtype=dtype, kind=kind, n_out=n_out)
    card: dict = {
        "id": model_id or f"random-{arch}",
        "title": f"Untrained {arch.upper()}",
        "arch": arch,
        "layers": layers,
        "input_size": input_size,
        "hidden_size": hidden_size,
        "tokenizer": {"kind": tokenizer, "vocab": vocab, "unk": "<unk>", "lowercase": tokenizer == "word"},
        "task": "random weights",
        "description": "Randomly initialised weights: no training at all.",
        "metrics": {},
        "provenance": {"seed": seed},
    }
    if kind == "forecaster":
        card.update(task_kind=kind, normalisation={"mean": normalisation[0], "scale": normalisation[1]})
        card["tokenizer"] = NumberTokenizer().config()
        return Model(card, params, NumberTokenizer())
    if kind == "classifier":
        card.update(task_kind=kind, classes=classes)
    return Model(card, params, Tokenizer(tokenizer, vocab, "<unk>", tokenizer == "word"))


__all__ = [
    "ARCHS", "SPECS", "CellSpec", "Intervention", "Model", "ModelFileError", "Stepper", "Token", "Tokenizer",
    "Trace", "TraceInputError", "Zoo", "discover_models", "init_params", "load_model",
    "load_zoo", "parse_interventions", "random_model", "run_trace", "save_model", "shipped_models_dir",
    "trace_document",
]  # fmt: skip
