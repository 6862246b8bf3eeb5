"""The traced run: every intermediate of every step, the next-token distribution, and the gradient norms
‖∂L_t/∂h_k‖ and ‖∂L_t/∂c_k‖ for every loss L_t and every earlier step k — the vanishing gradient, measured.

Losses: L_t = −log p(token_{t+1} | tokens ≤ t) for every step with a next token, and at the last step
−log p(target) when the caller names a target.

A trace keeps each recorded quantity as one (T, H) array per layer (`Columns`); the per-step caches the
backward reads are views into them, made when asked for. A trace can be extended from an earlier one
(`run_trace(..., base=earlier)`): the steps before the first changed token or clamp are the earlier trace's,
and so are the gradient rows of the losses before the change, bit for bit.

The gradient triangle is computed in blocks of `ROW_BLOCK` loss rows, each block a reverse sweep with the
same number of rows whatever the text's length. A BLAS matrix product gives a row the same bits whatever
the other rows hold, but not whatever their number: with blocks of a fixed size a row's numbers depend on
its own loss only, so rows can be computed lazily, in any order, or kept from an earlier trace, and always
equal a fresh computation of the whole triangle to the last bit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from .cells import StepClamp, step_forward
from .errors import TraceInputError
from .interventions import Intervention, parse_interventions, step_clamps
from .model import Grads, Model, Tape, log_softmax, softmax
from .tokenizer import Token

Array = np.ndarray
ROW_BLOCK = 32  # loss rows per backward sweep; any fixed number keeps a row's bits independent of the others


class Stepper:
    """Feeds a model one token at a time, keeping the recurrent state. A whole-sequence trace is a loop
    over `step`, so a stream of steps and a finished trace hold the very same numbers."""

    def __init__(
        self,
        model: Model,
        clamps: list[list[StepClamp | None]] | None = None,
        state: tuple[list[Array], list[Array | None]] | None = None,
        t: int = 0,
    ):
        self.model = model
        self.clamps = clamps
        self.params = [model.layer(l) for l in range(model.layers)]
        self.table = model.xw_table()  # (V, G·H) layer 0's input projection, looked up per token
        self.h, self.c = state if state is not None else model.zero_state(1)
        self.t = t

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
class Columns:
    """One layer's record over T steps: every quantity a (T, H) array (a step is a row), filled as the
    steps are taken (no per-step arrays are kept). A `lean` record, for a trace that will never run a
    backward pass, keeps what is only displayed (activations, pre-activations) in float32 and no tanh(c);
    the states stay exact, so a later trace can go on from them."""

    pre: dict[str, Array]  # gate (or "hidden" for a plain RNN) -> pre-activations
    act: dict[str, Array]  # gate -> activations
    c: Array | None  # cell state, LSTM family
    tanh_c: Array | None  # None in a lean record
    h: Array  # hidden state
    hw_n: Array | None = None  # GRU: the candidate's recurrent part, which its backward needs
    lean: bool = False

    @classmethod
    def like(cls, cache: dict[str, Any], T: int, lean: bool) -> Columns:
        """Empty columns for T steps of caches shaped like `cache`."""
        exact, H = cache["h"].dtype, cache["h"].shape[-1]
        shown = np.float32 if lean else exact
        new = lambda dtype: np.empty((T, H), dtype)  # noqa: E731
        return cls(
            pre={g: new(shown) for g in cache["pre"]}, act={g: new(shown) for g in cache["act"]},
            c=None if cache["c"] is None else new(exact),
            tanh_c=None if cache["tanh_c"] is None or lean else new(exact),
            h=new(exact), hw_n=new(exact) if "hw_n" in cache and not lean else None, lean=lean,
        )  # fmt: skip

    def arrays(self) -> list[Array]:
        return [a for a in (*self.pre.values(), *self.act.values(), self.c, self.tanh_c, self.h, self.hw_n)
                if a is not None]  # fmt: skip

    def record(self, t: int, cache: dict[str, Any]) -> None:
        for g, a in self.pre.items():
            a[t] = cache["pre"][g][0]
        for g, a in self.act.items():
            a[t] = cache["act"][g][0]
        self.h[t] = cache["h"][0]
        if self.c is not None:
            self.c[t] = cache["c"][0]
        if self.tanh_c is not None:
            self.tanh_c[t] = cache["tanh_c"][0]
        if self.hw_n is not None:
            self.hw_n[t] = cache["hw_n"][0]

    def take(self, other: Columns, n: int) -> None:
        """Steps 0 … n−1 from `other`, a record of the same kind."""
        for a, b in zip(self.arrays(), other.arrays(), strict=True):
            a[:n] = b[:n]

    def cut(self, n: int) -> Columns:
        cut = lambda a: None if a is None else a[:n].copy()  # noqa: E731
        return Columns({g: cut(a) for g, a in self.pre.items()}, {g: cut(a) for g, a in self.act.items()},
                       cut(self.c), cut(self.tanh_c), cut(self.h), cut(self.hw_n), self.lean)  # fmt: skip

    def tanh_cell(self) -> Array | None:
        return self.tanh_c if self.tanh_c is not None or self.c is None else np.tanh(self.c)


class LayerSteps(Sequence[dict[str, Any]]):
    """A layer's per-step caches (what `step_backward` reads), as views into its `Columns`."""

    def __init__(self, cols: Columns, clamps: list[StepClamp | None] | None, start: int = 0, stop: int | None = None):
        self.cols = cols
        self.clamps = clamps
        self.start = start
        self.stop = len(cols.h) if stop is None else stop

    def __len__(self) -> int:
        return self.stop - self.start

    @overload
    def __getitem__(self, t: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, t: slice) -> LayerSteps: ...
    def __getitem__(self, t: int | slice) -> dict[str, Any] | LayerSteps:
        if isinstance(t, slice):
            a, b, step = t.indices(len(self))
            if step != 1:
                raise ValueError("layer steps slice with step 1 only")
            return LayerSteps(self.cols, self.clamps, self.start + a, self.start + max(a, b))
        if t < 0:
            t += len(self)
        if not 0 <= t < len(self):
            raise IndexError(t)
        t += self.start
        cols, row = self.cols, slice(t, t + 1)
        view = lambda a: None if a is None else a[row]  # noqa: E731
        clamp = self.clamps[t] if self.clamps is not None else None
        h_prev = cols.h[t - 1 : t] if t else np.zeros_like(cols.h[:1])
        c_prev = None if cols.c is None else (cols.c[t - 1 : t] if t else np.zeros_like(cols.c[:1]))
        cache = {
            "pre": {g: a[row] for g, a in cols.pre.items()},
            "act": {g: a[row] for g, a in cols.act.items()},
            "free": {g: clamp[g][0] if clamp is not None and g in clamp else None for g in cols.act},
            "h_prev": h_prev, "c_prev": c_prev, "c": view(cols.c), "tanh_c": view(cols.tanh_c), "h": cols.h[row],
        }  # fmt: skip
        if cols.hw_n is not None:
            cache["hw_n"] = cols.hw_n[row]
        return cache


