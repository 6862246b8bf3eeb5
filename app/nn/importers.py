"""Import weights trained elsewhere (PyTorch, Keras) into a model directory — right, or refused.

PyTorch: a `state_dict` saved with safetensors (or as `.npz`) of any module holding an nn.Embedding, one
nn.LSTM / nn.GRU / nn.RNN of 1 to 4 layers (or a single nn.LSTMCell / GRUCell / RNNCell) and an nn.Linear
head. Tensors are found by their standard suffixes (`weight_ih_l0`, …) and by shape, whatever the
attributes are called.

Keras: the `.keras` file of `model.save`, the `.weights.h5` of `model.save_weights` (both read with h5py,
the `keras` extra), or an `.npz` of `{w.path: w.numpy()}`: an Embedding, LSTM / GRU (`reset_after=True`) /
SimpleRNN layers and a Dense head. Gates are reordered and matrices transposed into PyTorch's layout.

Never silently wrong: every tensor in the file must be used (or named by `ignore`), a plain RNN's
nonlinearity must be said (a state_dict does not record it), layers are ordered by their names, never by
their position in the file, and every refusal says what was found in the user's own names.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelFileError
from .files import ID_PATTERN, ID_RULE, MAX_LAYERS, parse_json, read_tensors, save_model, validate
from .model import Model
from .tokenizer import Tokenizer

Array = np.ndarray
TORCH_SUFFIX = re.compile(r"^(?P<prefix>.*?)(?P<kind>weight_ih|weight_hh|bias_ih|bias_hh)_l(?P<layer>\d+)(?P<rest>.*)$")
TORCH_CELL = re.compile(r"^(?P<prefix>(?:.*\.)?)(?P<kind>weight_ih|weight_hh|bias_ih|bias_hh)$")
BLOCKS = {4: "lstm", 3: "gru", 1: "rnn"}
TORCH_CLASS = {"lstm": "nn.LSTM", "gru": "nn.GRU", "rnn": "nn.RNN"}
KERAS_CLASS = {"lstm": "LSTM", "gru": "GRU", "rnn": "SimpleRNN"}
NONLINEARITIES = {"tanh": "rnn", "relu": "irnn"}  # a plain RNN's nonlinearity → our cell
NONLINEARITY_HELP = (
    "say which with --nonlinearity tanh or --nonlinearity relu (PyTorch's default is tanh; a state_dict "
    "does not record it)"
)


@dataclass
class Recurrent:
    """The recurrent layers found in a file, in PyTorch's layout and our names (`layers.{l}.weight_ih`, …)."""

    arch: str  # lstm, gru or rnn
    params: dict[str, Array]
    layers: int
    input_size: int
    hidden_size: int
    used: set[str]  # the file's tensor names these came from
    notes: list[str] = field(default_factory=list)
    nonlinearity: str | None = None  # a plain RNN's, when the file records it (a .keras config)


def _found(tensors: dict[str, Array], names: Any = None) -> str:
    keys = list(tensors) if names is None else sorted(names)
    shown = ", ".join(f"{k} {tuple(tensors[k].shape)}" for k in keys[:12])
    return shown + (f" and {len(keys) - 12} more" if len(keys) > 12 else "")


def _shape_check(name: str, a: Array, shape: tuple[int, ...], what: str) -> None:
    if a.shape != shape:
        raise ModelFileError(f"{name} has shape {tuple(a.shape)}; {what} needs {shape}")


def _stack(arch: str, layers: dict[int, dict[str, tuple[str, Array]]], cls: str) -> tuple[dict[str, Array], int, int]:
    """Check each layer's shapes against layer 0 and name them ours. `layers[l][kind] = (file name, array)`."""
    n = len(layers)
    if n > MAX_LAYERS:
        raise ModelFileError(f"{n} layers: the app runs 1 to {MAX_LAYERS}")
    if sorted(layers) != list(range(n)):
        raise ModelFileError(f"recurrent layers {sorted(layers)} are not numbered 0 to {n - 1}")
    w_hh = layers[0]["weight_hh"][1]
    hidden = w_hh.shape[1]
    gh = w_hh.shape[0]
    input_size = layers[0]["weight_ih"][1].shape[1]
    params: dict[str, Array] = {}
    for l in range(n):
        n_in = input_size if l == 0 else hidden
        what = f"layer {l} of a {n}-layer {cls} of hidden size {hidden}"
        for kind, shape in (("weight_ih", (gh, n_in)), ("weight_hh", (gh, hidden)), ("bias_ih", (gh,)),
                            ("bias_hh", (gh,))):  # fmt: skip
            name, a = layers[l][kind]
            _shape_check(name, a, shape, what)
            params[f"layers.{l}.{kind}"] = a
    return params, input_size, hidden


