"""Word-and-piece vocabularies from a frequency list: the commonest words whole, then word pieces learned
by byte-pair encoding (Sennrich et al. 2016) on the rarer words, so that any word of letters reads as a few
pieces instead of one unknown token (app/nn/tokenizer.py reads them with WordPiece's greedy rule).

>>> learn_pieces({"dogs": 5.0, "dog": 8.0}, 2)
['##og', 'dog']
>>> vocab = word_piece_vocab({"the": 100.0, "cat": 50.0, "dogs": 5.0, "dog": 8.0}, n_words=2, n_merges=2)
>>> vocab[:5], vocab[-2:]
(['<unk>', 'the', 'cat', 'a', 'b'], ['##og', 'dog'])
"""

from __future__ import annotations

import re
import string
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from itertools import pairwise

from ..nn.tokenizer import PIECE

UNK = "<unk>"
LETTERS = string.ascii_lowercase
WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
# Clitics are pieces of their own, so "john's" reads as john + 's and "isn't" as is + n't.
CLITICS = ("'s", "'t", "'re", "'ll", "'ve", "'d", "'m", "n't")


def _symbols(word: str) -> list[str]:
    return [word[0], *(PIECE + ch for ch in word[1:])]


def _merge(a: str, b: str) -> str:
    return a + b[len(PIECE) :]


def learn_pieces(freq: Mapping[str, float], n_merges: int) -> list[str]:
    """The symbols `n_merges` byte-pair merges make from `freq`'s words (letters only), in merge order."""
    words = [_symbols(w) for w in freq]
    weights = [float(f) for f in freq.values()]
    pairs: Counter[tuple[str, str]] = Counter()
    where: defaultdict[tuple[str, str], set[int]] = defaultdict(set)
    for k, syms in enumerate(words):
        for pair in pairwise(syms):
            pairs[pair] += weights[k]
            where[pair].add(k)
    made: list[str] = []
    for _ in range(n_merges):
        if not pairs:
            break
        # the most frequent pair; ties to the alphabetically first, so a frequency list fixes the result
        best = min(pairs, key=lambda p: (-pairs[p], p))
        if pairs[best] <= 0:
            break
        new = _merge(*best)
        made.append(new)
        for k in sorted(where.pop(best, ())):
            syms = words[k]
            for pair in pairwise(syms):
                pairs[pair] -= weights[k]
                if pairs[pair] <= 1e-12:
                    del pairs[pair]
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and (syms[i], syms[i + 1]) == best:
                    out.append(new)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            words[k] = out
            for pair in pairwise(out):
                pairs[pair] += weights[k]
                where[pair].add(k)
    return made


def word_piece_vocab(
    freq: Mapping[str, float],
    n_words: int,
    n_merges: int,
    forced: Iterable[str] = (),
    punctuation: Iterable[str] = (),
    blocked: Iterable[str] = (),
) -> list[str]:
    """`<unk>`, the `forced` words and `punctuation`, the commonest other words of `freq` up to `n_words`
    words in all, every letter and digit as a start and as a piece, the clitics, then the pieces learned
    from the words left out (most frequent merge first). `freq` maps words to frequencies, commonest first;
    words that are not lowercase letters (with one inner apostrophe) and `blocked` words are never whole."""
    blocked = set(blocked)
    vocab: list[str] = [UNK]
    seen = {UNK}

    def add(entry: str) -> None:
        if entry not in seen:
            seen.add(entry)
            vocab.append(entry)

    for w in forced:
        add(w)
    n_whole = len(vocab) - 1
    for p in punctuation:
        add(p)
    rest: dict[str, float] = {}
    for w, f in freq.items():
        if not WORD.fullmatch(w) or w in blocked or w in seen:
            continue
        if n_whole < n_words:
            add(w)
            n_whole += 1
        elif "'" not in w:
            rest[w] = f
    for ch in LETTERS + string.digits:
        add(ch)
    for ch in LETTERS + string.digits:
        add(PIECE + ch)
    for c in CLITICS:
        add(PIECE + c)
    for piece in learn_pieces(rest, n_merges):
        add(piece)
    return vocab