@dataclass
class Triangle:
    """Gradient norms of every loss with respect to every earlier state, and one loss's weight gradients.

    Filled block by block (`computed` says which rows are in); NaN where k > t or not computed yet."""

    loss_steps: Array  # (R,) the steps t whose loss L_t is defined, ascending
    hidden: Array  # (L, R, T) ‖∂L_t/∂h_k‖
    cell: Array | None  # (L, R, T) ‖∂L_t/∂c_k‖
    params: Grads | None = None  # ∂L_t/∂θ for the last defined loss, once its row is computed
    param_step: int | None = None
    computed: Array = field(default_factory=lambda: np.zeros(0, bool))  # (R,)

    @property
    def complete(self) -> bool:
        return bool(self.computed.all())

    def row_of(self, t: int) -> int | None:
        r = int(np.searchsorted(self.loss_steps, t))
        return r if r < len(self.loss_steps) and self.loss_steps[r] == t else None


@dataclass
class Trace:
    model: Model
    tokens: list[Token]
    target: Token | None
    interventions: list[Intervention]
    columns: list[Columns]  # per layer
    clamps: list[list[StepClamp | None]] | None
    logits: Array  # (T, V)
    logp: Array  # (T, V)
    expected: list[int | None]  # per step, the token whose probability is scored
    losses: Array  # (T,) NaN where undefined
    triangle: Triangle | None = None
    keep: int = 0  # steps (and gradient rows) taken from the base trace this one was extended from

    @property
    def steps(self) -> int:
        return len(self.tokens)

    @property
    def probs(self) -> Array:
        return np.exp(self.logp)

    @property
    def ids(self) -> Array:
        return np.array([tok.id for tok in self.tokens])

    @property
    def tape(self) -> Tape:
        """The forward pass as the backward reads it (one row); its caches are views into the columns."""
        m, ids = self.model, self.ids
        inputs = [m.params["embedding.weight"][ids][:, None, :]]
        inputs += [self.columns[l].h[:, None, :] for l in range(m.layers - 1)]
        caches = [LayerSteps(self.columns[l], self.clamps[l] if self.clamps else None) for l in range(m.layers)]
        return Tape(ids[None], inputs, caches, self.logits[:, None, :], self.clamps)  # type: ignore[arg-type]


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


