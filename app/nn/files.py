"""Model directories: `model.json` (the card) beside `weights.safetensors`. Nothing here ever unpickles."""

from __future__ import annotations

import json
import math
import os
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save, save_file

from .cells import ARCHS
from .errors import ModelFileError
from .model import KINDS, Model, param_shapes
from .tokenizer import AnyTokenizer, Tokenizer, tokenizer_from_config

CARD = "model.json"
WEIGHTS = "weights.safetensors"
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt")
CONVERT_RECIPE = (
    "convert it to safetensors first, e.g. in Python: `import torch; from safetensors.torch import save_file; "
    "save_file(torch.load(PATH, map_location='cpu'), 'weights.safetensors')` (this project never unpickles)"
)


def refuse_pickle(path: Path) -> None:
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise ModelFileError(f"{path.name}: pickle-based files are refused; {CONVERT_RECIPE}")


# -- tensors ---------------------------------------------------------------------------------------------
# safetensors dtypes as NumPy reads them. BF16 has no NumPy type: its bits are the top half of a float32.
SAFETENSORS_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}  # fmt: skip
MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit


def _bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """A .safetensors file, any float width: F16 and BF16 are widened to float32 (no precision is lost).

    Read by hand rather than with `safetensors.numpy.load_file`, which cannot represent bfloat16, and
    checked as it is read: every tensor's byte range must lie in the file and match its shape."""
    data = path.read_bytes()
    if len(data) < 8:
        raise ModelFileError(f"{path.name}: not a safetensors file (only {len(data)} bytes)")
    n = int.from_bytes(data[:8], "little")
    if not 2 <= n <= min(MAX_HEADER_BYTES, len(data) - 8):
        raise ModelFileError(f"{path.name}: not a safetensors file (its header length is not plausible)")
    try:
        header = json.loads(data[8 : 8 + n])
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ModelFileError(f"{path.name}: not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path.name}: not a safetensors file (its header is not a JSON object)")
    body = memoryview(data)[8 + n :]
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
            ok = all(isinstance(d, int) and d >= 0 for d in (*shape, begin, end)) and begin <= end <= len(body)
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            raise ModelFileError(f"{path.name}: tensor {name!r} has a broken entry in the file's header")
        if dtype not in SAFETENSORS_DTYPES:
            raise ModelFileError(
                f"{path.name}: tensor {name!r} is stored as {dtype}; save it as float32 (or float16, bfloat16)"
            )
        np_dtype = np.dtype(SAFETENSORS_DTYPES[dtype])
        if end - begin != int(np.prod(shape, dtype=np.int64)) * np_dtype.itemsize:
            raise ModelFileError(f"{path.name}: tensor {name!r}: its byte range does not match its shape {shape}")
        a = np.frombuffer(body[begin:end], dtype=np_dtype.newbyteorder("<")).reshape(shape)
        a = _bf16_to_f32(a) if dtype == "BF16" else a.astype(np_dtype.newbyteorder("="))
        tensors[name] = a.astype(np.float32) if dtype == "F16" else a
    return tensors


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """An .npz archive of arrays, never unpickled (float16 is widened like in safetensors)."""
    with path.open("rb") as f:  # opened here: np.load leaks its own handle when the archive is broken
        if f.read(6) == b"\x93NUMPY":
            raise ModelFileError(
                f"{path.name}: this is a single .npy array, not an .npz archive of named arrays; "
                "save the weights with np.savez(path, **{name: array, ...})"
            )
        f.seek(0)
        try:
            with np.load(f, allow_pickle=False) as npz:
                tensors = {k: npz[k] for k in npz.files}
        except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
            raise ModelFileError(f"{path.name}: not readable as an .npz archive of arrays ({e})") from None
    for name, a in tensors.items():
        if a.dtype.kind not in "fiub":
            raise ModelFileError(f"{path.name}: array {name!r} has dtype {a.dtype}; save it as float32")
    return {k: v.astype(np.float32) if v.dtype == np.float16 else v for k, v in tensors.items()}


def read_tensors(path: Path) -> dict[str, np.ndarray]:
    """Read a .safetensors or .npz (pickle disabled) file into NumPy arrays."""
    path = Path(path)
    refuse_pickle(path)
    if path.suffix == ".npy":
        raise ModelFileError(f"{path.name}: a single .npy array has no tensor names; save an .npz with np.savez")
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    try:
        return read_npz(path) if path.suffix == ".npz" else read_safetensors(path)
    except OSError as e:
        raise ModelFileError(f"{path}: cannot read it ({e.strerror or e})") from None


