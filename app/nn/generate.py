"""Continuation: let a model write on after a text, one token at a time — greedily (always its likeliest next
token, the same line every time) or by sampling (temperature, top-k, nucleus), which reads like the slides'
Shakespeare demo instead of looping. A sample is fixed by its seed, so a lecture hall that opens the same
link sees the same text.

The text is read once through a `Stepper` (the same step function the traces use) and each chosen token is
fed back in, so `length` tokens cost `length` steps, not a fresh pass over the growing text each time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .errors import TraceInputError
from .model import Model
from .tokenizer import Token
from .trace import Stepper

MAX_CONTINUATION = 400  # tokens; a continuation is read by a person, and each token is one step
MAX_TEMPERATURE = 2.0
MAX_SEED = 2**32 - 1

# By tokenizer: a couple of lines either way. The page reads these too (app/api/routes/pages.py page_config).
DEFAULT_LENGTH = {"char": 200, "word": 20}


@dataclass(frozen=True)
class Sampling:
    """How each next token is chosen. temperature 0 is greedy (argmax, ties to the lower id); above 0 the
    logits are divided by it, then only the `top_k` likeliest tokens (0: all) and the smallest set whose
    probability reaches `top_p` (1: all) stay, renormalised, and one is drawn with a generator seeded by
    `seed`."""

    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.temperature <= MAX_TEMPERATURE:
            message = f"the temperature must be 0 (greedy) to {MAX_TEMPERATURE:g}, not {self.temperature:g}"
            raise TraceInputError("bad_sampling", message)
        if self.top_k < 0:
            raise TraceInputError("bad_sampling", f"top_k must be 0 (all tokens) or more, not {self.top_k}")
        if not 0.0 < self.top_p <= 1.0:
            raise TraceInputError("bad_sampling", f"top_p must be above 0 and at most 1, not {self.top_p:g}")
        if not 0 <= self.seed <= MAX_SEED:
            raise TraceInputError("bad_sampling", f"the seed must be 0 to {MAX_SEED}, not {self.seed}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """(V,) the distribution a token is drawn from (temperature, then top-k, then nucleus)."""
        z = logits / self.temperature
        p = np.exp(z - z.max())
        p /= p.sum()
        order = np.argsort(-p, kind="stable")
        n = len(p) if self.top_k == 0 else min(self.top_k, len(p))
        if self.top_p < 1.0:  # nucleus: the likeliest tokens up to and including the one that reaches top_p
            n = min(n, int(np.searchsorted(np.cumsum(p[order[:n]]), self.top_p)) + 1)
        kept = np.zeros_like(p)
        kept[order[:n]] = p[order[:n]]
        return kept / kept.sum()


GREEDY = Sampling()
STATE_PATTERN = r"^(\d+(?:\.\d+)?):(\d+):(\d+)$"  # the page's and the scenes' `sample`: temperature:top_k:seed


def sampling_from_state(sample: str | None) -> Sampling:
    """The page's `sample` field ('' greedy, or `temperature:top_k:seed`) as a Sampling.

    >>> sampling_from_state("0.8:40:1234")
    Sampling(temperature=0.8, top_k=40, top_p=1.0, seed=1234)
    """
    if not sample:
        return GREEDY
    m = re.match(STATE_PATTERN, sample)
    if m is None:
        raise TraceInputError("bad_sampling", f"sample must be '' or temperature:top_k:seed, not {sample!r}")
    return Sampling(float(m[1]), int(m[2]), 1.0, int(m[3]))


def default_length(model: Model) -> int:
    return DEFAULT_LENGTH.get(model.tokenizer.kind, 1)  # a classifier or forecaster is refused by continue_text


def continue_text(
    model: Model, text: str | list[Token], length: int | None = None, sampling: Sampling = GREEDY
) -> list[Token]:
    """The `length` tokens the model writes after `text`, each chosen by `sampling` given everything before.

    The unknown token is never chosen: it stands for "something outside the vocabulary", not for text.
    Unknown characters or words in `text` are read as the unknown token, exactly as the trace reads them.
    """
    if model.kind != "language-model":
        what = "says a label" if model.kind == "classifier" else "forecasts numbers"
        raise TraceInputError(
            "not_a_language_model", f"{model.id} is a {model.kind}: it {what}, it does not write text to continue"
        )
    length = default_length(model) if length is None else length
    if not 1 <= length <= MAX_CONTINUATION:
        raise TraceInputError("bad_length", f"the length must be 1 to {MAX_CONTINUATION} tokens, not {length}")
    tokens = model.tokenizer.tokenize(text) if isinstance(text, str) else text
    if not tokens:
        raise TraceInputError("empty_text", "there is nothing to continue: type some text")
    unk = model.tokenizer.index.get(model.tokenizer.unk) if model.tokenizer.unk is not None else None
    rng = np.random.default_rng(sampling.seed)
    stepper = Stepper(model)
    logits: np.ndarray = np.empty(0)
    for tok in tokens:
        _, logits = stepper.step(tok.id)
    out: list[Token] = []
    for _ in range(length):
        if unk is not None:
            logits = logits.copy()
            logits[unk] = -np.inf
        if sampling.greedy:
            k = int(np.argmax(logits))  # (V,) → the likeliest next token; softmax would not change the order
        else:
            k = int(rng.choice(len(logits), p=sampling.probabilities(logits)))
        out.append(model.tokenizer.token(k))
        if len(out) < length:
            _, logits = stepper.step(k)
    return out


def join_tokens(model: Model, tokens: list[Token]) -> str:
    """Tokens as text: characters run together; words are separated by spaces (punctuation included, as
    the word tokenizer splits it, so the text reads back into the same tokens), a word's pieces joined."""
    if model.tokenizer.kind == "char":
        return "".join(tok.text for tok in tokens)
    return "".join(tok.text if tok.join else f" {tok.text}" for tok in tokens)


__all__ = [
    "GREEDY",
    "MAX_CONTINUATION",
    "Sampling",
    "continue_text",
    "default_length",
    "join_tokens",
    "sampling_from_state",
]
