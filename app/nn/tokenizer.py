"""Char and word tokenizers over a fixed vocabulary. Unknown input is marked, never dropped."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import TraceInputError

# Words (with an inner apostrophe), numbers, and every other non-space character as its own token.
WORD_PATTERN = re.compile(r"\d+|[^\W\d_]+(?:'[^\W\d_]+)?|[^\s\w]|_")


@dataclass(frozen=True)
class Token:
    text: str  # as it appears in the input (an unknown token keeps its own text)
    id: int  # vocabulary index; the unknown token's index when `unknown`
    unknown: bool


class Tokenizer:
    """Splits text into vocabulary tokens: one per character (`char`) or per word (`word`)."""

    def __init__(self, kind: str, vocab: list[str], unk: str | None = "<unk>", lowercase: bool = False):
        if kind not in ("char", "word"):
            raise ValueError(f"tokenizer kind must be 'char' or 'word', not {kind!r}")
        if len(set(vocab)) != len(vocab):
            dup = next(t for t in vocab if vocab.count(t) > 1)
            raise ValueError(f"the vocabulary lists {dup!r} twice")
        if unk is not None and unk not in vocab:
            raise ValueError(f"the unknown token {unk!r} is not in the vocabulary")
        self.kind = kind
        self.vocab = list(vocab)
        self.unk = unk
        self.lowercase = lowercase
        self.index = {t: k for k, t in enumerate(vocab)}

    def split(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        return list(text) if self.kind == "char" else WORD_PATTERN.findall(text)

    def tokenize(self, text: str) -> list[Token]:
        tokens = []
        for piece in self.split(text):
            k = self.index.get(piece)
            if k is not None and piece != self.unk:
                tokens.append(Token(piece, k, False))
            elif self.unk is not None:
                tokens.append(Token(piece, self.index[self.unk], True))
            else:
                raise TraceInputError(
                    "unknown_token",
                    f"{piece!r} is not in this model's vocabulary and the model has no unknown token",
                )
        return tokens

    def config(self) -> dict[str, object]:
        return {"kind": self.kind, "vocab": self.vocab, "unk": self.unk, "lowercase": self.lowercase}
