"""Counting (char level): a language model over balanced ``(``/``)`` strings of depth ≤ 8, each closed by
``.``. To know which characters are legal next it must count the open brackets in its cell state."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...nn.model import Model, log_softmax
from ..recipe import Batch, Recipe, lm_batch

COUNTING_VOCAB = ["<unk>", "(", ")", "."]
COUNTING_MAX_DEPTH = 8
COUNTING_MAX_LEN = 40  # long enough for depth 8 (17 characters) with room to wander
_COUNTING_INDEX = {ch: k for k, ch in enumerate(COUNTING_VOCAB)}


def counting_string(rng: np.random.Generator, max_len: int, max_depth: int = COUNTING_MAX_DEPTH) -> str:
    """A random non-empty balanced bracket string of at most ``max_len`` characters, ending in ``.``.

    The length is uniform over the possible pair counts, and each string draws its own bias towards
    opening (0.55–0.8), so depths 3–8 are common rather than the shallow walks of a fair coin.

    >>> counting_string(np.random.default_rng(0), 20)
    '((())()())(()()).'
    """
    if max_len < 3:
        raise ValueError(f"max_len must be at least 3 to hold '().', not {max_len}")
    if max_depth < 1:
        raise ValueError(f"max_depth must be at least 1, not {max_depth}")
    steps = 2 * int(rng.integers(1, (max_len - 1) // 2 + 1))
    p_open = rng.uniform(0.55, 0.8)
    chars, depth = [], 0
    for left in range(steps, 0, -1):  # `left` steps remain, this one included
        can_open = depth < max_depth and depth + 1 <= left - 1  # after opening, the closes must still fit
        can_close = depth > 0
        if can_open and (not can_close or rng.random() < p_open):
            chars.append("(")
            depth += 1
        else:
            chars.append(")")
            depth -= 1
    return "".join(chars) + "."


def _open_depth(prefix: str, max_depth: int) -> int:
    """The nesting depth at the end of ``prefix``, checking it is a legal counting prefix."""
    depth = 0
    for k, ch in enumerate(prefix):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == ".":
            if depth != 0 or k == 0 or prefix[k - 1] == ".":
                raise ValueError(f"'.' at {k} does not close a balanced non-empty string in {prefix!r}")
        else:
            raise ValueError(f"{ch!r} at {k} is not one of '(', ')', '.'")
        if not 0 <= depth <= max_depth:
            raise ValueError(f"depth {depth} at {k} is outside 0..{max_depth} in {prefix!r}")
    return depth


def legal_next(prefix: str, max_depth: int = COUNTING_MAX_DEPTH) -> set[str]:
    """The characters that may follow ``prefix`` in a counting stream.

    >>> sorted(legal_next("(()"))
    ['(', ')']
    >>> sorted(legal_next("()"))
    ['(', '.']
    >>> sorted(legal_next("()."))
    ['(']
    """
    depth = _open_depth(prefix, max_depth)
    legal = set()
    if depth < max_depth:
        legal.add("(")
    if depth > 0:
        legal.add(")")
    if depth == 0 and prefix and not prefix.endswith("."):
        legal.add(".")
    return legal


def counting_stream(
    rng: np.random.Generator,
    n_chars: int,
    max_len: int = COUNTING_MAX_LEN,
    max_depth: int = COUNTING_MAX_DEPTH,
) -> str:
    """``n_chars`` characters of closed strings one after another; the last one may be cut off.

    >>> counting_stream(np.random.default_rng(0), 24)
    '((())()())(()()()((((())'
    """
    parts: list[str] = []
    total = 0
    while total < n_chars:
        parts.append(counting_string(rng, max_len, max_depth))
        total += len(parts[-1])
    return "".join(parts)[:n_chars]


def counting_batch(rng: np.random.Generator, batch_size: int, seq_len: int) -> Batch:
    """``batch_size`` windows of ``seq_len`` steps, every position weighted 1.

    Each row is its own fresh stream, so it starts at depth 0 like the zero initial state: a window cut
    from the middle of a string would ask the model to close brackets it never saw open.
    """
    sequences = [[_COUNTING_INDEX[ch] for ch in counting_stream(rng, seq_len + 1)] for _ in range(batch_size)]
    return lm_batch(sequences, [[1.0] * seq_len] * batch_size)


COUNTING_WINDOW = 128


def counting_eval(model: Model, full: bool, seed: int = 4321) -> dict[str, Any]:
    """Share of positions where the model puts < 5% on characters that are illegal next, over held-out
    windows read from a zero state like the training windows."""
    rng = np.random.default_rng(seed)
    rows = 200 if full else 60
    streams = [counting_stream(rng, COUNTING_WINDOW + 1) for _ in range(rows)]
    idx = {ch: k for k, ch in enumerate(model.vocab)}
    ids = np.array([[idx[ch] for ch in s[:COUNTING_WINDOW]] for s in streams])
    probs = np.exp(log_softmax(model.forward(ids).logits))  # (T, B, V)
    ok = []
    for b, s in enumerate(streams):
        for t in range(COUNTING_WINDOW):
            legal = {idx[ch] for ch in legal_next(s[: t + 1])}
            ok.append(probs[t, b, [k for k in range(len(model.vocab)) if k not in legal]].sum() < 0.05)
    return {"val": float(np.mean(ok)), "positions": len(ok)}


RECIPE = Recipe(
    name="counting",
    title="Count brackets",
    task="balanced brackets: which character may come next?",
    description=(
        "Char-level language model over '(', ')' and '.': balanced bracket strings of nesting depth at most "
        "8, each closed by '.'. To know which characters are legal next it must count the open brackets — "
        "watch a cell that climbs with every '(' and falls with every ')'."
    ),
    tokenizer={"kind": "char", "vocab": COUNTING_VOCAB, "unk": "<unk>", "lowercase": False},
    hidden={"lstm": 24, "gru": 28, "rnn": 48, "irnn": 48, "peephole": 24, "cifg": 28},
    input_size=4,
    batch=lambda rng, level: counting_batch(rng, 32, COUNTING_WINDOW),
    evaluate=counting_eval,
    val_name="positions with <5% on illegal characters",
    lr=5e-3,
    max_steps=6000,
    eval_every=200,
    patience=10,
    minutes=15,
    example=("(()((()))(((((((", ")"),  # depth 8: only ")" is legal
)
