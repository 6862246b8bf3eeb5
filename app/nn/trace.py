"""The traced run: every intermediate of every step, the next-token distribution, and the gradient norms
‖∂L_t/∂h_k‖ and ‖∂L_t/∂c_k‖ for every loss L_t and every earlier step k — the vanishing gradient, measured.

Losses: L_t = −log p(token_{t+1} | tokens ≤ t) for every step with a next token, and at the last step
−log p(target) when the caller names a target. All T×T norms come from one reverse sweep in which each
loss is its own row of a batched backward (O(T) Python iterations, each a matrix product).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .cells import StepClamp, step_forward
from .errors import TraceInputError
from .interventions import Intervention, parse_interventions, step_clamps, unapplied
from .model import Grads, Model, Tape, log_softmax, softmax
from .tokenizer import Token

Array = np.ndarray
TOP_K = 10


class Stepper:
    """Feeds a model one token at a time, keeping the recurrent state. A whole-sequence trace is a loop
    over `step`, so a stream of steps and a finished trace hold the very same numbers."""

    def __init__(self, model: Model, clamps: list[list[StepClamp | None]] | None = None):
        self.model = model
        self.clamps = clamps
        self.params = [model.layer(l) for l in range(model.layers)]
        self.table = model.xw_table()  # (V, G·H) layer 0's input projection, looked up per token
        self.h, self.c = model.zero_state(1)
        self.t = 0

    def step(self, token_id: int) -> tuple[list[dict[str, Any]], Array]:
        """Advance one token. Returns each layer's cache (every intermediate) and the decoder's logits (V,)."""
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
        logits = np.dot(caches[-1]["h"][0], m.params["decoder.weight"].T) + m.params["decoder.bias"]
        self.t += 1
        return caches, logits


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
    model: Model
    tokens: list[Token]
    target: Token | None
    interventions: list[Intervention]
    tape: Tape  # one row
    logp: Array  # (T, V)
    expected: list[int | None]  # per step, the token whose probability is scored
    losses: Array  # (T,) NaN where undefined
    triangle: Triangle | None = None

    @property
    def probs(self) -> Array:
        return np.exp(self.logp)


def resolve_target(model: Model, target: str | None) -> Token | None:
    if target is None or target == "":
        return None
    tokens = model.tokenizer.tokenize(target)
    if len(tokens) != 1:
        raise TraceInputError(
            "bad_target",
            f"the target must be one {model.tokenizer.kind} token of this model; {target!r} is {len(tokens)} tokens",
        )
    if tokens[0].unknown:
        raise TraceInputError("bad_target", f"the target {target!r} is not in this model's vocabulary")
    return tokens[0]


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
    target_token = resolve_target(model, target)
    ivs = parse_interventions(interventions, model.spec, model.layers, model.hidden_size)
    T = len(tokens)
    clamps = step_clamps(ivs, model.layers, T, model.hidden_size, model.dtype)
    stepper = Stepper(model, clamps)
    ids = np.array([tok.id for tok in tokens])
    caches: list[list[dict[str, Any]]] = [[] for _ in range(model.layers)]
    logits = np.empty((T, len(model.vocab)), model.dtype)
    for t, k in enumerate(ids):
        step_caches, logits[t] = stepper.step(int(k))
        for l, cache in enumerate(step_caches):
            caches[l].append(cache)
    inputs = [model.params["embedding.weight"][ids][:, None, :]]
    inputs += [np.stack([c["h"] for c in caches[l]]) for l in range(model.layers - 1)]
    tape = Tape(ids[None], inputs, caches, logits[:, None, :], clamps)
    logp = log_softmax(logits)
    expected: list[int | None] = [int(k) for k in ids[1:]] + [target_token.id if target_token else None]
    losses = np.full(T, np.nan)
    scored = [t for t, e in enumerate(expected) if e is not None]
    losses[scored] = -logp[scored, [expected[t] for t in scored]]
    trace = Trace(model, tokens, target_token, ivs, tape, logp, expected, losses)
    if gradients:
        trace.triangle = gradient_triangle(trace)
    return trace


def gradient_triangle(trace: Trace) -> Triangle:
    """All ‖∂L_t/∂h_k‖ (and ‖∂L_t/∂c_k‖) in one sweep, plus ∂L/∂θ of the last defined loss."""
    model, tape = trace.model, trace.tape
    L, T = model.layers, tape.steps
    loss_steps = np.array([t for t, e in enumerate(trace.expected) if e is not None], dtype=int)
    R = len(loss_steps)
    probs = trace.probs
    W_dec = model.params["decoder.weight"]

    def dtop(t: int) -> Array:
        # backprop through softmax cross-entropy and the decoder: (p − onehot)·W_dec
        dlogits = probs[t].copy()
        dlogits[trace.expected[t]] -= 1.0  # type: ignore[index]
        return (dlogits @ W_dec)[None]  # (1, H)

    hidden = np.full((L, R, T), np.nan)
    cell = np.full((L, R, T), np.nan) if model.spec.has_cell else None

    def inject(t: int, rows: int) -> tuple[int, Array | None]:
        a = int(np.searchsorted(loss_steps, t))  # rows a: are the losses at or after step t
        if a == R or loss_steps[a] != t:
            return a, None
        d = np.zeros((R - a, model.hidden_size), model.dtype)
        d[0] = dtop(t)[0]
        return a, d

    def record(l: int, t: int, a: int, dh: Array, dc: Array | None) -> None:
        hidden[l, a:, t] = np.sqrt((dh * dh).sum(-1))
        if cell is not None and dc is not None:
            cell[l, a:, t] = np.sqrt((dc * dc).sum(-1))

    # one sweep: every loss is a row; the last loss's row (always the last alive row) also gives ∂L/∂θ
    params = model.backward(tape, R, inject, params=R > 0, on_step=record, param_rows=slice(-1, None))
    param_step = int(loss_steps[-1]) if R else None
    if param_step is not None:
        dlogits = probs[param_step].copy()
        dlogits[trace.expected[param_step]] -= 1.0  # type: ignore[index]
        params.params["decoder.weight"] = np.outer(dlogits, tape.caches[-1][param_step]["h"][0])
        params.params["decoder.bias"] = dlogits
    else:
        params = None
    return Triangle(loss_steps, hidden, cell, params, param_step)


# ------------------------------------------------------------------------------------------ the document
def round_sig(a: Array, digits: int = 7) -> Array:
    """Round to `digits` significant digits so that JSON carries the short decimal, not 17 digits."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.floor(np.log10(np.abs(a)))
    e = np.where(np.isfinite(e), e, 0.0)
    k = digits - 1 - e  # decimal places to keep
    # Below about 1e-302, 10**k overflows (a gate clamped to 5e-324 came out NaN, so null): keep those as is.
    tiny = k > 308  # 10.0**309 is inf
    k = np.where(tiny, 0.0, k)
    # divide by an exact power of ten (or multiply, for huge values) so the result is the nearest double
    # to the rounded decimal, whose shortest repr is that decimal
    small = k >= 0
    up = 10.0 ** np.where(small, k, 0.0)
    down = 10.0 ** np.where(small, 0.0, -k)
    return np.where(tiny, a, np.where(small, np.round(a * up) / up, np.round(a / down) * down))


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