def _blocks(name: str, w_hh: Array, what: str) -> str:
    """lstm, gru or rnn from the recurrent matrix (G·H, H): G is 4, 3 or 1."""
    rows, cols = w_hh.shape if w_hh.ndim == 2 else (0, 0)
    if cols == 0 or rows % cols or rows // cols not in BLOCKS:
        raise ModelFileError(f"{name}: shape {tuple(w_hh.shape)} is not that of {what}")
    return BLOCKS[rows // cols]


# -- PyTorch ---------------------------------------------------------------------------------------------
def torch_recurrent(tensors: dict[str, Array]) -> Recurrent:
    """One nn.LSTM / nn.GRU / nn.RNN (or a single nn.*Cell) by its tensors' suffixes."""
    modules: dict[str, dict[int, dict[str, str]]] = {}  # prefix → layer → kind → name
    cells: dict[str, dict[str, str]] = {}
    for name in tensors:
        if m := TORCH_SUFFIX.match(name):
            if "reverse" in m["rest"]:
                raise ModelFileError(f"{name}: bidirectional layers are not supported (found a *_reverse tensor)")
            if not m["rest"]:
                modules.setdefault(m["prefix"], {}).setdefault(int(m["layer"]), {})[m["kind"]] = name
        elif re.search(r"weight_hr_l\d+", name):
            raise ModelFileError(f"{name}: LSTMs with proj_size are not supported (found a projection weight)")
        elif m := TORCH_CELL.match(name):
            cells.setdefault(m["prefix"], {})[m["kind"]] = name
    if len(modules) + len(cells) > 1:
        found = sorted(p.rstrip(".") or "(top level)" for p in [*modules, *cells])
        raise ModelFileError(
            f"ambiguous file: {len(found)} recurrent modules ({', '.join(found)}); the app runs one recurrent "
            "stack between an embedding and a linear head"
        )
    notes = []
    if cells:
        prefix, kinds = next(iter(cells.items()))
        names = {0: kinds}
        notes.append(f"{prefix.rstrip('.') or 'the cell'} (an nn.*Cell) runs as a one-layer recurrent layer")
    elif modules:
        prefix, names = next(iter(modules.items()))
    else:
        raise ModelFileError(
            "no recurrent weights found: expected the weight_ih_l0, weight_hh_l0, … of an nn.LSTM, nn.GRU or "
            f"nn.RNN (an nn.LSTMCell's weight_ih, weight_hh); tensors: {_found(tensors)}"
        )
    for l, kinds in names.items():
        where = f"layer {l}" if not cells else "the cell"
        for kind in ("weight_ih", "weight_hh"):
            if kind not in kinds:
                raise ModelFileError(f"{where}: no {prefix}{kind}{'' if cells else f'_l{l}'} in the file")
        if ("bias_ih" in kinds) != ("bias_hh" in kinds):
            have, lack = ("bias_ih", "bias_hh") if "bias_ih" in kinds else ("bias_hh", "bias_ih")
            raise ModelFileError(f"{where} has {kinds[have]} but no {lack}; a bias=False module has neither")
    first = names.get(0, next(iter(names.values())))
    arch = _blocks(first["weight_hh"], tensors[first["weight_hh"]], "an LSTM, GRU or RNN")
    cls = TORCH_CLASS[arch] + ("Cell" if cells else "")
    layers: dict[int, dict[str, tuple[str, Array]]] = {}
    used = set()
    for l, kinds in names.items():
        layers[l] = {kind: (name, tensors[name]) for kind, name in kinds.items()}
        used |= set(kinds.values())
        if "bias_ih" not in kinds:
            gh = tensors[kinds["weight_hh"]].shape[0]
            layers[l]["bias_ih"] = layers[l]["bias_hh"] = ("(no bias)", np.zeros(gh))
    if any("bias_ih" not in kinds for kinds in names.values()):
        notes.append("bias=False: the recurrent biases are zero")
    params, input_size, hidden = _stack(arch, layers, cls)
    return Recurrent(arch, params, len(layers), input_size, hidden, used, notes)


def torch_embedding_and_head(tensors: dict[str, Array], used: set[str], rec: Recurrent) -> tuple[Array, Array, Array]:
    """nn.Embedding (V, I) and nn.Linear (V, H) + bias (V,), told apart by shape and by the bias; a head
    without bias is allowed, and so is one tied to the embedding (I = H, saved once or twice)."""
    I, H = rec.input_size, rec.hidden_size
    rest = {k: v for k, v in tensors.items() if k not in used}
    mats = {k: v for k, v in rest.items() if k.endswith("weight") and v.ndim == 2}

    def bias_of(k: str) -> str | None:
        b = k[: -len("weight")] + "bias"
        return b if b in rest and rest[b].shape == (mats[k].shape[0],) else None

    with_bias = [k for k, v in mats.items() if v.shape[1] == H and bias_of(k)]
    if len(with_bias) > 1:
        raise ModelFileError(f"found {len(with_bias)} candidate output layers ((V, {H}) and a bias): {with_bias}")
    embs = [k for k, v in mats.items() if v.shape[1] == I and not bias_of(k)]
    tied = False
    if with_bias:
        heads = with_bias
    elif I == H and len(embs) == 2:  # two (V, H) matrices, neither with a bias: a tied pair, or undecidable
        a, b = embs
        if mats[a].shape != mats[b].shape or not np.array_equal(mats[a], mats[b]):
            raise ModelFileError(
                f"cannot tell the embedding from the output layer: {a} and {b} both have shape "
                f"{tuple(mats[a].shape)} and no bias; give the head its bias, or save the state_dict with the "
                "embedding named 'embedding.weight' and the head 'decoder.weight'"
            )
        heads, embs, tied = [b], [a], True
    elif I == H and len(embs) == 1:  # one matrix for both: a tied head saved once
        heads, tied = embs, True
    else:
        heads = [k for k, v in mats.items() if v.shape[1] == H and not bias_of(k)]
    if len(heads) != 1:
        what = "no" if not heads else f"{len(heads)} candidate"
        raise ModelFileError(
            f"found {what} output layer: an nn.Linear({H}, vocabulary) whose weight has {H} columns; "
            f"tensors not yet used: {_found(rest) or 'none'}"
        )
    head = heads[0]
    head_bias = bias_of(head)
    used |= {head} | ({head_bias} if head_bias else set())
    if tied:
        rec.notes.append(f"the output layer is tied to the embedding ({' = '.join(dict.fromkeys([*embs, head]))})")
    elif not head_bias:
        rec.notes.append(f"the output layer ({head}) has no bias")
    embs = embs if tied else [k for k in embs if k != head]
    if len(embs) > 1:
        raise ModelFileError(f"found {len(embs)} candidate embeddings (weight (V, {I})): {embs}")
    if embs:
        emb = mats[embs[0]]
        used.add(embs[0])
    elif mats[head].shape[0] == I:
        rec.notes.append("no embedding: the inputs are one-hot vectors")
        emb = np.eye(I)
    else:
        raise ModelFileError(
            f"found no embedding: an nn.Embedding(vocabulary, {I}) whose weight has {I} columns; "
            f"tensors not yet used: {_found(rest) or 'none'}"
        )
    head_w = mats[head]
    return emb, head_w, rest[head_bias] if head_bias else np.zeros(head_w.shape[0])


# -- Keras -----------------------------------------------------------------------------------------------
KERAS_NAME = re.compile(r"^(?P<base>.*?)(?:_?(?P<n>\d+))?$")


def _keras_layer_name(prefix: str) -> str:
    """'sequential/lstm_1/lstm_cell/' → 'lstm_1' (the layer, not its cell); 'lstm_1/' → 'lstm_1'."""
    parts = [p for p in prefix.split("/") if p]
    if len(parts) >= 2 and re.fullmatch(r".*cell(_\d+)?", parts[-1]):
        return parts[-2]
    return parts[-1] if parts else ""


def keras_order(prefixes: list[str], known: list[str] | None = None) -> list[str]:
    """The recurrent layers bottom to top, by the order the model lists them (a .keras config) or by the
    number in Keras's default names (lstm, lstm_1, lstm_2, …) — never by their order in the file."""
    if len(prefixes) == 1:
        return prefixes
    names = {p: _keras_layer_name(p) for p in prefixes}
    if known is not None and all(n in known for n in names.values()):
        return sorted(prefixes, key=lambda p: known.index(names[p]))
    parsed = {p: KERAS_NAME.match(n) for p, n in names.items()}
    bases = {m["base"] for m in parsed.values() if m}
    numbers = [int(m["n"] or 0) for m in parsed.values() if m]
    if len(bases) != 1 or len(set(numbers)) != len(numbers):
        raise ModelFileError(
            f"cannot tell the order of the recurrent layers from their names ({', '.join(sorted(names.values()))}); "
            "save the model with model.save('model.keras') or model.save_weights('model.weights.h5'), which "
            "record it, or name the layers lstm, lstm_1, lstm_2, … (Keras's default names)"
        )
    return sorted(prefixes, key=lambda p: int(parsed[p]["n"] or 0))  # type: ignore[index]


def _keras_gru_order(a: Array, h: int) -> Array:
    return np.concatenate([a[h : 2 * h], a[:h], a[2 * h :]])


def keras_recurrent(tensors: dict[str, Array], order: list[str] | None = None) -> Recurrent:
    """LSTM / GRU / SimpleRNN layers by their `kernel`, `recurrent_kernel` and (optional) `bias`."""
    if any("backward" in k or "bidirectional" in k for k in tensors):
        raise ModelFileError("bidirectional layers are not supported (found backward_* / bidirectional tensors)")
    prefixes = [k[: -len("recurrent_kernel")] for k in tensors if k.endswith("recurrent_kernel")]
    if not prefixes:
        raise ModelFileError(f"no Keras recurrent layer (a recurrent_kernel) found; tensors: {_found(tensors)}")
    prefixes = keras_order(prefixes, order)
    layers: dict[int, dict[str, tuple[str, Array]]] = {}
    used: set[str] = set()
    arch = ""
    notes: list[str] = []
    for l, prefix in enumerate(prefixes):
        if prefix + "kernel" not in tensors:
            raise ModelFileError(f"layer {_keras_layer_name(prefix)!r}: no {prefix}kernel in the file")
        kernel, rec = tensors[prefix + "kernel"], tensors[prefix + "recurrent_kernel"]
        kind = _blocks(prefix + "recurrent_kernel", rec.T, "an LSTM, GRU or SimpleRNN")
        if arch and kind != arch:
            raise ModelFileError(f"layer {l} is a {kind} but layer 0 is a {arch}; mixed stacks are not supported")
        arch, h = kind, rec.shape[0]
        used |= {prefix + "kernel", prefix + "recurrent_kernel"}
        bias_name = prefix + "bias"
        if bias_name in tensors:
            bias = tensors[bias_name]
            used.add(bias_name)
        else:
            bias = np.zeros((2, rec.shape[1]) if arch == "gru" else rec.shape[1])
            notes.append(f"{_keras_layer_name(prefix)} has no bias (use_bias=False): zero biases")
        w_ih, w_hh = kernel.T, rec.T  # Keras multiplies x·K; PyTorch W·x
        if arch == "gru":
            if bias.shape != (2, 3 * h):
                raise ModelFileError(
                    f"{bias_name}: shape {tuple(bias.shape)}; only GRUs with reset_after=True (Keras's default) "
                    "are supported"
                )
            # Keras stacks z, r, h; PyTorch r, z, n
            w_ih, w_hh, b_ih, b_hh = (_keras_gru_order(a, h) for a in (w_ih, w_hh, bias[0], bias[1]))
        else:
            b_ih, b_hh = bias, np.zeros_like(bias)
        layers[l] = {"weight_ih": (prefix + "kernel", w_ih), "weight_hh": (prefix + "recurrent_kernel", w_hh),
                     "bias_ih": (bias_name, b_ih), "bias_hh": (bias_name, b_hh)}  # fmt: skip
    params, input_size, hidden = _stack(arch, layers, f"Keras {KERAS_CLASS[arch]}")
    return Recurrent(arch, params, len(layers), input_size, hidden, used, notes)


def keras_embedding_and_head(tensors: dict[str, Array], used: set[str], rec: Recurrent) -> tuple[Array, Array, Array]:
    """The Embedding's `embeddings` (V, I) and the Dense head's `kernel` (H, V) and `bias` (V,)."""
    I, H = rec.input_size, rec.hidden_size
    rest = {k: v for k, v in tensors.items() if k not in used}
    embs = [k for k, v in rest.items() if k.endswith("embeddings") and v.ndim == 2 and v.shape[1] == I]
    heads = [k for k, v in rest.items() if k.endswith("kernel") and v.ndim == 2 and v.shape[0] == H]
    if len(embs) != 1:
        what = "no" if not embs else f"{len(embs)} candidate"
        raise ModelFileError(f"found {what} Embedding with output_dim {I}; tensors not yet used: {_found(rest)}")
    if len(heads) != 1:
        what = "no" if not heads else f"{len(heads)} candidate"
        raise ModelFileError(f"found {what} Dense head on {H} units; tensors not yet used: {_found(rest)}")
    head = heads[0]
    bias = head[: -len("kernel")] + "bias"
    used |= {embs[0], head}
    if bias in rest:
        used.add(bias)
        head_b = rest[bias]
    else:
        head_b = np.zeros(rest[head].shape[1])
        rec.notes.append(f"the Dense head ({head}) has no bias")
    return rest[embs[0]], rest[head].T, head_b


# -- the import ------------------------------------------------------------------------------------------
def check_model_id(model_id: str) -> None:
    """The id names the model's directory (and its URLs): no path separators, no '..', no absolute paths."""
    if not ID_PATTERN.match(model_id) or model_id in (".", ".."):
        raise ModelFileError(f"the model id {model_id!r} must be {ID_RULE} (it names the model's directory)")


def _vocab_fits(vocab: list[str], emb: Array, head_w: Array, head_b: Array) -> None:
    V = len(vocab)
    if emb.shape[0] != V:
        raise ModelFileError(f"your vocabulary has {V} entries but the embedding has {emb.shape[0]} rows")
    if head_w.shape[0] != V:
        raise ModelFileError(f"your vocabulary has {V} entries but the output layer has {head_w.shape[0]} outputs")
    _shape_check("the output layer's bias", head_b, (V,), "a vocabulary of this size")


def import_model(
    fmt: str,
    weights: Path,
    vocab: list[str],
    tokenizer: str,
    model_id: str,
    unk: str | None = None,
    lowercase: bool = False,
    nonlinearity: str | None = None,
    ignore: tuple[str, ...] | list[str] = (),
) -> Model:
    """Build a Model from foreign weights. `nonlinearity` ("tanh" or "relu") is required for a plain RNN
    whose file does not record it; `ignore` lists glob patterns of tensors to leave out on purpose."""
    check_model_id(model_id)
    if not vocab:
        raise ModelFileError("the vocabulary is empty")
    if nonlinearity is not None and nonlinearity not in NONLINEARITIES:
        raise ModelFileError(f"--nonlinearity must be tanh or relu, not {nonlinearity!r}")
    weights = Path(weights)
    if fmt == "pytorch":
        raw, config = read_tensors(weights), None
    elif fmt == "keras":
        from .keras_files import read_keras

        raw, config = read_keras(weights)
    else:
        raise ModelFileError(f"unknown format {fmt!r}; expected 'pytorch' or 'keras'")
    for pattern in ignore:
        matched = [k for k in raw if fnmatch.fnmatchcase(k, pattern)]
        if not matched:
            raise ModelFileError(f"--ignore {pattern!r} matches no tensor; tensors: {_found(raw)}")
        for k in matched:
            del raw[k]
    tensors = {k: np.asarray(v, dtype=np.float64) if v.dtype.kind == "f" else v for k, v in raw.items()}
    if fmt == "pytorch":
        rec = torch_recurrent(tensors)
        used = set(rec.used)
        emb, head_w, head_b = torch_embedding_and_head(tensors, used, rec)
    else:
        rec = keras_recurrent(tensors, config.order if config else None)
        if config is not None:
            config.check(rec, vocab)
        used = set(rec.used)
        emb, head_w, head_b = keras_embedding_and_head(tensors, used, rec)
    unused = set(tensors) - used
    if unused:
        raise ModelFileError(
            f"the model has parts the app cannot run: {_found(tensors, unused)} are not an embedding, a "
            "recurrent layer or the output layer (an nn.LayerNorm or a second head would change every "
            "number); remove them, or leave them out on purpose with --ignore PATTERN"
        )
    _vocab_fits(vocab, emb, head_w, head_b)
    arch = rec.arch
    if arch == "rnn":
        said = nonlinearity or rec.nonlinearity
        if said is None:
            raise ModelFileError(f"these are the weights of a plain RNN: {NONLINEARITY_HELP}")
        if rec.nonlinearity is not None and nonlinearity is not None and nonlinearity != rec.nonlinearity:
            raise ModelFileError(f"--nonlinearity {nonlinearity}, but the file says its RNN uses {rec.nonlinearity}")
        arch = NONLINEARITIES[said]
        rec.notes.append(f"{said} nonlinearity")
    elif nonlinearity is not None:
        raise ModelFileError(f"--nonlinearity is for a plain RNN; these are the weights of a {arch.upper()}")
    try:
        tok = Tokenizer(tokenizer, vocab, unk, lowercase)
    except ValueError as e:
        raise ModelFileError(f"vocabulary: {e}") from e
    params = {**rec.params, "embedding.weight": emb, "decoder.weight": head_w, "decoder.bias": head_b}
    notes = "".join(f" {n[0].upper()}{n[1:]}." for n in rec.notes)
    card: dict[str, Any] = {
        "id": model_id,
        "title": model_id,
        "arch": arch,
        "layers": rec.layers,
        "input_size": rec.input_size,
        "hidden_size": rec.hidden_size,
        "tokenizer": tok.config(),
        "task": f"imported from {fmt}",
        "description": f"Weights imported from {weights.name} ({fmt}).{notes}",
        "metrics": {},
        "provenance": {"imported_from": weights.name, "format": fmt, "notes": rec.notes},
    }
    validate(card, params)
    return Model(card, params, tok)


def import_to_dir(out: Path, **kwargs: Any) -> Path:
    model = import_model(**kwargs)
    return save_model(model, Path(out) / model.id, dtype=np.float64)


def read_vocab(path: Path) -> list[str]:
    """A JSON list of tokens in index order, or an object {token: index} (what tokenizers export)."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as e:
        raise ModelFileError(f"{path}: cannot read the vocabulary ({e.strerror or e})") from None
    if not text.strip():
        raise ModelFileError(f"{path}: the vocabulary file is empty")
    try:
        vocab = parse_json(text)
    except (UnicodeDecodeError, ValueError) as e:
        raise ModelFileError(f"{path}: the vocabulary is not readable JSON ({e})") from None
    if isinstance(vocab, dict):
        ids = list(vocab.values())
        if not all(type(i) is int for i in ids) or sorted(ids) != list(range(len(ids))):
            raise ModelFileError(
                f"{path}: a vocabulary object maps each token to its index, and the indices must be 0 to "
                f"{len(ids) - 1}, each once"
            )
        vocab = sorted(vocab, key=vocab.__getitem__)
    if not isinstance(vocab, list) or not all(isinstance(t, str) for t in vocab):
        raise ModelFileError(
            f"{path}: the vocabulary must be a JSON list of token strings in index order, or an object {{token: index}}"
        )
    if not vocab:
        raise ModelFileError(f"{path}: the vocabulary is empty")
    return vocab
