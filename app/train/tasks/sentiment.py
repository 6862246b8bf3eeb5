"""Sentiment (words, many-to-one): read a sentence or a short review, say negative or positive at the end.

* **Lexicon** — the polarity of every opinion word comes from VADER's lexicon (Hutto & Gilbert 2014), the
  file `vader_lexicon.txt` inside the `vaderSentiment` wheel on PyPI (pinned by SHA-256; fetched by the
  training command and cached, never committed): its alphabetic words with a mean rating of at least 1.0
  and a median rating of at least 1.5 in either direction (one outlying rater does not drop a clear word),
  among the 30,000 commonest English words of `wordfreq`.
* **Generated reviews** — clauses about a thing (the film, the staff, my phone …) with an opinion word,
  intensifiers (very, really, extremely …), negation (not, never, wasn't, didn't …, which flips the clause),
  contrast (A but B, although A, B, A; however B: the verdict is B's), agreeing clauses joined by and, and
  long-range structure: the opinion first and a long neutral stretch after it (or before it), so the
  verdict must be held for 10–40 words; a curriculum from one clause to all of these. Training scores the
  verdict after the last word (weight 1) and the verdict a reader already holds at the end of earlier parts
  (weight 0.3: the first clause before "but", the opinion before a neutral stretch), so the reading at every
  step means something; the trace's loss is the last word's only.
* **Initialisation** — one embedding dimension starts at each opinion word's VADER rating / 4 (the lexicon
  seeds the polarity; negation, contrast and memory are learnt).
* **Evaluation** — on sentences a person wrote (app/train/eval/sentiment_heldout.tsv, 113 of them: plain,
  negation, contrast, intensifier, long), never made by the generator; the generator's held-out reviews
  only decide when training stops.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ...nn.model import Model
from ...nn.tokenizer import Tokenizer
from ..fetch import PackageFile, fetch_members
from ..recipe import Recipe

CLASSES = ["negative", "positive"]
VADER = PackageFile(
    package="vadersentiment",
    version="3.3.2",
    filename="vaderSentiment-3.3.2-py2.py3-none-any.whl",
    sha256="3bf1d243b98b1afad575b9f22bc2cb1e212b94ff89ca74f8a23a588d024ea311",
    pip_args=("--only-binary", ":all:"),
    cache_name="vader-lexicon",
)
LEXICON_FILE = "vaderSentiment/vader_lexicon.txt"
HELDOUT = Path(__file__).resolve().parents[1] / "eval" / "sentiment_heldout.tsv"

# --------------------------------------------------------------------------------------- the generator
THINGS = (
    "the film", "this movie", "the show", "the book", "the story", "the plot", "the ending", "the acting",
    "the food", "the meal", "the dinner", "the pizza", "the coffee", "the service", "the staff", "the waiter",
    "the hotel", "the room", "the flight", "the trip", "the holiday", "my phone", "this laptop", "the camera",
    "the game", "the song", "the album", "the concert", "the band", "the lecture", "the course", "the teacher",
    "the exam", "the class", "the app", "the price", "the music", "the view", "this place", "the restaurant",
    "the shop", "the car", "the team", "the match", "the party", "the day", "the weather", "it", "everything",
    "the first half", "the second half", "the screen", "the seats", "the product", "the experience",
)  # fmt: skip
NOUNS = (
    *(t.split()[-1] for t in THINGS if t.startswith(("the ", "this ", "my "))),
    "evening", "day", "time", "story", "idea", "experience", "night", "week", "trip", "place", "service",
    "afternoon", "performance", "result", "choice", "surprise", "product", "purchase",
)  # fmt: skip
# neutral words after the opinion ("the staff were rude to us"): the verdict must survive them
TAILS = ("to us", "to me", "from start to finish", "at the end", "for the price", "this time", "in the end",
         "with my family", "for a while", "at first", "on the whole", "last night", "today", "again",
         "in my opinion", "for us", "this year", "there", "at all")  # fmt: skip
COPULAS = ("was", "is", "seemed", "felt", "looked", "tasted", "sounded", "were", "are")
NEGATED_COPULAS = ("was not", "is not", "wasn't", "isn't", "was never", "is never", "were not", "weren't",
                   "did not seem", "didn't feel", "does not look", "was not at all", "is hardly")  # fmt: skip
INTENSIFIERS = ("very", "really", "so", "extremely", "quite", "pretty", "truly", "incredibly", "absolutely",
                "super", "totally", "rather", "too", "terribly", "highly", "completely", "genuinely")  # fmt: skip
# verbs of opinion, with the polarity a reader gives them (their lexicon scores agree in sign)
VERBS = {
    "love": 1,
    "like": 1,
    "enjoy": 1,
    "adore": 1,
    "recommend": 1,
    "appreciate": 1,
    "admire": 1,
    "hate": -1,
    "dislike": -1,
    "regret": -1,
    "despise": -1,
}  # base form -> polarity
PAST = {"love": "loved", "like": "liked", "enjoy": "enjoyed", "adore": "adored", "recommend": "recommended",
        "appreciate": "appreciated", "admire": "admired", "hate": "hated", "dislike": "disliked",
        "regret": "regretted", "despise": "despised"}  # fmt: skip
NEGATED_VERBS = ("did not", "didn't", "do not", "don't", "would not", "wouldn't", "could not", "never", "won't",
                 "can't say i")  # fmt: skip
PEOPLE = ("i", "we", "my friends", "my wife", "my husband", "the kids", "everyone", "my sister", "he", "she")
CONTRASTS = ("but", "but", "yet", "however", "though", "but overall", "but in the end", "still")
PUNCT = (".", "!", ".", ".")
# neutral material: what a review says that is no opinion (long-range structure, distractors)
NEUTRAL = (
    "we went there on a friday night after work", "i bought it in march from a shop in town",
    "we saw it with some friends last week", "it is near the station on a quiet street",
    "we booked a table for eight and arrived at seven", "i read it on the train over two weeks",
    "the band played for two hours", "we stayed for three nights in july", "my brother came with us",
    "it costs about twenty pounds", "we took the bus home at midnight", "there were about fifty people there",
    "i use it every day for email and maps", "the room looks out over the river", "it was raining outside",
    "we had breakfast on the terrace each morning", "it runs on tuesdays and thursdays",
    "you play a farmer who moves to a village", "the story is set in a small town in the north",
    "it lasts about ninety minutes", "i ordered the fish and my wife had the soup",
    "the hall was full", "we sat by the window next to the door", "the course started in september",
    "it came in a small box with a cable", "the film is based on a novel", "we left on the monday",
    "i watched it at home on sunday", "the shop is open until nine", "the teacher gave us three tasks",
    "my parents visited in the spring", "we drove for four hours to get there", "it has a red cover",
)  # fmt: skip


@cache
def lexicon() -> dict[str, float]:
    """VADER's opinion words (mean rating, −4 … +4) that pass the filter of the module's docstring."""
    from wordfreq import top_n_list

    path = fetch_members(VADER, {LEXICON_FILE: "vader_lexicon.txt"}) / "vader_lexicon.txt"
    common = set(top_n_list("en", 30000))
    words: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        word, mean, _, ratings = line.split("\t")[:4]
        # the median of the ten raters: one outlier (awful has a +4 among −3s) does not drop a clear word
        median = float(np.median(json.loads(ratings)))
        if re.fullmatch(r"[a-z]{2,}", word) and abs(float(mean)) >= 1.0 and abs(median) >= 1.5 and word in common:
            words[word] = float(mean)
    for verb in VERBS:  # the verbs have their own slot (their lexicon entries agree in sign)
        words.pop(verb, None)
        words.pop(PAST[verb], None)
    return words


def _split_words(words: dict[str, float]) -> tuple[list[str], list[str]]:
    pos = sorted(w for w, m in words.items() if m > 0)
    neg = sorted(w for w, m in words.items() if m < 0)
    return pos, neg


@cache
def sentiment_vocab() -> tuple[str, ...]:
    """Opinion words, the generator's words, and the 3,000 commonest English words (a person's sentence)."""
    from wordfreq import top_n_list

    gen: set[str] = set()
    for group in (
        THINGS,
        NOUNS,
        TAILS,
        COPULAS,
        NEGATED_COPULAS,
        INTENSIFIERS,
        VERBS,
        PAST.values(),
        NEGATED_VERBS,
        PEOPLE,
        CONTRASTS,
        NEUTRAL,
    ):
        for phrase in group:
            gen.update(Tokenizer("word", ["<unk>"]).split(phrase))
    gen.update(("a", "an", "what", "not", "no", "nothing", "although", "despite", "and", "overall", ",", ".", "!",
                "it", "at", "all", "this", "that", "one", "of", "the", "ever", "have", "had"))  # fmt: skip
    common = [w for w in top_n_list("en", 3000) if re.fullmatch(r"[a-z]+(?:'[a-z]+)?", w)]
    words = sorted(set(lexicon()) | gen | set(common) | {",", ".", "!", "?", ";", ":"})
    return ("<unk>", *[w for w in words if w != "<unk>"])


def _clause(rng: np.random.Generator, sign: int, pos: list[str], neg: list[str]) -> list[str]:
    """One clause whose polarity is `sign`, negated half the time (then its opinion word has the other sign)."""
    negate = rng.random() < 0.35
    word_sign = -sign if negate else sign
    opinion = str(rng.choice(pos if word_sign > 0 else neg))
    intens = [str(rng.choice(INTENSIFIERS))] if rng.random() < 0.3 else []
    kind = rng.random()
    tail = [str(rng.choice(TAILS))] if rng.random() < 0.25 else []
    if kind < 0.55:  # the film was (not) (very) good
        cop = str(rng.choice(NEGATED_COPULAS if negate else COPULAS))
        return [str(rng.choice(THINGS)), cop, *intens, opinion, *tail]
    if kind < 0.8:  # i (did not) love(d) it
        verbs = [v for v, s in VERBS.items() if s == word_sign]
        verb = str(rng.choice(verbs))
        obj = str(rng.choice(("it", "this", *THINGS[:40])))
        if negate:  # i did not love it
            return [str(rng.choice(PEOPLE)), str(rng.choice(NEGATED_VERBS)), *(["really"] if intens else []), verb, obj]
        return [
            str(rng.choice(PEOPLE)),
            *(["really"] if intens else []),
            PAST[verb] if rng.random() < 0.6 else verb,
            obj,
        ]
    noun = str(rng.choice(NOUNS))
    if negate:  # not a (very) good film
        return ["not", "a", *intens, opinion, noun, *tail]
    return [str(rng.choice(("a", "what a", "such a", "an absolutely", "one"))), *intens, opinion, noun, *tail]


def _neutral(rng: np.random.Generator, n: int) -> list[str]:
    return [str(s) for s in rng.choice(NEUTRAL, n)]


def review_parts(rng: np.random.Generator, label: int, level: int = 2) -> list[tuple[str, int | None]]:
    """A generated review whose verdict is `label` (0 negative, 1 positive), as chunks each with the verdict
    a reader holds after it (None where it is open, e.g. after "although A"). Curriculum levels: 0 one
    clause, 1 also two agreeing clauses and contrast, 2 everything (long neutral stretches too). Half the
    reviews end without punctuation, so the verdict is read after the last word, not only at a full stop."""
    pos, neg = _split_words(lexicon())
    sign, other = (1 if label == 1 else -1), 1 - label
    clause = lambda s: " ".join(_clause(rng, s, pos, neg))  # noqa: E731
    shape = rng.random() * (0.25, 0.6, 1.0)[level]
    end: list[tuple[str, int | None]] = [(str(rng.choice(PUNCT)), label)] if rng.random() < 0.5 else []
    if shape < 0.25:
        return [(clause(sign), label), *end]
    if shape < 0.35:
        return [(clause(sign), label), ("and", None), (clause(sign), label), *end]
    if shape < 0.6:  # contrast: the verdict is the second part's
        c = str(rng.choice(CONTRASTS))
        form = rng.random()
        if form < 0.6:
            return [(clause(-sign), other), (f"{' ,' if rng.random() < 0.4 else ''} {c}", None), (clause(sign), label),
                    *end]  # fmt: skip
        if form < 0.8:
            return [(str(rng.choice(("although", "though", "even though", "while"))), None), (clause(-sign), None),
                    (",", None), (clause(sign), label), *end]  # fmt: skip
        return [(clause(-sign), other), (". however ,", None), (clause(sign), label), *end]
    if shape < 0.85:  # the opinion first, a long neutral stretch after it: the verdict must be held
        rest = " . ".join(_neutral(rng, int(rng.integers(1, 5))))
        return [(clause(sign), label), (f". {rest} .", label)]
    rest = " . ".join(_neutral(rng, int(rng.integers(1, 4))))  # the neutral stretch first
    return [(f"{rest} .", None), (clause(sign), label), *end]


def review(rng: np.random.Generator, label: int, level: int = 2) -> str:
    """A generated review (its text) whose verdict is `label`."""
    return " ".join(text for text, _ in review_parts(rng, label, level))


# ------------------------------------------------------------------------------------ batches and loss
def _ids(tok: Tokenizer, text: str) -> list[int]:
    return [t.id for t in tok.tokenize(text)]


def class_batch(seqs: list[list[int]], labels: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Right-padded ids, the label at each row's last token, and weight 1/B there (the loss of the verdict)."""
    T = max(len(s) for s in seqs)
    inputs = np.zeros((len(seqs), T), np.int64)
    targets = np.zeros((len(seqs), T), np.int64)
    weights = np.zeros((len(seqs), T))
    for b, (s, y) in enumerate(zip(seqs, labels, strict=True)):
        inputs[b, : len(s)] = s
        targets[b, len(s) - 1] = y
        weights[b, len(s) - 1] = 1.0 / len(seqs)
    return inputs, targets, weights


