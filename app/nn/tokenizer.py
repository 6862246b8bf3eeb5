"""Char and word tokenizers over a fixed vocabulary. Unknown input is marked, never dropped.

A word vocabulary may also hold word pieces: an entry starting with ``##`` continues the word before it
(``##tan`` in ``zol ##tan``), as in BERT's WordPiece. A word that is not in the vocabulary is then read as
the longest vocabulary entry it starts with, followed by the longest continuations, so that "Zoltan" is
still one word of three tokens instead of one unknown token. Each piece after a word's first says so
(`Token.join`); a character no piece covers is an unknown piece of its word.

>>> tok = Tokenizer("word", ["<unk>", "i", "love", "z", "##ol", "##tan", "##s", "."], lowercase=True)
>>> [(t.text, t.join) for t in tok.tokenize("I love Zoltan.")]
[('i', False), ('love', False), ('z', False), ('ol', True), ('tan', True), ('.', False)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import TraceInputError

# Words (with an inner apostrophe), numbers, and every other non-space character as its own token.
WORD_PATTERN = re.compile(r"\d+|[^\W\d_]+(?:'[^\W\d_]+)?|[^\s\w]|_")
PIECE = "##"  # a vocabulary entry that continues the word before it
MAX_PIECE = 24  # characters; longer vocabulary entries are never looked for inside a word


@dataclass(frozen=True)
class Token:
    text: str  # as it appears in the input (an unknown token keeps its own text; a piece has no ##)
    id: int  # vocabulary index; the unknown token's index when `unknown`
    unknown: bool
    join: bool = False  # continues the previous token's word (a word piece after the first)


@dataclass(frozen=True)
class NumberToken(Token):
    """A forecaster's token: one number of a series, `text` as typed and `value` as a float."""

    value: float = 0.0


class Tokenizer:
    """Splits text into vocabulary tokens: one per character (`char`) or per word (`word`), a word
    outside the vocabulary falling back to word pieces when the vocabulary has them."""

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
        self.pieces = kind == "word" and any(t.startswith(PIECE) and len(t) > len(PIECE) for t in vocab)

    def split(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        return list(text) if self.kind == "char" else WORD_PATTERN.findall(text)

    def tokenize(self, text: str) -> list[Token]:
        tokens: list[Token] = []
        for word in self.split(text):
            k = self.index.get(word)
            if k is not None and word != self.unk:
                tokens.append(Token(word, k, False))
            elif self.pieces:
                tokens += self.word_pieces(word)
            elif self.unk is not None:
                tokens.append(Token(word, self.index[self.unk], True))
            else:
                raise TraceInputError(
                    "unknown_token",
                    f"{word!r} is not in this model's vocabulary and the model has no unknown token",
                )
        return tokens

    def word_pieces(self, word: str) -> list[Token]:
        """`word` as its longest known start followed by the longest known continuations (WordPiece's
        greedy rule). A character no entry covers becomes an unknown piece (or an error without `unk`)."""
        out: list[Token] = []
        start = 0
        while start < len(word):
            prefix = PIECE if start else ""
            for end in range(min(len(word), start + MAX_PIECE), start, -1):
                k = self.index.get(prefix + word[start:end])
                if k is not None and word[start:end] != self.unk:
                    out.append(Token(word[start:end], k, False, join=start > 0))
                    start = end
                    break
            else:
                if self.unk is None:
                    raise TraceInputError(
                        "unknown_token", f"{word[start]!r} in {word!r} is not covered by this model's vocabulary"
                    )
                out.append(Token(word[start], self.index[self.unk], True, join=start > 0))
                start += 1
        return out

    def token(self, k: int) -> Token:
        """Vocabulary entry `k` as a token the model wrote (a piece without its ##, joined to the word)."""
        entry = self.vocab[k]
        if self.pieces and entry.startswith(PIECE) and len(entry) > len(PIECE):
            return Token(entry[len(PIECE) :], k, False, join=True)
        return Token(entry, k, False)

    def words(self, tokens: list[Token]) -> list[list[Token]]:
        """Tokens grouped into words: each group one token, or a word's pieces."""
        groups: list[list[Token]] = []
        for tok in tokens:
            if tok.join and groups:
                groups[-1].append(tok)
            else:
                groups.append([tok])
        return groups

    def config(self) -> dict[str, object]:
        return {"kind": self.kind, "vocab": self.vocab, "unk": self.unk, "lowercase": self.lowercase}


# Numbers separated by commas, semicolons or whitespace (a decimal comma is not read: "1,5" is 1 and 5).
NUMBER_SEPARATORS = re.compile(r"[\s,;]+")
NUMBER = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")  # ASCII digits only
MAX_NUMBER = 1e12  # far past any series a forecaster is shown; keeps its arithmetic finite


class NumberTokenizer:
    """A forecaster's tokenizer: a series typed as numbers separated by commas or spaces. Every number is one
    token of the single vocabulary entry ``<number>``; its value is what the model reads. Anything that is
    not a number is refused with the reason, never guessed at."""

    kind = "numbers"
    unk = None
    lowercase = False
    pieces = False

    def __init__(self, vocab: list[str] | None = None) -> None:
        self.vocab = ["<number>"]
        if vocab is not None and list(vocab) != self.vocab:
            raise ValueError(f"a numbers tokenizer's vocabulary is ['<number>'], not {list(vocab)[:5]!r}")
        self.index = {"<number>": 0}

    def split(self, text: str) -> list[str]:
        return [s for s in NUMBER_SEPARATORS.split(text) if s]

    def tokenize(self, text: str) -> list[Token]:
        tokens: list[Token] = []
        for k, s in enumerate(self.split(text)):
            if not NUMBER.match(s):
                raise TraceInputError(
                    "not_a_number",
                    f"{s[:40]!r} (item {k + 1}) is not a number: this model forecasts a series, typed as numbers "
                    "separated by commas or spaces, e.g. '12, 14.5, 13, 17'",
                )
            value = float(s)
            if not abs(value) <= MAX_NUMBER:
                raise TraceInputError("not_a_number", f"{s[:40]!r} (item {k + 1}) is larger than {MAX_NUMBER:g}")
            tokens.append(NumberToken(s, 0, False, value=value))
        return tokens

    def token(self, k: int) -> Token:
        return Token(self.vocab[k], k, False)

    def words(self, tokens: list[Token]) -> list[list[Token]]:
        return [[t] for t in tokens]

    def config(self) -> dict[str, object]:
        return {"kind": self.kind, "vocab": self.vocab, "unk": None, "lowercase": False}


AnyTokenizer = Tokenizer | NumberTokenizer


def tokenizer_from_config(config: dict[str, Any]) -> Tokenizer:
    if config.get("kind") == "numbers":
        return NumberTokenizer(config.get("vocab"))  # type: ignore[return-value]
    return Tokenizer(config["kind"], config["vocab"], config.get("unk"), bool(config.get("lowercase", False)))