# -- the card --------------------------------------------------------------------------------------------
def parse_json(text: str | bytes) -> Any:
    """json.loads that refuses what would break the server later, with the reason in words: NaN and
    infinities (no JSON response can carry them), integers past 64 bits or 4,300 digits, deep nesting."""

    def finite(s: str) -> float:
        x = float(s)
        if not math.isfinite(x):
            raise ValueError(f"the number {s[:20]} is too large for a float")
        return x

    def constant(s: str) -> None:
        raise ValueError(f"{s} is not a JSON number")

    try:
        value = json.loads(text, parse_float=finite, parse_constant=constant)
    except RecursionError:
        raise ValueError("it is nested too deeply") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    except ValueError as e:
        if "integer string conversion" in str(e):
            raise ValueError("it holds an integer with thousands of digits") from None
        raise
    _check_plain(value, 0)
    return value


MAX_DEPTH = 32
MAX_INT = 2**63 - 1


def _check_plain(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"it is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, int) and not isinstance(value, bool) and not -MAX_INT <= value <= MAX_INT:
        raise ValueError(f"the integer {str(value)[:20]}… is larger than 64 bits")
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        _check_plain(child, depth + 1)


ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
ID_RULE = "1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"
MAX_LAYERS = 4
MAX_SIZE = 65536  # input and hidden sizes: far beyond anything a trace could show, small enough to check
MAX_STEPS = 100_000  # token indices wherever a client or a scene names one: past any text a trace accepts


def _type_name(value: Any) -> str:
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string", list: "a list",
             dict: "an object", type(None): "null"}  # fmt: skip
    return names.get(type(value), type(value).__name__)


