"""Grammar (word level, 381 words): the first lecture models' task — templated sentences grown from the
lecture slides' examples, each with one answer word that only a cue far back decides (country → language,
subject → verb number, name → pronoun). Its closed vocabulary knows only the templates' words, so the
grammar models serve the scenes' fixed sentences; `lecture` (app/train/tasks/lecture.py) is the model for
sentences a person types."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ...nn.model import Model
from ...nn.tokenizer import WORD_PATTERN
from ..recipe import Batch, Recipe, argmax_at, lm_batch


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
    return lm_batch(sequences, weights)


def lecture_eval(model: Model, full: bool, seed: int = 777) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n = 800 if full else 240
    examples = [lecture_sentence(rng, "heldout") for _ in range(n)]
    idx = {w: k for k, w in enumerate(model.vocab)}
    unk = idx["<unk>"]
    T = max(len(e.tokens) for e in examples)
    inputs = np.zeros((n, T), dtype=np.int64)
    for b, e in enumerate(examples):
        inputs[b, : len(e.tokens)] = [idx.get(w, unk) for w in e.tokens]
    pred = argmax_at(model, inputs, np.array([e.answer_index - 1 for e in examples]))
    right = pred == np.array([idx.get(e.tokens[e.answer_index], unk) for e in examples])
    out: dict[str, Any] = {"val": float(right.mean())}
    if full:
        out["by_kind"] = {k: float(right[[e.kind == k for e in examples]].mean()) for k in LECTURE_KINDS}
        buckets = [(1, 5), (6, 10), (11, 20), (21, 30), (31, 99)]
        dist = np.array([e.answer_index - e.cue_index for e in examples])
        out["by_distance"] = {
            f"{lo}-{hi}": {"accuracy": float(right[(dist >= lo) & (dist <= hi)].mean()),
                           "count": int(((dist >= lo) & (dist <= hi)).sum())}
            for lo, hi in buckets if ((dist >= lo) & (dist <= hi)).any()
        }  # fmt: skip
        out["examples"] = n
    return out


RECIPE = Recipe(
    name="grammar",
    title="The slides' sentences (381 words)",
    task="the slides' own sentences only (381 words): Spain → Spanish, was/were, he/she",
    description=(
        "Word-level language model trained on generated sentences that grow from the lecture slides' "
        "examples: a country far back decides the language ('I have been staying in Spain … I can speak "
        "fluent Spanish'), a subject decides was/were across a relative clause, a name decides he/she, and "
        "short facts ('the clouds are in the sky'). Held-out sentences use fillers never seen in training."
    ),
    tokenizer={"kind": "word", "vocab": lecture_vocab(), "unk": "<unk>", "lowercase": True},
    hidden={"lstm": 64, "gru": 74, "rnn": 128, "irnn": 128, "peephole": 64, "cifg": 72},
    input_size=32,
    # the answer word carries the long-range lesson; the words around it are easy and would drown it
    batch=lambda rng, level: lecture_batch(rng, 32, "train", answer_weight=8.0),
    evaluate=lecture_eval,
    val_name="top-1 at the answer word, held-out sentences",
    lr=3e-3,
    max_steps=40000,
    eval_every=1000,
    patience=8,
    minutes=60,
    example=(
        "I have been staying in Spain for the last 10 years and I enjoyed the food there although the weather "
        "was often cold . I can speak fluent",
        "spanish",
    ),
)
