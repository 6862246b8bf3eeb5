"""Reading the files Keras users have: `model.save("x.keras")`, `model.save_weights("x.weights.h5")`, a
Keras 2 `.h5`, or an `.npz` of `{w.path: w.numpy() for w in model.weights}`.

Every format comes out as tensors named like Keras 3's variable paths, `lstm_1/cell/kernel`,
`embedding/embeddings`, `dense/bias`, which `importers.keras_recurrent` maps. HDF5 needs h5py, the optional
`keras` extra; it is imported only here, only when such a file is read.

Keras 3 stores a layer's variables by position (`layers/lstm_1/cell/vars/0`) under a name made from the
layer's class (`lstm`, `lstm_1`, … in the order the model lists them), not the name the user gave it; a
`.keras` file adds `config.json`, the model's layers in order with their settings (activations, biases,
masking), which the import checks against what the app can run.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelFileError
from .files import parse_json, read_tensors

KERAS_EXTRA = 'reading Keras .h5 and .keras files needs h5py: pip install "lstm-explainer[keras]"'
# Variable names by position, per layer class (Keras 3 saves `vars/0`, `vars/1`, …).
CELL_VARS = ("kernel", "recurrent_kernel", "bias")
LAYER_VARS = {
    "embedding": ("embeddings",),
    "dense": ("kernel", "bias"),
    "layer_normalization": ("gamma", "beta"),
    "batch_normalization": ("gamma", "beta", "moving_mean", "moving_variance"),
}
RECURRENT = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "rnn"}
# Layers that hold no weights and change nothing the app computes.
HARMLESS = {"InputLayer", "Dropout", "SpatialDropout1D", "GaussianDropout", "AlphaDropout"}
OUTPUT_ACTIVATIONS = (None, "linear", "softmax")  # softmax of the logits is what the app shows


def to_snake_case(name: str) -> str:
    """Keras's own rule for the names its weight files use: SimpleRNN → simple_rnn."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


@dataclass
class KerasConfig:
    """The layers a `.keras` file lists, keyed by the names its weights file uses."""

    layers: list[tuple[str, str, dict[str, Any]]]  # (weights-file name, class, config), in model order
    order: list[str] = field(default_factory=list)  # the recurrent layers' weights-file names, bottom up

    @classmethod
    def parse(cls, raw: Any) -> KerasConfig:
        try:
            listed = raw["config"]["layers"]
            counts: dict[str, int] = {}
            layers = []
            for layer in listed:
                kind = layer["class_name"]
                base = to_snake_case(kind)
                n = counts.get(base, 0)
                counts[base] = n + 1
                layers.append((base if n == 0 else f"{base}_{n}", kind, dict(layer.get("config") or {})))
        except (KeyError, TypeError):
            raise ModelFileError(
                "config.json: not a Sequential or Functional model's configuration (no list of layers); "
                "a subclassed model's .keras file does not describe its layers: use model.save_weights instead"
            ) from None
        return cls(layers, [name for name, kind, _ in layers if kind in RECURRENT])

    def kind_of(self, name: str) -> str | None:
        return next((to_snake_case(kind) for n, kind, _ in self.layers if n == name), None)

    def check(self, rec: Any, vocab: list[str]) -> None:
        """Refuse settings the app would silently run differently; record a SimpleRNN's activation."""
        for name, kind, conf in self.layers:
            label = f"the {kind} layer {conf.get('name', name)!r}"
            if kind in RECURRENT:
                if conf.get("go_backwards") or conf.get("stateful"):
                    raise ModelFileError(f"{label} has go_backwards or stateful set; the app reads text forwards")
                activation = conf.get("activation", "tanh")
                if kind == "SimpleRNN":
                    if activation not in ("tanh", "relu"):
                        raise ModelFileError(f"{label} uses activation={activation!r}; the app runs tanh or relu")
                    rec.nonlinearity = activation
                else:
                    if activation != "tanh" or conf.get("recurrent_activation", "sigmoid") != "sigmoid":
                        raise ModelFileError(
                            f"{label} uses activation={activation!r}, recurrent_activation="
                            f"{conf.get('recurrent_activation')!r}; the app runs tanh and sigmoid (Keras's defaults)"
                        )
            elif kind == "Embedding":
                if conf.get("mask_zero") and vocab[:1] != [""]:
                    raise ModelFileError(
                        f"{label} has mask_zero=True: Keras skips token 0 ({vocab[0]!r}) wherever it appears, and "
                        'the app runs every token; make entry 0 of the vocabulary the padding token ""'
                    )
            elif kind == "Dense":
                if conf.get("activation") not in OUTPUT_ACTIVATIONS:
                    raise ModelFileError(f"{label} uses activation={conf.get('activation')!r}; the head must be linear")
            elif kind == "Activation" and conf.get("activation") not in OUTPUT_ACTIVATIONS:
                raise ModelFileError(f"{label} ({conf.get('activation')!r}) is a part the app cannot run")
            elif kind in ("Activation", "Softmax"):
                continue
            elif kind not in HARMLESS:
                raise ModelFileError(f"{label} is a part the app cannot run (it runs Embedding → recurrent → Dense)")


