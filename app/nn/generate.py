"""Greedy continuation: let a model write on after a text, one token at a time, always taking its likeliest
next token. Deterministic (argmax, ties to the lower id), so a lecture hall sees the same line every time —
the slides' Shakespeare demo, where the RNN and the LSTM continue the same line differently.

The text is read once through a `Stepper` (the same step function the traces use) and each chosen token is
fed back in, so `length` tokens cost `length` steps, not a fresh pass over the growing text each time.
"""

from __future__ import annotations

import numpy as np

from .errors import TraceInputError
from .model import Model
from .tokenizer import Token
from .trace import Stepper

MAX_CONTINUATION = 400  # tokens; a continuation is read by a person, and each token is one step


# By tokenizer: a couple of lines either way. The page reads these too (app/api/pages.py page_config).
DEFAULT_LENGTH = {"char": 200, "word": 20}


def default_length(model: Model) -> int:
    return DEFAULT_LENGTH[model.tokenizer.kind]


def continue_text(model: Model, text: str | list[Token], length: int | None = None) -> list[Token]:
    """The `length` tokens the model writes after `text`, each its argmax given everything before it.

    The unknown token is never chosen: it stands for "something outside the vocabulary", not for text.
    Unknown characters or words in `text` are read as the unknown token, exactly as the trace reads them.
    """
    length = default_length(model) if length is None else length
    if not 1 <= length <= MAX_CONTINUATION:
        raise TraceInputError("bad_length", f"the length must be 1 to {MAX_CONTINUATION} tokens, not {length}")
    tokens = model.tokenizer.tokenize(text) if isinstance(text, str) else text
    if not tokens:
        raise TraceInputError("empty_text", "there is nothing to continue: type some text")
    unk = model.tokenizer.index.get(model.tokenizer.unk) if model.tokenizer.unk is not None else None
    stepper = Stepper(model)
    logits: np.ndarray = np.empty(0)
    for tok in tokens:
        _, logits = stepper.step(tok.id)
    out: list[Token] = []
    for _ in range(length):
        if unk is not None:
            logits = logits.copy()
            logits[unk] = -np.inf
        k = int(np.argmax(logits))  # (V,) → the likeliest next token; softmax would not change the order
        out.append(Token(model.vocab[k], k, False))
        if len(out) < length:
            _, logits = stepper.step(k)
    return out


def join_tokens(model: Model, tokens: list[Token]) -> str:
    """Tokens as text: characters run together; words are separated by spaces (punctuation included, as
    the word tokenizer splits it, so the text reads back into the same tokens)."""
    if model.tokenizer.kind == "char":
        return "".join(tok.text for tok in tokens)
    return "".join(f" {tok.text}" for tok in tokens)


__all__ = ["MAX_CONTINUATION", "continue_text", "default_length", "join_tokens"]
