"""Intent (words, many-to-one): the slides' "Which topic is he talking about?" — read what someone says and
name its topic at the end: sport, food, weather, music, technology or travel.

* **Generated utterances** — questions, requests and statements built from each topic's words (written
  here, one list per topic) inside frames a speaker uses ("he keeps going on about …", "can you tell me
  …", "what time does … start"), with neutral material before or after the topical words (long-range
  structure: the topic said first must be held to the end) and, in a quarter of them, a passing word of
  another topic that the main one outweighs.
* **Vocabulary** — the topic words, the frames' words and the 3,000 commonest English words of `wordfreq`.
* **Evaluation** — on sentences a person wrote (app/train/eval/intent_heldout.tsv), never made by the
  generator; the generator's held-out utterances only decide when training stops. Training scores the
  topic after the last word (weight 1) and after the first topical phrase (weight 0.3), so the reading is
  meaningful at every step; the trace's loss is the last word's only.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ...nn.model import Model
from ...nn.tokenizer import Tokenizer
from ..recipe import Recipe
from .sentiment import checkpoint_batch, verdicts

TOPICS: dict[str, tuple[str, ...]] = {
    "sport": ("the football match", "the final score", "our team", "the new coach", "the tennis final", "the league",
              "the world cup", "the goalkeeper", "the race", "the referee", "the players", "the stadium", "a penalty",
              "the basketball game", "the olympics", "the marathon", "his training", "the championship", "the striker",
              "the cricket", "a red card", "the golf tournament", "the swimming race", "the season"),
    "food": ("the pizza", "a recipe for pasta", "dinner", "the new restaurant", "fresh bread", "the soup", "the chef",
             "lunch", "breakfast", "a chocolate cake", "the vegetables", "a salad", "rice and beans", "the spices",
             "baking", "the kitchen", "cheese", "the menu", "a curry", "the dessert", "cooking", "the oven",
             "fruit", "a sandwich"),
    "weather": ("the rain", "the forecast", "the snow", "a storm", "the wind", "the temperature", "the sunshine",
                "the clouds", "thunder", "the fog", "a heatwave", "the cold", "the frost", "showers", "the humidity",
                "twenty degrees", "an umbrella", "the weather", "a hurricane", "ice on the roads", "a sunny day",
                "lightning", "the freezing mornings", "the drought"),
    "music": ("the concert", "her new album", "the band", "a guitar solo", "the piano", "the singer", "the lyrics",
              "the orchestra", "jazz", "the drummer", "a song", "the choir", "the violin", "the melody", "the playlist",
              "rock music", "the chorus", "the gig", "the opera", "a symphony", "the rhythm", "the festival stage",
              "his records", "the tune"),
    "technology": ("his new phone", "the computer", "the software update", "an app", "the internet", "the laptop",
                   "the code", "the program", "a robot", "the battery", "the screen", "the keyboard", "the network",
                   "the website", "the wifi", "artificial intelligence", "the server", "the password", "a chip",
                   "the printer", "the email", "the algorithm", "the data", "the cloud storage"),
    "travel": ("the flight", "the hotel", "the airport", "our trip", "the holiday", "the train to paris",
               "his passport", "the beach", "the tickets", "the luggage", "the journey", "the tourists", "the museum",
               "a visit abroad", "the suitcase", "the map", "a cruise", "the booking", "the station", "the mountains",
               "the city break", "the visa", "a road trip", "the boarding pass"),
}  # fmt: skip
CLASSES = list(TOPICS)
OPENERS = (
    "he keeps talking about", "she was telling me about", "did you hear about", "can you tell me about",
    "i want to know about", "they were arguing about", "my dad loves", "what do you think of",
    "everyone is excited about",
    "he complained about", "i read an article about", "we talked for hours about", "she asked me about",
    "have you seen", "tell me more about", "he won't stop going on about", "i am worried about", "what about",
    "my friend posted about", "the news was all about", "i just found out about", "we were laughing about",
)  # fmt: skip
QUESTIONS = ("what time is", "where is", "how much was", "who is in charge of", "is it true about", "when is")
LINKS = ("and", "and also", "and then", "as well as", "and especially", ", mostly")
NEUTRAL = (
    "yesterday after work", "for the whole evening", "on the phone last night", "while we were waiting",
    "with his brother", "again this morning", "at the party on saturday", "for about an hour", "all week",
    "when i met him in town", "before the meeting started", "every single day", "in the car",
    "and i did not know what to say", "and nobody listened", "as usual", "over coffee", "at lunch today",
)  # fmt: skip
PUNCT = (".", "?", "!", ".")
HELDOUT = Path(__file__).resolve().parents[1] / "eval" / "intent_heldout.tsv"


def _phrase(rng: np.random.Generator, topic: str) -> str:
    return str(rng.choice(TOPICS[topic]))


def utterance_parts(rng: np.random.Generator, label: int, level: int = 2) -> list[tuple[str, int | None]]:
    """An utterance about topic CLASSES[label], in chunks with the topic a listener knows after each."""
    topic = CLASSES[label]
    shape = rng.random() * (0.4, 0.7, 1.0)[level]
    end: list[tuple[str, int | None]] = [(str(rng.choice(PUNCT)), label)] if rng.random() < 0.5 else []
    if shape < 0.25:  # he keeps talking about the football match
        return [(str(rng.choice(OPENERS)), None), (_phrase(rng, topic), label), *end]
    if shape < 0.4:  # what time is the concert
        return [(str(rng.choice(QUESTIONS)), None), (_phrase(rng, topic), label), *end]
    if shape < 0.7:  # two phrases of the topic (and maybe a passing word of another between)
        parts: list[tuple[str, int | None]] = [(str(rng.choice(OPENERS)), None), (_phrase(rng, topic), label)]
        if rng.random() < 0.3:
            other = str(rng.choice([c for c in CLASSES if c != topic]))
            parts += [("and a bit about", None), (_phrase(rng, other), None), ("but mostly", None)]
        else:
            parts += [(str(rng.choice(LINKS)), None)]
        return [*parts, (_phrase(rng, topic), label), *end]
    if shape < 0.85:  # the topic first, then a long neutral stretch: it must be held
        rest = " ".join(str(s) for s in rng.choice(NEUTRAL, int(rng.integers(1, 4))))
        return [(str(rng.choice(OPENERS)), None), (_phrase(rng, topic), label), (rest, label), *end]
    rest = " ".join(str(s) for s in rng.choice(NEUTRAL, int(rng.integers(1, 3))))  # neutral first
    return [(rest, None), (str(rng.choice(OPENERS)), None), (_phrase(rng, topic), label), *end]


def utterance(rng: np.random.Generator, label: int, level: int = 2) -> str:
    return " ".join(text for text, _ in utterance_parts(rng, label, level))


@cache
def intent_vocab() -> tuple[str, ...]:
    from wordfreq import top_n_list

    split = Tokenizer("word", ["<unk>"]).split
    words: set[str] = {",", ".", "!", "?", ";", ":"}
    for group in (*TOPICS.values(), OPENERS, QUESTIONS, LINKS, NEUTRAL, ("and a bit about", "but mostly")):
        for phrase in group:
            words.update(split(phrase))
    words.update(w for w in top_n_list("en", 3000) if re.fullmatch(r"[a-z]+(?:'[a-z]+)?", w))
    return ("<unk>", *sorted(words - {"<unk>"}))


def heldout() -> list[tuple[int, str]]:
    rows = []
    for line in HELDOUT.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, text = line.split("\t")
            rows.append((CLASSES.index(label), text))
    return rows


def intent_eval(model: Model, full: bool) -> dict[str, Any]:
    """Full: the hand-written set, overall and per topic. During training: the generator's held-out utterances."""
    if full:
        rows = heldout()
        got = verdicts(model, [t for _, t in rows])
        right = got == np.array([y for y, _ in rows])
        by = {c: round(float(right[[y == k for y, _ in rows]].mean()), 4) for k, c in enumerate(CLASSES)}
        acc = float(right.mean())
        return {"val": acc, "heldout_accuracy": round(acc, 4), "heldout_sentences": len(rows), "heldout_by_topic": by}
    rng = np.random.default_rng(4242)
    labels = [int(y) for y in rng.integers(0, len(CLASSES), 300)]
    texts = [utterance(rng, y) for y in labels]
    return {"val": float((verdicts(model, texts) == np.array(labels)).mean())}


