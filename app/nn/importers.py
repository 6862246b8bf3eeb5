"""Import weights trained elsewhere (PyTorch, Keras) into a model directory.

PyTorch: a `state_dict` saved with `safetensors.torch.save_file` (or as `.npz`) of any module holding an
nn.Embedding, an nn.LSTM / nn.GRU / nn.RNN of any depth and an nn.Linear head. Tensors are found by the
standard suffixes (`weight_ih_l0`, …) and by shape, whatever the attributes are called.

Keras: an `.npz` of per-layer `kernel`, `recurrent_kernel`, `bias` (LSTM gates i, f, c, o; GRU with
`reset_after=True`, gates z, r, h), an `embeddings` matrix and a Dense head (`kernel`, `bias`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelFileError
from .files import read_tensors, save_model
from .model import Model
from .tokenizer import Tokenizer

Array = np.ndarray
TORCH_SUFFIX = re.compile(r"^(?P<prefix>.*?)(?P<kind>weight_ih|weight_hh|bias_ih|bias_hh)_l(?P<layer>\d+)(?P<rest>.*)$")
BLOCKS = {4: "lstm", 3: "gru", 1: "rnn"}


def _found(tensors: dict[str, Array]) -> str:
    return ", ".join(f"{k} {tuple(v.shape)}" for k, v in list(tensors.items())[:12])


def _find_embedding_and_head(
    tensors: dict[str, Array], used: set[str], vocab_size: int, input_size: int, hidden_size: int, fmt: str
) -> tuple[Array, Array, Array]:
    """The embedding (V, I) and the linear head (V, H) + bias (V,), told apart by shape and by the bias."""
    rest = {k: v for k, v in tensors.items() if k not in used}
    if fmt == "keras":
        emb = [k for k, v in rest.items() if k.endswith("embeddings") and v.shape == (vocab_size, input_size)]
        heads = [k for k, v in rest.items() if k.endswith("kernel") and v.shape == (hidden_size, vocab_size)]
        bias_of = {k: k[: -len("kernel")] + "bias" for k in heads}
    else:
        heads = [
            k for k, v in rest.items()
            if k.endswith("weight") and v.shape == (vocab_size, hidden_size)
            and rest.get(k[: -len("weight")] + "bias", np.empty(0)).shape == (vocab_size,)
        ]  # fmt: skip
        bias_of = {k: k[: -len("weight")] + "bias" for k in heads}
        emb = [
            k for k, v in rest.items()
            if k.endswith("weight") and v.shape == (vocab_size, input_size) and k not in heads
        ]  # fmt: skip
    if len(emb) != 1:
        what = "no" if not emb else f"{len(emb)} candidate"
        raise ModelFileError(
            f"found {what} embedding of shape ({vocab_size}, {input_size}) (vocabulary × input size); "
            f"tensors: {_found(rest)}"
        )
    if len(heads) != 1 or bias_of[heads[0]] not in rest:
        what = "no" if not heads else f"{len(heads)} candidate"
        raise ModelFileError(
            f"found {what} linear head with weight ({vocab_size}, {hidden_size}) and bias ({vocab_size},); "
            f"tensors: {_found(rest)}"
        )
    head_w = rest[heads[0]].T if fmt == "keras" else rest[heads[0]]
    return rest[emb[0]], head_w, rest[bias_of[heads[0]]]


def torch_params(tensors: dict[str, Array], vocab_size: int) -> tuple[str, dict[str, Array], int, int, int]:
    """Map a PyTorch state_dict onto our names. Returns (arch, params, layers, input_size, hidden_size)."""
    rec: dict[int, dict[str, str]] = {}
    for name in tensors:
        m = TORCH_SUFFIX.match(name)
        if not m:
            if re.search(r"weight_hr_l\d+", name):
                raise ModelFileError(f"{name}: LSTMs with proj_size are not supported (found a projection weight)")
            continue
        if m["rest"]:
            if "reverse" in m["rest"]:
                raise ModelFileError(f"{name}: bidirectional layers are not supported (found a *_reverse tensor)")
            continue
        layer = int(m["layer"])
        if m["kind"] in rec.setdefault(layer, {}):
            raise ModelFileError(
                f"ambiguous file: two recurrent modules have {m['kind']}_l{layer} "
                f"({rec[layer][m['kind']]} and {name}); keep one module per file"
            )
        rec[layer][m["kind"]] = name
    if not rec:
        raise ModelFileError(f"no recurrent weights (weight_ih_l0, weight_hh_l0, …) found; tensors: {_found(tensors)}")
    layers = len(rec)
    if sorted(rec) != list(range(layers)):
        raise ModelFileError(f"recurrent layers {sorted(rec)} are not numbered 0..{layers - 1}")
    for l, kinds in rec.items():
        missing = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"} - set(kinds)
        if missing:
            raise ModelFileError(f"layer {l}: missing {sorted(missing)} (bias=False modules are not supported)")
    w_hh0 = tensors[rec[0]["weight_hh"]]
    hidden = w_hh0.shape[1]
    blocks = w_hh0.shape[0] // hidden
    if blocks not in BLOCKS or w_hh0.shape[0] != blocks * hidden:
        raise ModelFileError(f"{rec[0]['weight_hh']}: shape {w_hh0.shape} is not that of an LSTM, GRU or RNN")
    arch = BLOCKS[blocks]
    input_size = tensors[rec[0]["weight_ih"]].shape[1]
    params: dict[str, Array] = {}
    used: set[str] = set()
    for l in range(layers):
        for kind, name in rec[l].items():
            params[f"layers.{l}.{kind}"] = tensors[name]
            used.add(name)
    emb, head_w, head_b = _find_embedding_and_head(tensors, used, vocab_size, input_size, hidden, "torch")
    params.update({"embedding.weight": emb, "decoder.weight": head_w, "decoder.bias": head_b})
    return arch, params, layers, input_size, hidden


def keras_params(tensors: dict[str, Array], vocab_size: int) -> tuple[str, dict[str, Array], int, int, int]:
    """Map Keras LSTM / GRU / SimpleRNN weights onto PyTorch's layout (transposed, GRU gates reordered)."""
    if any("backward" in k or "bidirectional" in k for k in tensors):
        raise ModelFileError("bidirectional layers are not supported (found backward_* / bidirectional tensors)")
    prefixes = [k[: -len("recurrent_kernel")] for k in tensors if k.endswith("recurrent_kernel")]
    if not prefixes:
        raise ModelFileError(f"no Keras recurrent_kernel found; tensors: {_found(tensors)}")
    params: dict[str, Array] = {}
    used: set[str] = set()
    arch = ""
    input_size = hidden = 0
    for l, prefix in enumerate(prefixes):  # npz keeps the order the arrays were saved in
        try:
            kernel, rec, bias = (tensors[prefix + s] for s in ("kernel", "recurrent_kernel", "bias"))
        except KeyError as e:
            raise ModelFileError(f"layer {l} ({prefix!r}): missing {e.args[0]!r}") from e
        used |= {prefix + s for s in ("kernel", "recurrent_kernel", "bias")}
        h = rec.shape[0]
        blocks = rec.shape[1] // h
        if blocks not in BLOCKS or rec.shape[1] != blocks * h:
            raise ModelFileError(f"{prefix}recurrent_kernel: shape {rec.shape} is not an LSTM, GRU or SimpleRNN")
        kind = BLOCKS[blocks]
        if arch and kind != arch:
            raise ModelFileError(f"layer {l} is a {kind} but layer 0 is a {arch}; mixed stacks are not supported")
        arch, hidden = kind, h
        if l == 0:
            input_size = kernel.shape[0]
        w_ih, w_hh = kernel.T, rec.T  # Keras multiplies x·K; PyTorch W·x
        if arch == "gru":
            if bias.shape != (2, 3 * h):
                raise ModelFileError(f"{prefix}bias: shape {bias.shape}; only GRUs with reset_after=True are supported")
            # Keras stacks z, r, h; PyTorch r, z, n
            w_ih, w_hh, b_ih, b_hh = (_keras_gru_order(a, h) for a in (w_ih, w_hh, bias[0], bias[1]))
        else:
            b_ih, b_hh = bias, np.zeros_like(bias)
        params.update({
            f"layers.{l}.weight_ih": w_ih, f"layers.{l}.weight_hh": w_hh,
            f"layers.{l}.bias_ih": b_ih, f"layers.{l}.bias_hh": b_hh,
        })  # fmt: skip
    emb, head_w, head_b = _find_embedding_and_head(tensors, used, vocab_size, input_size, hidden, "keras")
    params.update({"embedding.weight": emb, "decoder.weight": head_w, "decoder.bias": head_b})
    return arch, params, len(prefixes), input_size, hidden


