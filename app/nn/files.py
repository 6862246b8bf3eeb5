"""Model directories: `model.json` (the card) beside `weights.safetensors`. Nothing here ever unpickles."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from .cells import ARCHS
from .errors import ModelFileError
from .model import Model, param_shapes
from .tokenizer import Tokenizer

CARD = "model.json"
WEIGHTS = "weights.safetensors"
CARD_FIELDS = ("id", "title", "arch", "layers", "input_size", "hidden_size", "tokenizer", "task", "description")
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt")
CONVERT_RECIPE = (
    "convert it to safetensors first, e.g. in Python: `import torch; from safetensors.torch import save_file; "
    "save_file(torch.load(PATH, map_location='cpu'), 'weights.safetensors')` (this project never unpickles)"
)


def refuse_pickle(path: Path) -> None:
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise ModelFileError(f"{path.name}: pickle-based files are refused; {CONVERT_RECIPE}")


def read_tensors(path: Path) -> dict[str, np.ndarray]:
    """Read a .safetensors or .npz (pickle disabled) file into NumPy arrays."""
    path = Path(path)
    refuse_pickle(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        return load_file(str(path))
    except (SafetensorError, ValueError, OSError) as e:
        kind = "an .npz archive of arrays" if path.suffix == ".npz" else "a safetensors file"
        raise ModelFileError(f"{path.name}: not readable as {kind} ({e})") from e


def tokenizer_from_card(card: dict[str, Any]) -> Tokenizer:
    tok = card.get("tokenizer")
    if not isinstance(tok, dict) or not isinstance(tok.get("vocab"), list):
        raise ModelFileError("model.json: 'tokenizer' must be an object with 'kind' and a 'vocab' list")
    try:
        return Tokenizer(tok.get("kind", ""), tok["vocab"], tok.get("unk"), bool(tok.get("lowercase", False)))
    except ValueError as e:
        raise ModelFileError(f"model.json: tokenizer: {e}") from e


def validate(card: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
    """Check names, shapes, dtypes and finiteness; messages name the tensor and the expected shape."""
    missing = [f for f in CARD_FIELDS if f not in card]
    if missing:
        raise ModelFileError(f"model.json: missing field(s) {missing}")
    if card["arch"] not in ARCHS:
        raise ModelFileError(f"model.json: unknown arch {card['arch']!r}; expected one of {list(ARCHS)}")
    for key in ("layers", "input_size", "hidden_size"):
        if not isinstance(card[key], int) or card[key] < 1:
            raise ModelFileError(f"model.json: {key!r} must be a positive integer, not {card[key]!r}")
    if not 1 <= card["layers"] <= 4:
        raise ModelFileError(f"model.json: 1 to 4 layers are supported, not {card['layers']}")
    vocab = card["tokenizer"]["vocab"]
    shapes = param_shapes(card["arch"], card["layers"], len(vocab), card["input_size"], card["hidden_size"])
    unexpected = sorted(set(tensors) - set(shapes))
    if unexpected:
        raise ModelFileError(f"{WEIGHTS}: unexpected tensor {unexpected[0]!r} for a {card['arch']} model")
    for name, shape in shapes.items():
        if name not in tensors:
            raise ModelFileError(f"{WEIGHTS}: missing tensor {name!r} (expected shape {shape})")
        a = tensors[name]
        if a.dtype.kind != "f":
            raise ModelFileError(f"{WEIGHTS}: tensor {name!r} has dtype {a.dtype}; expected a float type")
        if a.shape != shape:
            hint = f" (the vocabulary has {len(vocab)} entries)" if name.startswith(("emb", "dec")) else ""
            raise ModelFileError(f"{WEIGHTS}: tensor {name!r} has shape {a.shape}; expected {shape}{hint}")
        if not np.isfinite(a).all():
            raise ModelFileError(f"{WEIGHTS}: tensor {name!r} holds NaN or infinite values")


def load_model(path: Path | str, dtype: type = np.float64) -> Model:
    """Load and validate a model directory. Traces run in float64 so hand-checked numbers agree."""
    path = Path(path)
    card_path = path / CARD
    if not card_path.is_file():
        raise ModelFileError(f"{path}: no {CARD} here — a model directory holds {CARD} and {WEIGHTS}")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{card_path}: not valid JSON ({e})") from e
    if not isinstance(card, dict):
        raise ModelFileError(f"{card_path}: expected a JSON object")
    tokenizer = tokenizer_from_card(card)
    tensors = read_tensors(path / WEIGHTS)
    validate(card, tensors)
    return Model(card, {k: v.astype(dtype) for k, v in tensors.items()}, tokenizer)


def save_model(model: Model, path: Path | str, dtype: type = np.float32) -> Path:
    """Write `model.json` and `weights.safetensors` into `path` (created if needed)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    card = dict(model.card)
    card["tokenizer"] = model.tokenizer.config()
    validate(card, model.params)
    save_file({k: np.ascontiguousarray(v, dtype=dtype) for k, v in model.params.items()}, str(path / WEIGHTS))
    (path / CARD).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def model_dirs(root: Path) -> list[Path]:
    """The model directories directly under `root` (or `root` itself if it is one)."""
    if (root / CARD).is_file():
        return [root]
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / CARD).is_file())


def env_model_dirs() -> list[Path]:
    raw = os.environ.get("LSTM_EXPLAINER_MODELS", "")
    return [Path(p) for p in raw.split(os.pathsep) if p]