def _h5py() -> Any:
    try:
        import h5py
    except ImportError:
        raise ModelFileError(KERAS_EXTRA) from None
    return h5py


def _var_names(owner: str, config: KerasConfig | None) -> tuple[str, tuple[str, ...]]:
    """`layers/lstm_1/cell` → ('lstm_1/cell', CELL_VARS); `layers/dense` → ('dense', ('kernel', 'bias'))."""
    path = owner.removeprefix("layers/")
    if path.endswith("/cell"):
        return path, CELL_VARS
    name = path.rsplit("/", 1)[-1]
    kind = (config.kind_of(name) if config else None) or re.sub(r"_\d+$", "", name)
    return path, LAYER_VARS.get(kind, ())


def read_keras3_h5(f: Any, config: KerasConfig | None) -> dict[str, np.ndarray]:
    """Keras 3's `.weights.h5`: `layers/<name>/[cell/]vars/<i>` (the optimizer's state is not the model's)."""
    h5py = _h5py()
    datasets: list[str] = []
    f.visititems(lambda name, obj: datasets.append(name) if isinstance(obj, h5py.Dataset) else None)
    tensors: dict[str, np.ndarray] = {}
    for name in datasets:
        if name.startswith("optimizer/"):
            continue
        owner, _, index = name.rpartition("/vars/")
        if owner and index.isdigit():
            path, names = _var_names(owner, config)
            i = int(index)
            key = f"{path}/{names[i]}" if i < len(names) else f"{path}/vars/{i}"
        else:
            key = name
        tensors[key] = np.asarray(f[name][()])
    return tensors


def read_keras2_h5(f: Any) -> tuple[dict[str, np.ndarray], list[str]]:
    """Keras 2's `.h5` (`save_weights` or `save`): layer groups in model order, each listing its weights."""
    root = f.get("model_weights", f)
    order = [n.decode() if isinstance(n, bytes) else str(n) for n in root.attrs["layer_names"]]
    tensors: dict[str, np.ndarray] = {}
    for layer in order:
        group = root[layer]
        for wname in group.attrs.get("weight_names", []):
            wname = wname.decode() if isinstance(wname, bytes) else str(wname)
            tensors[wname.removesuffix(":0")] = np.asarray(group[wname][()])
    return tensors, order


def read_h5(source: Any, config: KerasConfig | None = None) -> tuple[dict[str, np.ndarray], list[str] | None]:
    h5py = _h5py()
    try:
        with h5py.File(source, "r") as f:
            if "layer_names" in f.attrs or "model_weights" in f:
                tensors, order = read_keras2_h5(f)
                return tensors, order
            return read_keras3_h5(f, config), config.order if config else None
    except (OSError, KeyError, ValueError) as e:
        raise ModelFileError(f"not readable as a Keras HDF5 weights file ({e})") from None


def read_keras(path: Path) -> tuple[dict[str, np.ndarray], Any]:
    """Tensors under Keras-style names, and what tells the layers' order and settings (None for an .npz).

    The second value has `.order` (recurrent layer names, bottom up) and `.check(rec, vocab)`."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    name = path.name.lower()
    if name.endswith(".npz"):
        tensors = read_tensors(path)
        return {k.removesuffix(":0"): v for k, v in tensors.items()}, None
    if name.endswith(".keras"):
        try:
            with zipfile.ZipFile(path) as z:
                config = KerasConfig.parse(parse_json(z.read("config.json")))
                weights = io.BytesIO(z.read("model.weights.h5"))
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
            if isinstance(e, ModelFileError):
                raise
            raise ModelFileError(f"{path.name}: not readable as a .keras file ({e})") from None
        tensors, _ = _named(path, weights, config)
        return tensors, config
    if name.endswith(".h5") or name.endswith(".hdf5"):
        tensors, order = _named(path, path, None)
        return tensors, _Order(order) if order else None
    raise ModelFileError(f"{path.name}: expected a .keras, .weights.h5, .h5 or .npz file")


def _named(path: Path, source: Any, config: KerasConfig | None) -> tuple[dict[str, np.ndarray], list[str] | None]:
    try:
        return read_h5(source, config)
    except ModelFileError as e:
        raise ModelFileError(f"{path.name}: {e}") from None


@dataclass
class _Order:
    """A Keras 2 file's layer order, without settings to check."""

    order: list[str]

    def check(self, rec: Any, vocab: list[str]) -> None:
        return None