def _keras_gru_order(a: Array, h: int) -> Array:
    return np.concatenate([a[h : 2 * h], a[:h], a[2 * h :]])


def import_model(
    fmt: str,
    weights: Path,
    vocab: list[str],
    tokenizer: str,
    model_id: str,
    unk: str | None = None,
    lowercase: bool = False,
    arch: str | None = None,
) -> Model:
    """Build a Model from foreign weights. `arch` overrides the guess ("irnn" for a ReLU nn.RNN)."""
    tensors = {k: np.asarray(v, dtype=np.float64) for k, v in read_tensors(Path(weights)).items()}
    mapper = {"pytorch": torch_params, "keras": keras_params}.get(fmt)
    if mapper is None:
        raise ModelFileError(f"unknown format {fmt!r}; expected 'pytorch' or 'keras'")
    guessed, params, layers, input_size, hidden = mapper(tensors, len(vocab))
    if arch is not None and arch != guessed and not (guessed == "rnn" and arch == "irnn"):
        raise ModelFileError(f"the weights are those of a {guessed}, not a {arch}")
    try:
        tok = Tokenizer(tokenizer, vocab, unk, lowercase)
    except ValueError as e:
        raise ModelFileError(f"vocabulary: {e}") from e
    card: dict[str, Any] = {
        "id": model_id,
        "title": model_id,
        "arch": arch or guessed,
        "layers": layers,
        "input_size": input_size,
        "hidden_size": hidden,
        "tokenizer": tok.config(),
        "task": f"imported from {fmt}",
        "description": f"Weights imported from {Path(weights).name} ({fmt}).",
        "metrics": {},
        "provenance": {"imported_from": Path(weights).name, "format": fmt},
    }
    return Model(card, params, tok)


def import_to_dir(out: Path, **kwargs: Any) -> Path:
    model = import_model(**kwargs)
    return save_model(model, Path(out) / model.id, dtype=np.float64)


def read_vocab(path: Path) -> list[str]:
    import json

    try:
        vocab = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{path}: cannot read the vocabulary ({e})") from e
    if not isinstance(vocab, list) or not all(isinstance(t, str) for t in vocab):
        raise ModelFileError(f"{path}: the vocabulary must be a JSON list of token strings, in index order")
    return vocab