def step_records(trace: Trace) -> list[dict[str, Any]]:
    """`steps` of the document: each layer's quantities, the top next tokens, the expected token, the loss."""
    model, T, vocab = trace.model, trace.tape.steps, trace.model.vocab
    columns = [_layer_columns(model, trace.tape.caches[l]) for l in range(model.layers)]
    probs = trace.probs
    top = np.argsort(-probs, axis=1, kind="stable")[:, :TOP_K]  # (T, K)
    top_p = round_sig(np.take_along_axis(probs, top, 1)).tolist()
    exp_ids = [e if e is not None else 0 for e in trace.expected]
    exp_p = round_sig(probs[np.arange(T), exp_ids]).tolist()
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
            "expected": None if e is None else {"token": vocab[e], "id": e, "p": exp_p[t]},
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
        "tokens": [{"text": tok.text, "id": tok.id, "unknown": tok.unknown} for tok in trace.tokens],
        "target": None if trace.target is None else {"text": trace.target.text, "id": trace.target.id},
        "steps": step_records(trace),
        "gradients": gradients_record(trace),
        "interventions": [iv.as_dict() for iv in trace.interventions],
        # What was left out or had no effect, and why (also gradients of a text past the server's limit).
        "notices": unapplied(trace.interventions, len(trace.tokens)),
    }  # fmt: skip


def trace_document(
    model: Model, text: str, target: str | None = None, interventions: Any = None, gradients: bool = True
) -> dict[str, Any]:
    return document(run_trace(model, text, target, interventions, gradients))


__all__ = ["Stepper", "Trace", "Triangle", "document", "run_trace", "softmax", "trace_document"]