def _same_clamp(a: StepClamp | None, b: StepClamp | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.keys() == b.keys() and all(
        np.array_equal(a[g][0], b[g][0]) and np.array_equal(a[g][1], b[g][1]) for g in a
    )


def shared_prefix(base: Trace, ids: Array, clamps: list[list[StepClamp | None]] | None) -> int:
    """How many leading steps `base` computed exactly as a trace of `ids` with `clamps` would."""
    n = min(len(ids), base.steps)
    diff = np.flatnonzero(base.ids[:n] != ids[:n])
    p = int(diff[0]) if len(diff) else n
    if base.clamps is None and clamps is None:
        return p
    for t in range(p):
        for l in range(base.model.layers):
            a = base.clamps[l][t] if base.clamps is not None else None
            b = clamps[l][t] if clamps is not None else None
            if not _same_clamp(a, b):
                return t
    return p


def _kept(base: Trace, expected: list[int | None], p: int) -> int:
    # The last shared step is the base's too unless what it predicts changed (a token typed after it).
    return p if p and base.expected[p - 1] == expected[p - 1] else max(p - 1, 0)


def kept_steps(base: Trace, trace: Trace) -> int:
    """How many leading steps (and gradient rows) of `trace` are exactly `base`'s."""
    if base.model is not trace.model or base.columns[0].lean != trace.columns[0].lean:
        return 0
    return _kept(base, trace.expected, shared_prefix(base, trace.ids, trace.clamps))


def run_trace(
    model: Model,
    text: str | list[Token],
    target: str | None = None,
    interventions: Any = None,
    gradients: bool = True,
    base: Trace | None = None,
    lean: bool = False,
) -> Trace:
    """Trace `text` through `model`; `interventions` is a list of intervention dicts (validated here).

    With `base` (an earlier trace of the same model) the steps it shares are taken from it, not computed;
    `trace.keep` says how many steps and gradient rows are the base's. `lean`: the trace will never have
    gradients (its text is past the gradient limit), so what is only shown is kept in float32."""
    tokens = model.tokenizer.tokenize(text) if isinstance(text, str) else text
    if not tokens:
        raise TraceInputError("empty_text", "there is nothing to trace: type some text")
    target_token = resolve_target(model, target)
    ivs = parse_interventions(interventions, model.spec, model.layers, model.hidden_size)
    T = len(tokens)
    ids = np.array([tok.id for tok in tokens])
    clamps = step_clamps(ivs, model.layers, T, model.hidden_size, model.dtype)
    usable = base is not None and base.model is model and base.columns[0].lean == lean
    p = shared_prefix(base, ids, clamps) if usable else 0  # type: ignore[arg-type]
    if p:
        state = ([c.h[p - 1 : p].copy() for c in base.columns], [None if c.c is None else c.c[p - 1 : p].copy()
                                                                  for c in base.columns])  # fmt: skip
        stepper = Stepper(model, clamps, state, t=p)
    else:
        stepper = Stepper(model, clamps)
    logits = np.empty((T, len(model.vocab)), model.dtype)
    columns: list[Columns] = []
    if p:
        logits[:p] = base.logits[:p]  # type: ignore[union-attr]
        if p == T:
            columns = [c.cut(T) for c in base.columns]  # type: ignore[union-attr]
    for t in range(p, T):
        step_caches, logits[t] = stepper.step(int(ids[t]))
        if not columns:
            columns = [Columns.like(cache, T, lean) for cache in step_caches]
            if p:
                for c, b in zip(columns, base.columns, strict=True):  # type: ignore[union-attr]
                    c.take(b, p)
        for c, cache in zip(columns, step_caches, strict=True):
            c.record(t, cache)
    logp = np.empty_like(logits)
    if p:
        logp[:p] = base.logp[:p]  # type: ignore[union-attr]
    logp[p:] = log_softmax(logits[p:])
    expected: list[int | None] = [int(k) for k in ids[1:]] + [target_token.id if target_token else None]
    losses = np.full(T, np.nan)
    scored = [t for t, e in enumerate(expected) if e is not None]
    losses[scored] = -logp[scored, [expected[t] for t in scored]]
    keep = _kept(base, expected, p) if base is not None else 0
    trace = Trace(model, tokens, target_token, ivs, columns, clamps, logits, logp, expected, losses, keep=keep)
    if base is not None and keep and base.triangle is not None:
        trace.triangle = _kept_rows(trace, base.triangle, keep)
    if gradients and not lean:
        gradient_triangle(trace)
    return trace


# ------------------------------------------------------------------------------------- the triangle
def empty_triangle(trace: Trace) -> Triangle:
    L, T = trace.model.layers, trace.steps
    loss_steps = np.array([t for t, e in enumerate(trace.expected) if e is not None], dtype=int)
    R = len(loss_steps)
    cell = np.full((L, R, T), np.nan) if trace.model.spec.has_cell else None
    return Triangle(loss_steps, np.full((L, R, T), np.nan), cell, computed=np.zeros(R, bool))


def _kept_rows(trace: Trace, base: Triangle, keep: int) -> Triangle:
    """A new triangle holding the base's computed rows of the losses before step `keep`."""
    tri = empty_triangle(trace)
    for r, t in enumerate(tri.loss_steps):
        if t >= keep:
            break
        b = base.row_of(int(t))
        if b is not None and base.computed[b]:
            tri.hidden[:, r, : t + 1] = base.hidden[:, b, : t + 1]
            if tri.cell is not None and base.cell is not None:
                tri.cell[:, r, : t + 1] = base.cell[:, b, : t + 1]
            tri.computed[r] = True
    last = int(tri.loss_steps[-1]) if len(tri.loss_steps) else None
    if last is not None and last < keep and base.param_step == last:
        tri.params, tri.param_step = base.params, last  # the same loss, on the same steps
    return tri


def gradient_triangle(trace: Trace, steps: Iterable[int] | None = None) -> Triangle:
    """Compute the rows of the losses at `steps` (all when None) that are not computed yet, and ∂L/∂θ of the
    last defined loss when its row is among them. Returns (and keeps) the trace's triangle."""
    if trace.columns[0].lean:
        raise ValueError("a lean trace keeps no exact activations: it has no gradients")
    if trace.triangle is None:
        trace.triangle = empty_triangle(trace)
    tri = trace.triangle
    R = len(tri.loss_steps)
    asked = range(R) if steps is None else [tri.row_of(int(t)) for t in steps if 0 <= int(t) < trace.steps]
    # The last loss's row also gives ∂L/∂θ: computed again (to the same bits) when a kept row lacks them.
    todo = {r for r in asked if r is not None and (not tri.computed[r] or (r == R - 1 and tri.params is None))}
    wanted = np.array(sorted(todo), dtype=int)
    if not len(wanted):
        return tri
    blocks: dict[int, list[int]] = {}
    for r in wanted.tolist():
        blocks.setdefault(int(tri.loss_steps[r]) // ROW_BLOCK, []).append(r)
    tape = trace.tape
    for b, rows in blocks.items():
        _sweep(trace, tape, tri, b, rows)
    return tri


def _sweep(trace: Trace, tape: Tape, tri: Triangle, block: int, rows: list[int]) -> None:
    """One reverse sweep of block `block`: ROW_BLOCK rows (the loss steps block·B … block·B + B − 1), only
    `rows` (triangle rows) injected, from their last loss step back to step 0."""
    model, B = trace.model, ROW_BLOCK
    first = block * B
    steps = tri.loss_steps[rows]  # (n,) the loss steps, ascending
    slot = steps - first  # (n,) each row's place in the block
    end = int(steps[-1]) + 1  # the sweep covers steps 0 … end − 1
    probs = np.exp(trace.logp[steps])  # (n, V)
    probs[np.arange(len(rows)), [trace.expected[t] for t in steps]] -= 1.0  # backprop through softmax CE
    W_dec = model.params["decoder.weight"]
    at = {int(t): k for k, t in enumerate(steps)}
    last = int(tri.loss_steps[-1])
    param_slot = last - first if last in at else None

    def inject(t: int, _rows: int) -> tuple[int, Array | None]:
        k = at.get(t)
        if k is None:
            return 0, None
        d = np.zeros((B, model.hidden_size), model.dtype)
        d[slot[k]] = probs[k] @ W_dec  # (H,) backprop through the decoder
        return 0, d

    def record(l: int, t: int, a: int, dh: Array, dc: Array | None) -> None:
        live = slot[steps >= t]  # rows injected at or after step t
        r = np.asarray(rows)[steps >= t]
        tri.hidden[l, r, t] = np.sqrt((dh * dh).sum(-1))[live]
        if tri.cell is not None and dc is not None:
            tri.cell[l, r, t] = np.sqrt((dc * dc).sum(-1))[live]

    sub = Tape(tape.tokens[:, :end], [x[:end] for x in tape.inputs], [c[:end] for c in tape.caches],
               tape.logits[:end], tape.clamps)  # fmt: skip
    params = param_slot is not None
    grads = model.backward(sub, B, inject, params=params, on_step=record,
                           param_rows=slice(param_slot, param_slot + 1) if params else slice(0))  # fmt: skip
    tri.computed[rows] = True
    if params:
        dlogits = np.exp(trace.logp[last])
        dlogits[trace.expected[last]] -= 1.0  # type: ignore[index]
        grads.params["decoder.weight"] = np.outer(dlogits, trace.columns[-1].h[last])
        grads.params["decoder.bias"] = dlogits
        tri.params, tri.param_step = grads, last


__all__ = [
    "ROW_BLOCK", "Columns", "Stepper", "Trace", "Triangle", "gradient_triangle", "kept_steps", "run_trace", "softmax",
]  # fmt: skip
