"""The traced run: every intermediate of every step, the next-token distribution, and the gradient norms
‖∂L_t/∂h_k‖ and ‖∂L_t/∂c_k‖ for every loss L_t and every earlier step k — the vanishing gradient, measured.

Losses: L_t = −log p(token_{t+1} | tokens ≤ t) for every step with a next token, and at the last step
−log p(target) when the caller names a target. All T×T norms come from one reverse sweep in which each
loss is its own row of a batched backward (O(T) Python iterations, each a matrix product).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .cells import StepClamp, step_forward
from .errors import TraceInputError
from .interventions import Intervention, parse_interventions, step_clamps
from .model import Grads, Model, Tape, log_softmax, softmax
from .tokenizer import Token

Array = np.ndarray
TOP_K = 10


class Stepper:
    """Feeds a model one token at a time, keeping the recurrent state. A whole-sequence trace is a loop
    over `advance`, so a stream of steps and a finished trace hold the very same states (the trace then
    decodes all steps in one matrix product, equal to `step`'s logits up to the last bits)."""

    def __init__(self, model: Model, clamps: list[list[StepClamp | None]] | None = None):
        self.model = model
        self.clamps = clamps
        self.params = [model.layer(l) for l in range(model.layers)]
        self.table = model.xw_table()  # (V, G·H) layer 0's input projection, looked up per token
        self.h, self.c = model.zero_state(1)
        self.t = 0

    def advance(self, token_id: int) -> list[dict[str, Any]]:
        """Advance one token. Returns each layer's cache (every intermediate)."""
        m, t = self.model, self.t
        caches = []
        xw = self.table[token_id][None]  # (1, G·H)
        for l, p in enumerate(self.params):
            if l > 0:
                xw = np.dot(caches[-1]["h"], p["weight_ih"].T) + p["bias_ih"]
            clamp = self.clamps[l][t] if self.clamps is not None and t < len(self.clamps[l]) else None
            cache = step_forward(m.spec, p, xw, self.h[l], self.c[l], clamp)
            self.h[l], self.c[l] = cache["h"], cache["c"]
            caches.append(cache)
        self.t += 1
        return caches

    def step(self, token_id: int) -> tuple[list[dict[str, Any]], Array]:
        """Advance one token; also the decoder's logits (V,) for the next one."""
        caches = self.advance(token_id)
        return caches, decode(self.model, caches[-1]["h"])[0]


def decode(model: Model, h: Array) -> Array:
    """The decoder's logits (rows, V) for top-layer hidden states (rows, H)."""
    return np.dot(h, model.params["decoder.weight"].T) + model.params["decoder.bias"]


@dataclass
class Triangle:
    """Gradient norms of every loss with respect to every earlier state, and one loss's weight gradients."""

    loss_steps: Array  # (R,) the steps t whose loss L_t is defined, ascending
    hidden: Array  # (L, R, T) ‖∂L_t/∂h_k‖, NaN where k > t
    cell: Array | None  # (L, R, T) ‖∂L_t/∂c_k‖
    params: Grads | None  # ∂L_t/∂θ for the last defined loss
    param_step: int | None


@dataclass
class Trace:
    """A traced text. A target of several word pieces is scored as one word: after the text the model
    also reads the target's pieces but the last (the `tail` of the tape, not steps of the trace), and the
    last step's loss is −log of the product of the pieces' probabilities."""

    model: Model
    tokens: list[Token]
    target: Token | None  # the target word (its text, and its first piece's id)
    interventions: list[Intervention]
    tape: Tape  # one row, one step per token of the text
    logp: Array  # (T, V)
    expected: list[int | None]  # per step, the token whose probability is scored (a target's first piece)
    losses: Array  # (T,) NaN where undefined
    triangle: Triangle | None = None
    target_pieces: list[Token] = field(default_factory=list)  # the target word's pieces (one for most words)
    tail: Tape | None = None  # the steps reading the target's pieces after the text (all but the last piece)
    tail_logp: Array | None = None  # (pieces − 1, V) the next-piece distributions after each of them

    @property
    def probs(self) -> Array:
        return np.exp(self.logp)

    @property
    def expected_p(self) -> Array:
        """(T,) the probability of each step's expected token; at a target of pieces, the whole word's."""
        return np.exp(-np.nan_to_num(self.losses, nan=np.inf))

    def expected_text(self, t: int) -> str | None:
        """The expected token's text at step t (the whole target word at the last step)."""
        e = self.expected[t]
        if e is None:
            return None
        if t == len(self.tokens) - 1 and self.target is not None:
            return self.target.text
        return self.model.vocab[e]


def resolve_target(model: Model, target: str | None) -> list[Token]:
    """The target word's tokens: one, or a word's pieces; [] for no target."""
    if target is None or target == "":
        return []
    tok = model.tokenizer
    tokens = tok.tokenize(target)
    if len(tok.words(tokens)) != 1:
        raise TraceInputError(
            "bad_target",
            f"the target must be one {tok.kind} of this model; {target!r} is {len(tokens)} {tok.kind} tokens",
        )
    if any(t.unknown for t in tokens):
        raise TraceInputError("bad_target", f"the target {target!r} is not in this model's vocabulary")
    return tokens


def run_trace(
    model: Model,
    text: str | list[Token],
    target: str | None = None,
    interventions: Any = None,
    gradients: bool = True,
) -> Trace:
    """Trace `text` through `model`; `interventions` is a list of intervention dicts (validated here)."""
    tokens = model.tokenizer.tokenize(text) if isinstance(text, str) else text
    if not tokens:
        raise TraceInputError("empty_text", "there is nothing to trace: type some text")
    pieces = resolve_target(model, target)
    ivs = parse_interventions(interventions, model.spec, model.layers, model.hidden_size)
    T, extra = len(tokens), max(len(pieces) - 1, 0)
    clamps = step_clamps(ivs, model.layers, T + extra, model.hidden_size, model.dtype)
    stepper = Stepper(model, clamps)
    ids = np.array([tok.id for tok in tokens])
    caches = _advance(stepper, ids, model.layers)
    tape = _tape(model, ids, caches, clamps)
    logp = log_softmax(tape.logits[:, 0])
    expected: list[int | None] = [int(k) for k in ids[1:]] + [pieces[0].id if pieces else None]
    losses = np.full(T, np.nan)
    scored = [t for t, e in enumerate(expected) if e is not None]
    losses[scored] = -logp[scored, [expected[t] for t in scored]]
    word = Token("".join(p.text for p in pieces), pieces[0].id, False) if pieces else None
    trace = Trace(model, tokens, word, ivs, tape, logp, expected, losses, target_pieces=pieces)
    if extra:  # read the target's pieces on, and score the word as the product of its pieces
        tail_ids = np.array([p.id for p in pieces[:-1]])
        tail_caches = _advance(stepper, tail_ids, model.layers)
        trace.tail = _tape(model, tail_ids, tail_caches, None)
        trace.tail_logp = log_softmax(trace.tail.logits[:, 0])
        losses[T - 1] -= sum(trace.tail_logp[j, p.id] for j, p in enumerate(pieces[1:]))
    if gradients:
        trace.triangle = gradient_triangle(trace)
    return trace


def _advance(stepper: Stepper, ids: Array, layers: int) -> list[list[dict[str, Any]]]:
    caches: list[list[dict[str, Any]]] = [[] for _ in range(layers)]
    for k in ids:
        for l, cache in enumerate(stepper.advance(int(k))):
            caches[l].append(cache)
    return caches


def _tape(model: Model, ids: Array, caches: list[list[dict[str, Any]]], clamps: Any) -> Tape:
    """A one-row tape of steps already taken; the decoder runs over all of them in one product."""
    inputs = [model.params["embedding.weight"][ids][:, None, :]]
    inputs += [np.stack([c["h"] for c in caches[l]]) for l in range(model.layers - 1)]
    top = np.concatenate([c["h"] for c in caches[-1]])  # (T, H)
    return Tape(ids[None], inputs, caches, decode(model, top)[:, None, :], clamps)


def _joined(trace: Trace) -> tuple[Tape, Array, list[int | None]]:
    """The text's tape followed by the target's tail: (tape, logp (T', V), expected token per step)."""
    tape, tail = trace.tape, trace.tail
    if tail is None or trace.tail_logp is None:
        return tape, trace.logp, trace.expected
    L = trace.model.layers
    joined = Tape(
        np.concatenate([tape.tokens, tail.tokens], axis=1),
        [np.concatenate([tape.inputs[l], tail.inputs[l]]) for l in range(L)],
        [tape.caches[l] + tail.caches[l] for l in range(L)],
        np.concatenate([tape.logits, tail.logits]),
        tape.clamps,
    )
    expected = [*trace.expected, *(p.id for p in trace.target_pieces[1:])]
    return joined, np.concatenate([trace.logp, trace.tail_logp]), expected


def gradient_triangle(trace: Trace) -> Triangle:
    """All ‖∂L_t/∂h_k‖ (and ‖∂L_t/∂c_k‖) in one sweep, plus ∂L/∂θ of the last defined loss.

    A target of pieces adds steps after the text that only the last loss reaches: its row takes each
    piece's loss at the step that predicts it, so ∂L/∂h_k flows back through the target's own steps."""
    model = trace.model
    tape, logp, expected = _joined(trace)
    L, T, Tj = model.layers, trace.tape.steps, tape.steps
    loss_steps = np.array([t for t, e in enumerate(trace.expected) if e is not None], dtype=int)
    R = len(loss_steps)
    # row of each scored step of the joined tape: the text's losses, then the tail's into the last row
    scored = [t for t, e in enumerate(expected) if e is not None]
    dlogits = np.exp(logp[scored])  # backprop through softmax cross-entropy: p − onehot
    dlogits[np.arange(len(scored)), [expected[t] for t in scored]] -= 1.0
    dtop_rows = dlogits @ model.params["decoder.weight"]  # (scored, H) into the top hidden state, one product
    dtop = dict(zip(scored, dtop_rows, strict=True))

    hidden = np.full((L, R, Tj), np.nan)
    cell = np.full((L, R, Tj), np.nan) if model.spec.has_cell else None

    def inject(t: int, rows: int) -> tuple[int, Array | None]:
        a = int(np.searchsorted(loss_steps, t)) if t < T else R - 1  # rows a: are the losses at or after t
        if t not in dtop or a == R:
            return a, None
        d = np.zeros((R - a, model.hidden_size), model.dtype)
        d[0 if t < T else -1] = dtop[t]
        return a, d

    def record(l: int, t: int, a: int, dh: Array, dc: Array | None) -> None:
        hidden[l, a:, t] = np.sqrt((dh * dh).sum(-1))
        if cell is not None and dc is not None:
            cell[l, a:, t] = np.sqrt((dc * dc).sum(-1))

    # one sweep: every loss is a row; the last loss's row (always the last alive row) also gives ∂L/∂θ
    params = model.backward(tape, R, inject, params=R > 0, on_step=record, param_rows=slice(-1, None))
    param_step = int(loss_steps[-1]) if R else None
    if param_step is not None:
        last = [t for t in scored if t >= param_step]  # the last loss's scored steps (its pieces)
        d = dlogits[[scored.index(t) for t in last]]  # (pieces, V)
        h = np.concatenate([tape.caches[-1][t]["h"] for t in last])  # (pieces, H)
        params.params["decoder.weight"] = d.T @ h
        params.params["decoder.bias"] = d.sum(0)
    else:
        params = None
    return Triangle(loss_steps, hidden[:, :, :T], cell[:, :, :T] if cell is not None else None, params, param_step)


# ------------------------------------------------------------------------------------------ the document
def round_sig(a: Array, digits: int = 7) -> Array:
    """Round to `digits` significant digits so that JSON carries the short decimal, not 17 digits."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.floor(np.log10(np.abs(a)))
    e = np.where(np.isfinite(e), e, 0.0)
    k = digits - 1 - e  # decimal places to keep
    # divide by an exact power of ten (or multiply, for huge values) so the result is the nearest double
    # to the rounded decimal, whose shortest repr is that decimal
    small = k >= 0
    up = 10.0 ** np.where(small, k, 0.0)
    down = 10.0 ** np.where(small, 0.0, -k)
    return np.where(small, np.round(a * up) / up, np.round(a / down) * down)


def _f(x: float) -> float | None:
    return None if not np.isfinite(x) else float(round_sig(np.array(x)))


def _rows(arrays: list[Array]) -> list[list[float]]:
    """Per-step (1, H) arrays → one rounded list per step; rounding is vectorised over all steps at once."""
    return round_sig(np.concatenate(arrays)).tolist()


def _layer_columns(model: Model, caches: list[dict[str, Any]]) -> dict[str, Any]:
    """Every recorded quantity of one layer over all steps, rounded in one go per quantity."""
    first = caches[0]
    return {
        "gates": {g: _rows([c["act"][g] for c in caches]) for g in model.spec.gates},
        "preactivations": {g: _rows([c["pre"][g] for c in caches]) for g in first["pre"]},
        "cell": _rows([c["c"] for c in caches]) if first["c"] is not None else None,
        "tanh_cell": _rows([c["tanh_c"] for c in caches]) if first["tanh_c"] is not None else None,
        "hidden": _rows([c["h"] for c in caches]),
    }


def _clamped(model: Model, cache: dict[str, Any]) -> dict[str, list[int]]:
    return {
        g: np.flatnonzero(cache["free"][g] == 0).tolist() for g in model.spec.gates if cache["free"].get(g) is not None
    }


def top_k(probs: Array, k: int) -> Array:
    """(T, k) the k likeliest ids per row, likeliest first (equal probabilities by id): a partial sort,
    so the cost does not grow with V log V."""
    if probs.shape[1] <= k:
        return np.argsort(-probs, axis=1, kind="stable")
    part = np.argpartition(-probs, k - 1, axis=1)[:, :k]  # (T, k) unordered
    order = np.lexsort((part, -np.take_along_axis(probs, part, 1)), axis=1)
    return np.take_along_axis(part, order, 1)


def step_records(trace: Trace) -> list[dict[str, Any]]:
    """`steps` of the document: each layer's quantities, the top next tokens, the expected token, the loss."""
    model, T, vocab = trace.model, trace.tape.steps, trace.model.vocab
    columns = [_layer_columns(model, trace.tape.caches[l]) for l in range(model.layers)]
    probs = trace.probs
    top = top_k(probs, TOP_K)  # (T, K)
    top_p = round_sig(np.take_along_axis(probs, top, 1)).tolist()
    exp_p = round_sig(trace.expected_p).tolist()
    losses = round_sig(np.nan_to_num(trace.losses)).tolist()
    steps = []
    for t in range(T):
        layers = []
        for l, col in enumerate(columns):
            layers.append({
                "gates": {g: v[t] for g, v in col["gates"].items()},
                "preactivations": {g: v[t] for g, v in col["preactivations"].items()},
                "cell": col["cell"][t] if col["cell"] is not None else None,
                "tanh_cell": col["tanh_cell"][t] if col["tanh_cell"] is not None else None,
                "hidden": col["hidden"][t],
                "clamped": _clamped(model, trace.tape.caches[l][t]) if trace.interventions else {},
            })  # fmt: skip
        e = trace.expected[t]
        steps.append({
            "layers": layers,
            "top": [{"token": vocab[k], "p": p} for k, p in zip(top[t].tolist(), top_p[t], strict=True)],
            "expected": None if e is None else {"token": trace.expected_text(t), "id": e, "p": exp_p[t]},
            "loss": None if e is None else losses[t],
        })  # fmt: skip
    return steps


def gradients_record(trace: Trace) -> dict[str, Any] | None:
    tri = trace.triangle
    if tri is None:
        return None
    model, T = trace.model, trace.tape.steps
    row = {int(t): r for r, t in enumerate(tri.loss_steps)}

    def rows(a: Array) -> list[list[float] | None]:
        rounded = round_sig(a).tolist()  # (R, T) in one call; NaN above the diagonal is sliced away
        return [rounded[row[t]][: t + 1] if t in row else None for t in range(T)]

    layers = [
        {"hidden": rows(tri.hidden[l]), "cell": rows(tri.cell[l]) if tri.cell is not None else None}
        for l in range(model.layers)
    ]
    return {"layers": layers, "params": param_norms(model, tri)}


def param_norms(model: Model, tri: Triangle) -> dict[str, Any] | None:
    """‖∂L_t/∂W‖ per layer and per gate block (input and recurrent weights, both biases together)."""
    if tri.params is None:
        return None
    g, H = tri.params.params, model.hidden_size
    norm = lambda a: _f(float(np.sqrt((a * a).sum())))  # noqa: E731
    layers = []
    for l in range(model.layers):
        blocks: dict[str, Any] = {}
        for k, name in enumerate(model.spec.blocks):
            rows = slice(k * H, (k + 1) * H)
            b = np.concatenate([g[f"layers.{l}.bias_ih"][rows], g[f"layers.{l}.bias_hh"][rows]])
            blocks[name] = {
                "weight_ih": norm(g[f"layers.{l}.weight_ih"][rows]),
                "weight_hh": norm(g[f"layers.{l}.weight_hh"][rows]),
                "bias": norm(b),
            }
            if f"layers.{l}.peephole_{name}" in g:
                blocks[name]["peephole"] = norm(g[f"layers.{l}.peephole_{name}"])
        layers.append(blocks)
    return {
        "step": tri.param_step,
        "layers": layers,
        "embedding": norm(g["embedding.weight"]),
        "decoder": norm(np.concatenate([g["decoder.weight"].ravel(), g["decoder.bias"]])),
    }


def document(trace: Trace) -> dict[str, Any]:
    """The trace document served by `lstm-explainer trace --json` and the HTTP API."""
    m = trace.model
    return {
        "model": {
            "id": m.id, "arch": m.arch, "layers": m.layers, "input_size": m.input_size,
            "hidden_size": m.hidden_size, "tokenizer": m.tokenizer.kind,
        },
        "tokens": [{"text": t.text, "id": t.id, "unknown": t.unknown, "join": t.join} for t in trace.tokens],
        "target": None if trace.target is None else {"text": trace.target.text, "id": trace.target.id},
        "steps": step_records(trace),
        "gradients": gradients_record(trace),
        "interventions": [iv.as_dict() for iv in trace.interventions],
        "notices": [],  # what the server left out and why (e.g. gradients of a text past its limit)
    }  # fmt: skip


def trace_document(
    model: Model, text: str, target: str | None = None, interventions: Any = None, gradients: bool = True
) -> dict[str, Any]:
    return document(run_trace(model, text, target, interventions, gradients))


__all__ = ["Stepper", "Trace", "Triangle", "document", "run_trace", "softmax", "trace_document"]
