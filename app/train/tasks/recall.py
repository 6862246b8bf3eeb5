"""Recall (char level): a key letter, N random digits, ``=`` — the next character is the key. To answer, the
network must hold the key for the whole string.

>>> inputs, targets, mask = recall_batch(np.random.default_rng(0), batch_size=2, min_digits=3, max_digits=5)
>>> inputs.shape == targets.shape == mask.shape
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...nn.model import Model
from ..recipe import Batch, Recipe, argmax_at, lm_batch

RECALL_KEYS = "abcd"
RECALL_VOCAB = ["<unk>", *RECALL_KEYS, *"0123456789", "="]
RECALL_MAX_DIGITS = 120
_RECALL_INDEX = {ch: k for k, ch in enumerate(RECALL_VOCAB)}


def recall_example(rng: np.random.Generator, n_digits: int) -> str:
    """One recall example, answer included: key, ``n_digits`` random digits, ``=``, key.

    >>> recall_example(np.random.default_rng(1), 8)
    'b57901892=b'
    """
    if n_digits < 1:
        raise ValueError(f"n_digits must be at least 1, not {n_digits}")
    key = RECALL_KEYS[rng.integers(len(RECALL_KEYS))]
    digits = "".join(str(d) for d in rng.integers(0, 10, size=n_digits))
    return f"{key}{digits}={key}"


def recall_batch(
    rng: np.random.Generator, batch_size: int, min_digits: int = 1, max_digits: int = RECALL_MAX_DIGITS
) -> Batch:
    """A batch of recall examples with ``min_digits``–``max_digits`` digits each.

    Only the ``=`` position counts (mask 1): the digits are random, so the key is the one thing to learn.

    >>> inputs, targets, mask = recall_batch(np.random.default_rng(0), 4, 1, 10)
    >>> [RECALL_VOCAB[targets[b, mask[b] == 1][0]] in RECALL_KEYS for b in range(4)]
    [True, True, True, True]
    """
    if not 1 <= min_digits <= max_digits:
        raise ValueError(f"need 1 <= min_digits <= max_digits, got {min_digits} and {max_digits}")
    sequences, weights = [], []
    for n in rng.integers(min_digits, max_digits + 1, size=batch_size):
        text = recall_example(rng, int(n))
        sequences.append([_RECALL_INDEX[ch] for ch in text])
        w = [0.0] * (len(text) - 1)
        w[-1] = 1.0  # the last input is "=", whose target is the key
        weights.append(w)
    return lm_batch(sequences, weights)


def recall_accuracy(model: Model, n_digits: int, count: int = 400, seed: int = 1234) -> float:
    rng = np.random.default_rng(seed + n_digits)
    idx = {ch: k for k, ch in enumerate(model.vocab)}
    texts = [recall_example(rng, n_digits) for _ in range(count)]
    inputs = np.array([[idx[ch] for ch in t[:-1]] for t in texts])
    keys = np.array([idx[t[-1]] for t in texts])
    pred = argmax_at(model, inputs, np.full(count, inputs.shape[1] - 1))
    return float((pred == keys).mean())


def recall_eval(model: Model, full: bool) -> dict[str, Any]:
    if full:
        acc = {str(n): recall_accuracy(model, n) for n in (1, 10, 25, 50, 75, 100, 120)}
        return {"val": acc["100"], "accuracy_by_digits": acc}
    return {"val": recall_accuracy(model, 100, count=200)}


def recall_level_eval(model: Model, level: int) -> float:
    return recall_accuracy(model, level, count=200, seed=99)


RECIPE = Recipe(
    name="recall",
    title="Recall a key across digits",
    task="a letter, N digits, '=': say the letter",
    description=(
        "Char-level: one key letter from abcd, then N random digits (1–120), then '='; the next character "
        "is the key. To answer, the network must hold the key for the whole string. The LSTM's input gate "
        "opens at the key, its forget gate holds, its output gate opens at '='."
    ),
    tokenizer={"kind": "char", "vocab": RECALL_VOCAB, "unk": "<unk>", "lowercase": False},
    hidden={"lstm": 16, "gru": 20, "rnn": 36, "irnn": 36, "peephole": 16, "cifg": 18},
    input_size=8,
    batch=lambda rng, level: recall_batch(rng, 32, 1, level),
    evaluate=recall_eval,
    val_name="accuracy at N=100",
    lr=4e-3,
    max_steps=4000,
    eval_every=100,
    patience=10,
    minutes=12,
    levels=[5, 10, 20, 35, 50, 75, 100, 120],
    level_eval=recall_level_eval,
    example=("c31415926535897932384626433832795028841971693993751=", "c"),
)
