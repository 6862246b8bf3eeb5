"""What every task module hands the training loop: a `Recipe` (the data, the model shape per architecture,
the loss of one batch and the evaluation written into the card), plus helpers the language-model tasks share.

A task lives in one module of `app/train/tasks/` holding its generator or corpus, its vocabulary, its
evaluation and its recipe; `app/train/cards.py` turns a recipe and a trained model into the model card.
A recipe of another kind (`kind="classifier"` with its `classes`, `"forecaster"` with its `normalisation`)
brings its own `batch`, `loss` and `evaluate`; the loop and the card builder stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..nn.model import Grads, Model, Tape, log_softmax

# inputs (B, T) int64, targets (B, T) int64, mask (B, T) float64 — for a language model
Batch = tuple[np.ndarray, np.ndarray, np.ndarray]
State = tuple[list[np.ndarray], list[np.ndarray | None]]
LossFn = Callable[[Model, Any, State | None], tuple[float, Grads, Tape]]


def lm_loss(model: Model, batch: Batch, state: State | None) -> tuple[float, Grads, Tape]:
    """Mean −log p of the scored tokens of a language-model batch, and its gradients."""
    inputs, targets, mask = batch
    weights = mask / max(mask.sum(), 1.0)  # mean loss per scored token
    return model.loss_and_grads(inputs, targets, weights, state)


@dataclass
class Recipe:
    name: str
    title: str
    task: str  # one line, shown in the model picker
    description: str
    tokenizer: dict[str, Any]  # the tokenizer's config (app/nn/tokenizer.py): kind, vocab, unk, lowercase …
    hidden: dict[str, int]  # per arch, so twins have similar parameter counts
    input_size: int
    batch: Callable[[np.random.Generator, int], Any]  # (rng, curriculum level) -> batch
    evaluate: Callable[[Model, bool], dict[str, Any]]  # (model, full) -> metrics with a "val" entry
    val_name: str  # what "val" measures, for the card and the progress bar
    kind: str = "language-model"  # what the model's output means; the card records it
    classes: list[str] = field(default_factory=list)  # a classifier's labels, in decoder-row order
    normalisation: dict[str, float] | None = None  # a forecaster's {"mean", "scale"}: it reads (v − mean) / scale
    loss: LossFn = lm_loss
    higher_is_better: bool = True
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
    # changes the fresh parameters before training (e.g. an embedding dimension seeded from a lexicon)
    prepare: Callable[[dict[str, np.ndarray], np.random.Generator], None] | None = None
    # extra card entries (e.g. the measured trace cost), computed on the finished model
    card_extras: Callable[[Model], dict[str, Any]] | None = None

    @property
    def vocab(self) -> list[str]:
        return self.tokenizer["vocab"]


# ----------------------------------------------------------------------------- shared by language models
def lm_batch(sequences: list[list[int]], weights: list[list[float]]) -> Batch:
    """Pads id sequences on the right into a language-model batch.

    ``weights[b]`` has one entry per target, i.e. ``len(sequences[b]) - 1`` entries; ``targets[:, t]`` is
    the token after ``inputs[:, t]`` and padding (id 0) has weight 0.

    >>> inputs, targets, mask = lm_batch([[1, 2, 3], [4, 5]], [[1.0, 1.0], [2.0]])
    >>> inputs.tolist(), targets.tolist(), mask.tolist()
    ([[1, 2], [4, 0]], [[2, 3], [5, 0]], [[1.0, 1.0], [2.0, 0.0]])
    """
    T = max(len(seq) for seq in sequences) - 1
    inputs = np.zeros((len(sequences), T), dtype=np.int64)
    targets = np.zeros((len(sequences), T), dtype=np.int64)
    mask = np.zeros((len(sequences), T), dtype=np.float64)
    for b, (seq, w) in enumerate(zip(sequences, weights, strict=True)):
        n = len(seq) - 1
        inputs[b, :n] = seq[:-1]
        targets[b, :n] = seq[1:]
        mask[b, :n] = w
    return inputs, targets, mask


def argmax_at(model: Model, inputs: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Each row's likeliest next token after `inputs[b, positions[b]]`."""
    tape = model.forward(inputs)
    return tape.logits[positions, np.arange(inputs.shape[0])].argmax(-1)


def text_loss(model: Model, text: str, rows: int = 16, window: int = 200) -> float:
    """Mean −log p per token over `text`, read as `rows` contiguous streams with carried state."""
    ids = np.array([tok.id for tok in model.tokenizer.tokenize(text)], dtype=np.int64)
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