EVALUATE = intent_eval


def recipe() -> Recipe:
    vocab = list(intent_vocab())
    tok = Tokenizer("word", vocab, "<unk>", lowercase=True)

    def batch(rng: np.random.Generator, level: int) -> Any:
        rows = []
        for y in rng.integers(0, len(CLASSES), 32):
            ids: list[int] = []
            marks: list[tuple[int, int]] = []
            for text, verdict in utterance_parts(rng, int(y), level):
                ids += [t.id for t in tok.tokenize(text)]
                if verdict is not None:
                    marks.append((len(ids) - 1, verdict))
            rows.append((ids, marks))
        return checkpoint_batch(rows)

    def level_eval(model: Model, level: int) -> float:
        rng = np.random.default_rng(66 + level)
        labels = [int(y) for y in rng.integers(0, len(CLASSES), 200)]
        return float((verdicts(model, [utterance(rng, y, level) for y in labels]) == np.array(labels)).mean())

    from .sentiment import class_loss

    return Recipe(
        name="intent",
        title="Which topic is he talking about?",
        task="what someone says: sport, food, weather, music, technology or travel?",
        description=(
            "Many-to-one, the slides' intent example: the network reads an utterance word by word and the "
            "classifier reads its hidden state at every step — its current guess at the topic — while the "
            "guess after the last word is what is trained. Six topics; measured on sentences a person wrote."
        ),
        tokenizer={"kind": "word", "vocab": vocab, "unk": "<unk>", "lowercase": True},
        hidden={"lstm": 32, "gru": 28, "rnn": 48, "irnn": 48, "peephole": 32, "cifg": 34},
        input_size=16,
        batch=batch,
        evaluate=intent_eval,
        val_name="accuracy on the hand-written held-out set",
        kind="classifier",
        classes=CLASSES,
        loss=class_loss,
        levels=[0, 1, 2],
        level_eval=level_eval,
        level_up=0.9,
        lr=8e-3,
        max_steps=2000,
        eval_every=100,
        patience=6,
        minutes=5,
        provenance={
            "generator": "app/train/tasks/intent.py (topic word lists written there)",
            "wordfreq": {"package": "wordfreq", "version": "3.1.1", "used": "top_n_list('en', 3000) vocabulary"},
            "heldout": "app/train/eval/intent_heldout.tsv (hand-written)",
        },
        example=("He talked about the goalkeeper and the penalty for the whole evening.", "sport"),
    )