CHECKPOINT = 0.3  # the weight of an earlier part's verdict, beside the last word's 1


def checkpoint_batch(rows: list[tuple[list[int], list[tuple[int, int]]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Right-padded ids with the label at each marked position: weight 1 at a row's last token, CHECKPOINT
    at the others, all over the batch size."""
    T = max(len(ids) for ids, _ in rows)
    inputs = np.zeros((len(rows), T), np.int64)
    targets = np.zeros((len(rows), T), np.int64)
    weights = np.zeros((len(rows), T))
    for b, (ids, marks) in enumerate(rows):
        inputs[b, : len(ids)] = ids
        for at, verdict in marks:
            targets[b, at] = verdict
            weights[b, at] = (1.0 if at == len(ids) - 1 else CHECKPOINT) / len(rows)
    return inputs, targets, weights


def class_loss(model: Model, batch: Any, state: Any) -> Any:
    inputs, targets, weights = batch
    return model.loss_and_grads(inputs, targets, weights)


def verdicts(model: Model, texts: list[str], rows: int = 64) -> np.ndarray:
    """The class each text ends on (argmax at its last token), in batches of similar length."""
    out = np.zeros(len(texts), int)
    seqs = [_ids(model.tokenizer, t) for t in texts]  # type: ignore[arg-type]
    order = sorted(range(len(texts)), key=lambda k: len(seqs[k]))
    for s in range(0, len(order), rows):
        part = order[s : s + rows]
        inputs, _, _ = class_batch([seqs[k] for k in part], [0] * len(part))
        logits = model.forward(inputs).logits  # (T, B, C)
        last = np.array([len(seqs[k]) - 1 for k in part])
        out[part] = logits[last, np.arange(len(part))].argmax(-1)
    return out


def heldout() -> list[tuple[int, str, str]]:
    """(label, kind, sentence) of the hand-written set."""
    rows = []
    for line in HELDOUT.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, kind, text = line.split("\t")
            rows.append((CLASSES.index(label), kind, text))
    return rows


def heldout_eval(model: Model) -> dict[str, Any]:
    rows = heldout()
    got = verdicts(model, [t for _, _, t in rows])
    right = got == np.array([y for y, _, _ in rows])
    by_kind = {}
    for kind in dict.fromkeys(k for _, k, _ in rows):
        pick = np.array([k == kind for _, k, _ in rows])
        by_kind[kind] = {"accuracy": round(float(right[pick].mean()), 4), "sentences": int(pick.sum())}
    return {"val": float(right.mean()), "heldout_accuracy": round(float(right.mean()), 4),
            "heldout_sentences": len(rows), "heldout_by_kind": by_kind}  # fmt: skip


def sentiment_eval(model: Model, full: bool) -> dict[str, Any]:
    """Full: the hand-written set (what the card states, reproducible without the lexicon). During training:
    accuracy on the generator's held-out reviews (a fixed seed), which decides when to stop."""
    if full:
        return heldout_eval(model)
    rng = np.random.default_rng(777)
    labels = [int(y) for y in rng.integers(0, 2, 400)]
    texts = [review(rng, y) for y in labels]
    return {"val": float((verdicts(model, texts) == np.array(labels)).mean())}


EVALUATE = sentiment_eval  # what tests/test_train.py checks a shipped card against, without the lexicon


def recipe() -> Recipe:
    vocab = list(sentiment_vocab())
    tok = Tokenizer("word", vocab, "<unk>", lowercase=True)

    def batch(rng: np.random.Generator, level: int) -> Any:
        # The verdict after the last word has weight 1; the verdicts a reader already holds at the end of
        # earlier parts (the first clause, before "but"), CHECKPOINT each: the reading at every step means
        # something, not only the last one.
        rows = []
        for y in rng.integers(0, 2, 32):
            ids: list[int] = []
            marks: list[tuple[int, int]] = []
            for text, verdict in review_parts(rng, int(y), level):
                ids += _ids(tok, text)
                if verdict is not None:
                    marks.append((len(ids) - 1, verdict))
            rows.append((ids, marks))
        return checkpoint_batch(rows)

    def level_eval(model: Model, level: int) -> float:
        rng = np.random.default_rng(55 + level)
        labels = [int(y) for y in rng.integers(0, 2, 200)]
        return float((verdicts(model, [review(rng, y, level) for y in labels]) == np.array(labels)).mean())

    def prepare(params: dict[str, np.ndarray], rng: np.random.Generator) -> None:
        # The lexicon's polarity seeds one embedding dimension (rating / 4, in −1 … 1): the network still has
        # to learn what negation, contrast and distance do to it, and every opinion word starts on its side.
        emb = params["embedding.weight"]
        emb *= 0.5
        for word, mean in lexicon().items():
            emb[tok.index[word], 0] = mean / 4.0

    pos, neg = _split_words(lexicon())
    return Recipe(
        name="sentiment",
        title="Sentiment of a review",
        task="a sentence or short review: negative or positive?",
        description=(
            "Many-to-one: the network reads a review word by word and the classifier reads its hidden state "
            "at every step — its current verdict — while only the verdict after the last word is trained. "
            "Opinion words and their polarity come from the VADER lexicon; the generated reviews negate them "
            "(not, never, wasn't), intensify them, contrast them (A but B: B decides) and hold the verdict "
            "across long neutral stretches. Measured on 113 sentences a person wrote."
        ),
        tokenizer={"kind": "word", "vocab": vocab, "unk": "<unk>", "lowercase": True},
        hidden={"lstm": 32, "gru": 28, "rnn": 48, "irnn": 48, "peephole": 32, "cifg": 34},
        input_size=16,
        batch=batch,
        evaluate=sentiment_eval,
        val_name="accuracy on the hand-written held-out set",
        kind="classifier",
        classes=CLASSES,
        loss=class_loss,
        prepare=prepare,
        levels=[0, 1, 2],
        level_eval=level_eval,
        level_up=0.9,
        lr=8e-3,
        max_steps=2500,
        eval_every=100,
        patience=8,
        minutes=5,
        provenance={
            "generator": "app/train/tasks/sentiment.py",
            "lexicon": {
                **VADER.provenance(),
                "file": LEXICON_FILE,
                "licence": "MIT (vaderSentiment)",
                "citation": "Hutto & Gilbert, VADER, ICWSM 2014",
                "opinion_words": {"positive": len(pos), "negative": len(neg)},
            },
            "wordfreq": {
                "package": "wordfreq",
                "version": "3.1.1",
                "used": "top_n_list('en', 30000) filter, top_n_list('en', 3000) vocabulary",
            },
            "heldout": "app/train/eval/sentiment_heldout.tsv (hand-written)",
        },
        example=("The actors were great but the film was not good.", "negative"),
    )