def _field(card: dict[str, Any], key: str, kind: type, what: str, required: bool = True) -> Any:
    if key not in card:
        if required:
            raise ModelFileError(f"{CARD}: missing field {key!r} ({what})")
        return None
    value = card[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ModelFileError(f"{CARD}: {key!r} must be {what}, not {_type_name(value)}")
    return value


def check_card(card: Any) -> None:
    """model.json against its schema: every field the app reads has the type and range it assumes."""
    if not isinstance(card, dict):
        raise ModelFileError(f"{CARD}: expected a JSON object, not {_type_name(card)}")
    model_id = _field(card, "id", str, "a string")
    if not ID_PATTERN.match(model_id):
        raise ModelFileError(f"{CARD}: 'id' {model_id[:100]!r} must be {ID_RULE}")
    for key in ("title", "task", "description"):
        _field(card, key, str, "a string")
    for key in ("example", "example_target"):
        _field(card, key, str, "a string", required=False)
    arch = _field(card, "arch", str, "a string")
    if arch not in ARCHS:
        raise ModelFileError(f"{CARD}: unknown arch {arch[:40]!r}; expected one of {list(ARCHS)}")
    for key, top in (("layers", MAX_LAYERS), ("input_size", MAX_SIZE), ("hidden_size", MAX_SIZE)):
        n = _field(card, key, int, "a positive integer")
        if not 1 <= n <= top:
            raise ModelFileError(f"{CARD}: {key!r} must be 1 to {top}, not {n}")
    metrics = _field(card, "metrics", dict, "an object", required=False)
    if metrics is not None and "validation" in metrics:
        val = metrics["validation"]
        if not (isinstance(val, dict) and isinstance(val.get("name"), str) and type(val.get("value")) in (int, float)):
            raise ModelFileError(f"{CARD}: 'metrics.validation' must be an object with a 'name' and a numeric 'value'")
    _field(card, "parameters", int, "an integer", required=False)
    _field(card, "provenance", dict, "an object", required=False)
    tok = _field(card, "tokenizer", dict, "an object with 'kind' and a 'vocab' list")
    vocab = tok.get("vocab")
    if not isinstance(vocab, list) or not vocab:
        raise ModelFileError(f"{CARD}: 'tokenizer.vocab' must be a non-empty list of token strings")
    bad = next((i for i, t in enumerate(vocab) if not isinstance(t, str)), None)
    if bad is not None:
        raise ModelFileError(f"{CARD}: 'tokenizer.vocab' entry {bad} is {_type_name(vocab[bad])}, not a string")
    if not isinstance(tok.get("unk"), str | None):
        raise ModelFileError(f"{CARD}: 'tokenizer.unk' must be a string or null")
    if not isinstance(tok.get("lowercase", False), bool):
        raise ModelFileError(f"{CARD}: 'tokenizer.lowercase' must be true or false")
    _check_kind(card)


def _check_kind(card: dict[str, Any]) -> None:
    """The fields a classifier or a forecaster needs besides a language model's."""
    kind = _field(card, "task_kind", str, "a string", required=False) or "language-model"
    if kind not in KINDS:
        raise ModelFileError(f"{CARD}: 'task_kind' {kind[:40]!r} must be one of {list(KINDS)}")
    numbers = card["tokenizer"].get("kind") == "numbers"
    if kind == "classifier":
        classes = _field(card, "classes", list, "a list of class labels")
        if len(classes) < 2 or not all(isinstance(c, str) and c for c in classes) or len(set(classes)) != len(classes):
            raise ModelFileError(f"{CARD}: 'classes' must list two or more different labels (strings)")
    if kind == "forecaster":
        norm = _field(card, "normalisation", dict, "an object with 'mean' and 'scale'")
        mean, scale = norm.get("mean"), norm.get("scale")
        if type(mean) not in (int, float) or type(scale) not in (int, float) or not scale > 0:
            raise ModelFileError(f"{CARD}: 'normalisation' needs a numeric 'mean' and a positive 'scale'")
        if card["input_size"] != 1 or not numbers:
            raise ModelFileError(f"{CARD}: a forecaster reads one number per step: input_size 1, tokenizer 'numbers'")
    elif numbers:
        raise ModelFileError(f"{CARD}: a 'numbers' tokenizer belongs to a forecaster ('task_kind': 'forecaster')")


def tokenizer_from_card(card: dict[str, Any]) -> AnyTokenizer:
    tok = card["tokenizer"]
    kinds = ("char", "word", "numbers")
    if tok.get("kind", "") not in kinds:  # the same words as the engine's (static/js/engine/tokenizer.js)
        said = " or ".join(repr(k) for k in kinds)
        raise ModelFileError(f"{CARD}: tokenizer: tokenizer kind must be {said}, not {tok.get('kind', '')!r}")
    try:
        if tok.get("kind") == "numbers":
            return tokenizer_from_config(tok)
        return Tokenizer(tok.get("kind", ""), tok["vocab"], tok.get("unk"), bool(tok.get("lowercase", False)))
    except ValueError as e:
        raise ModelFileError(f"{CARD}: tokenizer: {e}") from e


def validate(card: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
    """Check the card, then names, shapes, dtypes and finiteness; messages name the tensor and the shape."""
    check_card(card)
    vocab = card["tokenizer"]["vocab"]
    kind = card.get("task_kind", "language-model")
    n_out = len(card["classes"]) if kind == "classifier" else None
    shapes = param_shapes(
        card["arch"], card["layers"], len(vocab), card["input_size"], card["hidden_size"], kind, n_out
    )
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
            if kind != "language-model" and name.startswith("dec"):
                hint = f" (a {kind} has {shape[0]} output{'s' if shape[0] > 1 else ''})"
            raise ModelFileError(f"{WEIGHTS}: tensor {name!r} has shape {a.shape}; expected {shape}{hint}")
        if not np.isfinite(a).all():
            raise ModelFileError(f"{WEIGHTS}: tensor {name!r} holds NaN or infinite values")


def read_card(path: Path) -> dict[str, Any]:
    card_path = path / CARD
    try:
        card = parse_json(card_path.read_bytes())
    except OSError as e:
        raise ModelFileError(f"{card_path}: cannot read it ({e.strerror or e})") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise ModelFileError(f"{card_path}: {e}") from None
    check_card(card)
    return card


def load_model(path: Path | str, dtype: type = np.float64) -> Model:
    """Load and validate a model directory. Traces run in float64 so hand-checked numbers agree."""
    path = Path(path)
    card_path = path / CARD
    if not card_path.is_file():
        raise ModelFileError(f"{path}: no {CARD} here — a model directory holds {CARD} and {WEIGHTS}")
    card = read_card(path)
    tokenizer = tokenizer_from_card(card)
    tensors = read_tensors(path / WEIGHTS)
    validate(card, tensors)
    return Model(card, {k: v.astype(dtype) for k, v in tensors.items()}, tokenizer)


def model_card(model: Model) -> dict[str, Any]:
    """The model's `model.json`: its card with the tokenizer it reads with."""
    return {**model.card, "tokenizer": model.tokenizer.config()}


def weights_file(model: Model) -> bytes:
    """The model's `weights.safetensors` as it computes with it: float32 when every parameter is a float32
    (a model loaded from a float32, float16 or bfloat16 file), float64 otherwise, so a reader that widens to
    float64 (static/js/engine/files.js) holds exactly the numbers the core traces with."""
    narrow = all(np.array_equal(v.astype(np.float32), v) for v in model.params.values())
    dtype = np.float32 if narrow else np.float64
    return save({k: np.ascontiguousarray(v, dtype=dtype) for k, v in model.params.items()})


def save_model(model: Model, path: Path | str, dtype: type = np.float32) -> Path:
    """Write `model.json` and `weights.safetensors` into `path` (created if needed)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    card = model_card(model)
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
