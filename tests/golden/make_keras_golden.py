"""Write the Keras files and golden outputs that tests/test_importers.py imports and compares against.

Run by hand where Keras 3 is installed (Keras is never a dependency of the app or of the tests); any
backend works, e.g. with PyTorch:

    KERAS_BACKEND=torch python tests/golden/make_keras_golden.py

Each case builds a small Sequential model in float64 and saves it the ways Keras users do: `model.save`
(`.keras`), `model.save_weights` (`.weights.h5`), `model.save` to a Keras 2 style `.h5`, and the `.npz`
recipe of the README (`{w.path: w.numpy()}`) with its keys written in reverse order, so that a reader that
trusts the order in the file swaps the layers. The golden output is Keras's own next-token distribution at
every step of the manifest's text.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np

HERE = Path(__file__).resolve().parent / "keras"
MANIFEST = json.loads((HERE.parent / "manifest.json").read_text())
VOCAB, TEXT = MANIFEST["vocab"], MANIFEST["text"]
L = keras.layers

CASES = {
    # I == H, so a swapped pair of layers would still have the right shapes
    "keras-lstm-2": lambda: [L.Embedding(7, 6), L.LSTM(6, return_sequences=True), L.LSTM(6, return_sequences=True)],
    "keras-gru-1": lambda: [L.Embedding(7, 5), L.GRU(6, return_sequences=True)],
    "keras-rnn-relu": lambda: [L.Embedding(7, 5), L.SimpleRNN(6, activation="relu", return_sequences=True)],
    "keras-lstm-nobias": lambda: [L.Embedding(7, 5), L.LSTM(6, use_bias=False, return_sequences=True)],
    "keras-layernorm": lambda: [L.Embedding(7, 5), L.LSTM(6, return_sequences=True), L.LayerNormalization()],
}
FORMATS = {
    "keras-lstm-2": ("keras", "weights.h5", "h5", "npz"),
    "keras-rnn-relu": ("keras", "weights.h5"),
    "keras-layernorm": ("keras", "weights.h5"),
}


def build(name: str) -> keras.Model:
    keras.utils.set_random_seed(sum(map(ord, name)))
    head = L.Dense(7, use_bias=name != "keras-lstm-nobias")
    model = keras.Sequential([keras.Input((None,), dtype="int32"), *CASES[name](), head])
    # Keras initialises biases to zero (and the forget gate's to one): make every number count.
    for w in model.weights:
        w.assign(np.random.default_rng(len(w.path)).uniform(-0.6, 0.6, w.shape))
    return model


def main() -> None:
    keras.config.set_floatx("float64")
    HERE.mkdir(exist_ok=True)
    ids = np.array([[VOCAB.index(ch) for ch in TEXT]], dtype="int32")
    golden = {}
    for name in CASES:
        model = build(name)
        logits = np.asarray(keras.ops.convert_to_numpy(model(ids)))[0]  # (T, V)
        z = np.exp(logits - logits.max(-1, keepdims=True))
        golden[name] = (z / z.sum(-1, keepdims=True)).tolist()
        for fmt in FORMATS.get(name, ("weights.h5",)):
            path = HERE / f"{name}.{fmt}"
            if fmt == "npz":
                weights = {w.path: keras.ops.convert_to_numpy(w) for w in model.weights}
                np.savez(path, **dict(reversed(weights.items())))
            elif fmt == "weights.h5":
                model.save_weights(path)
            else:
                model.save(path)
    (HERE / "golden.json").write_text(json.dumps({"keras": keras.__version__, "probs": golden}) + "\n")
    print(f"wrote {len(CASES)} cases to {HERE}")


if __name__ == "__main__":
    main()
