"""The traced run: every intermediate of every step, the next-token distribution, and the gradient norms
‖∂L_t/∂h_k‖ and ‖∂L_t/∂c_k‖ for every loss L_t and every earlier step k — the vanishing gradient, measured.

Losses: L_t = −log p(token_{t+1} | tokens ≤ t) for every step with a next token, and at the last step
−log p(target) when the caller names a target. A classifier scores only its last step, −log p(target label);
a forecaster every step with a next value (and the last when the target is a number), ½ (z_t − x_{t+1})² in
normalised units (app/nn/model.py). A target of several word pieces is one word: the model reads
its pieces but the last on after the text (the trace's `tail`, not steps of the trace), the last loss is −log
of the product of the pieces' probabilities, and its gradients flow back through those steps.

A trace keeps each recorded quantity as one (T, H) array per layer (`Columns`); the per-step caches the
backward reads are views into them, made when asked for. A trace can be extended from an earlier one
(`run_trace(..., base=earlier)`): the steps before the first changed token or clamp are the earlier trace's,
and so are the gradient rows of the losses before the change, bit for bit.

The gradient triangle is computed in blocks of `ROW_BLOCK` loss rows, each block a reverse sweep. A BLAS
matrix product gives a row the same bits whatever the other rows hold, but not whatever their number, so
the number of rows a sweep carries at each step is fixed by the block and the text's length alone
(`block_rows`): a row's numbers depend on its own loss and that, so rows can be computed lazily, in any
order, or kept from an earlier trace (`kept_rows`), and always equal a fresh computation of the whole
triangle to the last bit. A sweep carries only the rows that are alive: a loss at step s has no gradient
after s, so at step t the rows of losses before t are left out, and the last block has only as many rows
as the text has steps in it (not ROW_BLOCK padded with empty rows): the work is the triangle's T²/2 rows
times steps, not ROW_BLOCK · T per block.
"""

from __future__ import annotations

from bisect import bisect_left
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
TOP_K = 10  # next tokens ranked per step
ROW_BLOCK = 32  # loss rows per backward sweep; any fixed number keeps a row's bits independent of the others


class Stepper:
    """Feeds a model one token at a time, keeping the recurrent state. A whole-sequence trace is a loop
    over `advance`, so a stream of steps and a finished trace hold the very same states (the trace decodes
    all its steps in one product: the same logits as `step`'s up to the last bits)."""

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
        # (V, G·H) layer 0's input projection, looked up per token; a forecaster projects each value instead
        self.table = None if model.kind == "forecaster" else model.xw_table()
        self.h, self.c = state if state is not None else model.zero_state(1)
        self.t = t

    def step(self, token_id: int | float) -> tuple[list[dict[str, Any]], Array]:
        """Advance one token (its id, or a forecaster's normalised value). Returns each layer's cache (every
        intermediate) and the decoder's logits (V,) — a classifier's class logits, a forecaster's forecast."""
        caches = self.advance(token_id)
        return caches, decode(self.model, caches[-1]["h"])[0]

    def advance(self, token_id: int | float) -> list[dict[str, Any]]:
        """Advance one token without the decoder (a trace decodes all its steps in one product)."""
        m, t = self.model, self.t
        caches = []
        xw = self.table[int(token_id)][None] if self.table is not None else m.input_projection(token_id)  # (1, G·H)
        for l, p in enumerate(self.params):
            if l > 0:
                xw = np.dot(caches[-1]["h"], p["weight_ih"].T) + p["bias_ih"]
            clamp = self.clamps[l][t] if self.clamps is not None and t < len(self.clamps[l]) else None
            cache = step_forward(m.spec, p, xw, self.h[l], self.c[l], clamp)
            self.h[l], self.c[l] = cache["h"], cache["c"]
            caches.append(cache)
        self.t += 1
        return caches


def decode(model: Model, h: Array) -> Array:
    """The decoder's logits (rows, V) for top-layer hidden states (rows, H)."""
    return np.dot(h, model.params["decoder.weight"].T) + model.params["decoder.bias"]


def decode_blocks(model: Model, h: Array, first: int) -> Array:
    """The logits of steps first … T − 1 (`first` a multiple of ROW_BLOCK), one product per block of
    ROW_BLOCK steps, the last block padded: a step's bits are then the same in a trace extended from an
    earlier one as in a fresh one (a BLAS product's rows depend on how many rows it has)."""
    out = []
    for s in range(first, len(h), ROW_BLOCK):
        block = np.zeros((ROW_BLOCK, h.shape[1]), h.dtype)
        n = min(ROW_BLOCK, len(h) - s)
        block[:n] = h[s : s + n]
        out.append(decode(model, block)[:n])
    return np.concatenate(out) if out else np.empty((0, model.n_out), h.dtype)


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

    def then(self, tail: Columns) -> Columns:
        """These steps followed by `tail`'s (the record of the steps read after them)."""
        cat = lambda a, b: None if a is None else np.concatenate([a, b])  # noqa: E731
        pre = {g: cat(a, tail.pre[g]) for g, a in self.pre.items()}
        act = {g: cat(a, tail.act[g]) for g, a in self.act.items()}
        return Columns(pre, act, cat(self.c, tail.c), cat(self.tanh_c, tail.tanh_c), cat(self.h, tail.h),
                       cat(self.hw_n, tail.hw_n), self.lean)  # fmt: skip

    def tanh_cell(self) -> Array | None:
        return self.tanh_c if self.tanh_c is not None or self.c is None else np.tanh(self.c)


class LayerSteps(Sequence[dict[str, Any]]):
    """A layer's per-step caches (what `step_backward` reads), as views into its `Columns`. Each step's is
    made once and shared by the slices (the triangle's sweeps read every step once per block)."""

    def __init__(
        self,
        cols: Columns,
        clamps: list[StepClamp | None] | None,
        start: int = 0,
        stop: int | None = None,
        made: dict[int, dict[str, Any]] | None = None,
    ):
        self.cols = cols
        self.clamps = clamps
        self.start = start
        self.stop = len(cols.h) if stop is None else stop
        self.made = {} if made is None else made

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
            return LayerSteps(self.cols, self.clamps, self.start + a, self.start + max(a, b), self.made)
        if t < 0:
            t += len(self)
        if not 0 <= t < len(self):
            raise IndexError(t)
        t += self.start
        if (made := self.made.get(t)) is not None:
            return made
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
            "local": None,  # step_backward keeps the step's coefficients here: every block's sweep reads them
        }  # fmt: skip
        if cols.hw_n is not None:
            cache["hw_n"] = cols.hw_n[row]
        self.made[t] = cache
        return cache


@dataclass(frozen=True)
class ParamNorms:
    """‖∂L_t/∂W‖ of one loss: per layer and per gate block (input and recurrent weights, both biases
    together, a peephole), the embedding (None for a forecaster, which has none) and the decoder."""

    layers: list[dict[str, dict[str, float]]]
    embedding: float | None
    decoder: float

    @classmethod
    def of(cls, model: Model, grads: Grads) -> ParamNorms:
        g, H = grads.params, model.hidden_size
        norm = lambda a: float(np.sqrt((a * a).sum()))  # noqa: E731
        layers = []
        for l in range(model.layers):
            blocks: dict[str, dict[str, float]] = {}
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
        embedding = norm(g["embedding.weight"]) if "embedding.weight" in g else None
        return cls(layers, embedding, norm(np.concatenate([g["decoder.weight"].ravel(), g["decoder.bias"]])))


@dataclass
class Triangle:
    """Gradient norms of every loss with respect to every earlier state, and one loss's weight gradients.

    Filled block by block (`computed` says which rows are in); NaN where k > t or not computed yet."""

    loss_steps: Array  # (R,) the steps t whose loss L_t is defined, ascending
    hidden: Array  # (L, R, T) ‖∂L_t/∂h_k‖
    cell: Array | None  # (L, R, T) ‖∂L_t/∂c_k‖
    params: Grads | None = None  # ∂L_t/∂θ for the last defined loss, once its row is computed (`param_grads`)
    param_step: int | None = None
    norms: ParamNorms | None = None  # their norms, kept whether or not the arrays are
    attribution: Array | None = None  # (T,) that loss's gradient × input, ∂L/∂x_k · x_k, for every token k
    computed: Array = field(default_factory=lambda: np.zeros(0, bool))  # (R,)
    _rows: dict[int, int] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def complete(self) -> bool:
        return bool(self.computed.all())

    def row_of(self, t: int) -> int | None:
        # A dict built once: every socket streaming a cached trace asks for every row, several times each
        # (np.searchsorted per call was a tenth of a hall's event loop).
        if self._rows is None:
            self._rows = {int(s): r for r, s in enumerate(self.loss_steps)}
        return self._rows.get(int(t))


@dataclass
class Trace:
    model: Model
    tokens: list[Token]
    target: Token | None
    interventions: list[Intervention]
    columns: list[Columns]  # per layer
    clamps: list[list[StepClamp | None]] | None
    # What a step's output is shown and scored by, not the whole distribution (V floats a step, two thirds of
    # a lecture model's trace): the `ranked` likeliest outputs, a forecaster's one forecast, the losses. The
    # logits are decoded again from the top layer's hidden states when asked for (`logits_at`), to the
    # same bits.
    ranked: Array  # (T, k) ids, highest p first, ties to the lower id: TOP_K tokens, every class; k = 0 forecasting
    ranked_p: Array  # (T, k) their probabilities
    forecast: Array | None  # (T,) a forecaster's normalised forecast (its one logit)
    # per step, what is scored: the next token's id (a classifier's label id), a forecaster's next normalised value
    expected: list[Any]
    losses: Array  # (T,) NaN where undefined
    triangle: Triangle | None = None
    keep: int = 0  # steps (and gradient rows) taken from the base trace this one was extended from
    target_pieces: list[Token] = field(default_factory=list)  # the target word's pieces (one for most words)
    tail: list[Columns] | None = None  # per layer, the steps reading the target's pieces but the last
    tail_logp: Array | None = None  # (pieces − 1, V) the next-piece distributions after each of them
    param_grads: bool = True  # keep ∂L/∂θ's arrays (the triangle's `params`), not only their norms
    # while run_trace computes the triangle: (first, p) the forward's softmax of steps first … T − 1, which
    # p − onehot needs (a row's bits are its own, so they are those output_grads would decode again)
    fresh_softmax: tuple[int, Array] | None = None

    @property
    def steps(self) -> int:
        return len(self.tokens)

    def logits_at(self, first: int = 0) -> Array:
        """The decoder's logits (T − first', V) of steps first' … T − 1, first' = `first` rounded down to a
        block: decoded again in the blocks the trace decoded, so with the bits the trace's were."""
        return decode_blocks(self.model, self.columns[-1].h, first - first % ROW_BLOCK)

    @property
    def logits(self) -> Array:
        """(T, V) every step's logits, decoded again (not kept: see `ranked`)."""
        return self.logits_at(0)

    @property
    def logp(self) -> Array:
        return log_softmax(self.logits)

    @property
    def probs(self) -> Array:
        return np.exp(self.logp)

    def class_probs(self) -> Array:
        """(T, C) a classifier's p of every class in the card's order (its ranking holds them all)."""
        p = np.empty_like(self.ranked_p)
        np.put_along_axis(p, self.ranked, self.ranked_p, 1)
        return p

    @property
    def ids(self) -> Array:
        """What layer 0 reads: token ids, or a forecaster's normalised values."""
        return self.model.input_keys(self.tokens)

    @property
    def tape(self) -> Tape:
        """The forward pass as the backward reads it (one row); its caches are views into the columns. With a
        target of pieces, the steps reading them follow the text's."""
        m, ids, columns = self.model, self.ids, self.columns
        if self.tail is not None:
            ids = np.concatenate([ids, [p.id for p in self.target_pieces[:-1]]]).astype(ids.dtype)
            columns = [c.then(t) for c, t in zip(columns, self.tail, strict=True)]
        inputs = [m.embed(ids[None])]  # (T, 1, I)
        inputs += [columns[l].h[:, None, :] for l in range(m.layers - 1)]
        caches = [LayerSteps(columns[l], self.clamps[l] if self.clamps else None) for l in range(m.layers)]
        return Tape(ids[None], inputs, caches, None, self.clamps)  # type: ignore[arg-type]  # the backward needs no logits

    def expected_text(self, t: int) -> str | None:
        """The expected token's text at step t: the whole target word at the last step."""
        e = self.expected[t]
        if e is None:
            return None
        if t == self.steps - 1 and self.target is not None:
            return self.target.text
        return self.tokens[t + 1].text if self.model.kind == "forecaster" else self.model.vocab[e]

    def output_grads(self, steps: Array) -> Array:
        """∂L_t/∂logits_t (n, V) for the losses at `steps`: p − onehot for a softmax head, z − x for a
        forecaster's squared error."""
        if self.model.kind == "forecaster":
            assert self.forecast is not None
            return (self.forecast[steps] - np.array([self.expected[t] for t in steps], float))[:, None]
        first = int(steps.min()) - int(steps.min()) % ROW_BLOCK
        if self.fresh_softmax is not None and self.fresh_softmax[0] <= first:
            d = self.fresh_softmax[1][steps - self.fresh_softmax[0]]
        else:  # the softmax again from the steps' blocks' logits (a row's bits do not depend on the other rows)
            last = int(steps.max()) // ROW_BLOCK * ROW_BLOCK + ROW_BLOCK
            logits = decode_blocks(self.model, self.columns[-1].h[:last], first)
            d = np.exp(log_softmax(logits[steps - first]))
        d[np.arange(len(steps)), [self.expected[t] for t in steps]] -= 1.0
        return d


def resolve_target(model: Model, target: str | None) -> list[Token]:
    """The target word's tokens: one, or a word's pieces; [] for no target. A classifier's target is one of
    its labels, a forecaster's one number (the value after the series)."""
    if target is None or target == "" or (model.kind != "language-model" and target.strip() == ""):
        return []
    if model.kind == "classifier":
        label = target.strip()
        if label not in model.classes:
            raise TraceInputError(
                "bad_target", f"the target must be one of this classifier's labels {model.classes}, not {target!r}"
            )
        return [Token(label, model.classes.index(label), False)]
    tok = model.tokenizer
    if model.kind == "forecaster":
        values = tok.tokenize(target)
        if len(values) != 1:
            raise TraceInputError("bad_target", f"the target must be one number (the next value), not {target!r}")
        return values
    tokens = tok.tokenize(target)
    if len(tok.words(tokens)) != 1:
        raise TraceInputError(
            "bad_target",
            f"the target must be one {tok.kind} token of this model; {target!r} is {len(tokens)} tokens",
        )
    if any(t.unknown for t in tokens):
        raise TraceInputError("bad_target", f"the target {target!r} is not in this model's vocabulary")
    return tokens


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


def _kept(base: Trace, expected: list[int | None], p: int, pieces: list[Token]) -> int:
    # The last shared step is the base's too unless what it predicts changed (a token typed after it, or
    # another target): a step scores its next token, the last step its target's pieces.
    if not p:
        return 0
    # (a forecaster's target is a value: its pieces' ids are all one, so compare what is scored)
    new = [expected[p - 1]] if p < len(expected) else [expected[-1]] + [t.id for t in pieces[1:]]
    old = [base.expected[p - 1]] if p < base.steps else [base.expected[-1]] + [t.id for t in base.target_pieces[1:]]
    return p if new == old else p - 1


def block_rows(T: int, block: int) -> int:
    """The rows of block `block`'s sweep in a text of T steps: ROW_BLOCK, fewer in the last block."""
    return min(ROW_BLOCK, T - block * ROW_BLOCK)


def _rows_kept(base_steps: int, steps: int, keep: int) -> int:
    # Rows of a block whose row count changed with the text's length (its last, partial block) are
    # computed again: their bits depend on that count.
    if base_steps == steps:
        return keep
    m = min(base_steps, steps)
    return min(keep, m - m % ROW_BLOCK)


def kept_rows(base: Trace, trace: Trace) -> int:
    """How many leading gradient rows (losses at steps 0 … n−1) of `trace` are exactly `base`'s."""
    return _rows_kept(base.steps, trace.steps, kept_steps(base, trace))


def kept_steps(base: Trace, trace: Trace) -> int:
    """How many leading steps (and gradient rows) of `trace` are exactly `base`'s."""
    if base.model is not trace.model or base.columns[0].lean != trace.columns[0].lean:
        return 0
    return _kept(base, trace.expected, shared_prefix(base, trace.ids, trace.clamps), trace.target_pieces)


def _same_pieces(a: list[Token], b: list[Token]) -> bool:
    return [t.id for t in a] == [t.id for t in b]


def run_trace(
    model: Model,
    text: str | list[Token],
    target: str | None = None,
    interventions: Any = None,
    gradients: bool = True,
    base: Trace | None = None,
    lean: bool = False,
    param_grads: bool = True,
) -> Trace:
    """Trace `text` through `model`; `interventions` is a list of intervention dicts (validated here).

    With `base` (an earlier trace of the same model) the steps it shares are taken from it, not computed;
    `trace.keep` says how many steps and gradient rows are the base's. `lean`: the trace will never have
    gradients (its text is past the gradient limit), so what is only shown is kept in float32.
    `param_grads`: keep the last loss's ∂L/∂θ arrays once computed (False: only their norms, which the
    document shows; what a server's cache holds)."""
    tokens = model.tokenizer.tokenize(text) if isinstance(text, str) else text
    if not tokens:
        raise TraceInputError("empty_text", "there is nothing to trace: type some text")
    pieces = resolve_target(model, target)
    ivs = parse_interventions(interventions, model.spec, model.layers, model.hidden_size)
    T, extra = len(tokens), max(len(pieces) - 1, 0)
    ids = model.input_keys(tokens)
    clamps = step_clamps(ivs, model.layers, T + extra, model.hidden_size, model.dtype)
    usable = base is not None and base.model is model and base.columns[0].lean == lean
    p = shared_prefix(base, ids, clamps) if usable else 0  # type: ignore[arg-type]
    if p:
        state = ([c.h[p - 1 : p].copy() for c in base.columns], [None if c.c is None else c.c[p - 1 : p].copy()
                                                                  for c in base.columns])  # fmt: skip
        stepper = Stepper(model, clamps, state, t=p)
    else:
        stepper = Stepper(model, clamps)
    columns: list[Columns] = []
    if p == T:
        columns = [c.cut(T) for c in base.columns]  # type: ignore[union-attr]
    for t in range(p, T):
        step_caches = stepper.advance(ids[t])
        if not columns:
            columns = [Columns.like(cache, T, lean) for cache in step_caches]
            if p:
                for c, b in zip(columns, base.columns, strict=True):  # type: ignore[union-attr]
                    c.take(b, p)
        for c, cache in zip(columns, step_caches, strict=True):
            c.record(t, cache)
    expected = expected_of(model, ids, pieces)
    # The outputs of the steps from the block holding step p − 1 on (that step's loss changes when the token
    # after it does), decoded in whole blocks so a step's logits never depend on the text's length; the
    # steps before it are the base's.
    first = (p - 1) // ROW_BLOCK * ROW_BLOCK if p else 0
    logits = decode_blocks(model, columns[-1].h, first)  # (T − first, V), not kept
    k = 0 if model.kind == "forecaster" else model.n_out if model.kind == "classifier" else min(TOP_K, model.n_out)
    ranked, ranked_p = np.empty((T, k), np.intp), np.empty((T, k), model.dtype)
    forecast = np.empty(T, model.dtype) if model.kind == "forecaster" else None
    losses = np.full(T, np.nan)
    probs = None
    if first:
        assert base is not None
        ranked[:first], ranked_p[:first] = base.ranked[:first], base.ranked_p[:first]
        losses[:first] = base.losses[:first]
        if forecast is not None and base.forecast is not None:
            forecast[:first] = base.forecast[:first]
    scored = np.array([t for t, e in enumerate(expected) if e is not None and t >= first], dtype=np.intp)
    if forecast is not None:
        forecast[first:] = logits[:, 0]
        err = forecast[scored] - np.array([expected[t] for t in scored], float)
        losses[scored] = 0.5 * err * err
    else:
        logp = log_softmax(logits)
        losses[scored] = -logp[scored - first, [expected[t] for t in scored]]
        probs = np.exp(logp)
        ranked[first:], ranked_p[first:] = top_k(probs, k)
    del logits
    keep = _kept(base, expected, p, pieces) if base is not None else 0
    word = (
        (pieces[0] if len(pieces) == 1 else Token("".join(t.text for t in pieces), pieces[0].id, False))
        if pieces
        else None
    )
    trace = Trace(model, tokens, word, ivs, columns, clamps, ranked, ranked_p, forecast, expected, losses,
                  keep=keep, target_pieces=pieces, param_grads=param_grads)  # fmt: skip
    if extra:  # read the target's pieces on from the text's last state; the word's loss is all its pieces'
        if p == T and base is not None and base.tail is not None and _same_pieces(base.target_pieces, pieces):
            trace.tail, trace.tail_logp = base.tail, base.tail_logp
        else:  # the stepper stands after the text's last step (taken or from the base)
            tail: list[Columns] = []
            for j, piece in enumerate(pieces[:-1]):
                step_caches = stepper.advance(piece.id)
                tail = tail or [Columns.like(cache, extra, lean) for cache in step_caches]
                for c, cache in zip(tail, step_caches, strict=True):
                    c.record(j, cache)
            trace.tail = tail
            trace.tail_logp = log_softmax(decode(model, tail[-1].h))
        losses[T - 1] -= sum(trace.tail_logp[j, piece.id] for j, piece in enumerate(pieces[1:]))
    rows = _rows_kept(base.steps, T, keep) if base is not None else 0
    if base is not None and rows and base.triangle is not None:
        trace.triangle = _kept_rows(trace, base.triangle, rows)
    if gradients and not lean:
        trace.fresh_softmax = None if probs is None else (first, probs)
        gradient_triangle(trace)
        trace.fresh_softmax = None
    return trace


def top_k(probs: Array, k: int) -> tuple[Array, Array]:
    """The k likeliest of each row, highest first, ties to the lower id: ids (n, k) and probabilities (n, k).
    A partial sort of all rows at once, so the cost does not grow with V log V; a row's answer depends on
    that row alone."""
    if probs.shape[1] <= k:
        top = np.argsort(-probs, axis=1, kind="stable")
    else:
        part = np.argpartition(-probs, k - 1, axis=1)[:, :k]  # (n, k) unordered
        order = np.lexsort((part, -np.take_along_axis(probs, part, 1)), axis=1)
        top = np.take_along_axis(part, order, 1)
    return top, np.take_along_axis(probs, top, 1)


def expected_of(model: Model, keys: Array, pieces: list[Token]) -> list[Any]:
    """What each step scores: a language model the next token (the target's first piece at the last step), a
    classifier only the target label at the last step, a forecaster the next value (the target's after the
    last)."""
    T = len(keys)
    if model.kind == "classifier":
        return [None] * (T - 1) + [pieces[0].id if pieces else None]
    if model.kind == "forecaster":
        last = model.input_keys(pieces)[0] if pieces else None
        return [float(k) for k in keys[1:]] + [None if last is None else float(last)]
    return [int(k) for k in keys[1:]] + [pieces[0].id if pieces else None]


# ------------------------------------------------------------------------------------- the triangle
def empty_triangle(trace: Trace) -> Triangle:
    L, T = trace.model.layers, trace.steps
    loss_steps = np.array([t for t, e in enumerate(trace.expected) if e is not None], dtype=int)
    R = len(loss_steps)
    cell = np.full((L, R, T), np.nan) if trace.model.spec.has_cell else None
    return Triangle(loss_steps, np.full((L, R, T), np.nan), cell, computed=np.zeros(R, bool))


def _kept_rows(trace: Trace, base: Triangle, keep: int) -> Triangle:
    """A new triangle holding the base's computed rows of the losses before step `keep` (`kept_rows`)."""
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
        tri.params, tri.param_step, tri.norms = base.params, last, base.norms  # the same loss, on the same steps
        if trace.param_grads and tri.params is None:
            tri.norms = None  # computed again, to the same bits, with the arrays this trace keeps
        tri.attribution = None if base.attribution is None else base.attribution[: trace.steps].copy()
        if tri.attribution is not None and len(tri.attribution) < trace.steps:  # the tokens after it: no effect
            tri.attribution = np.concatenate([tri.attribution, np.zeros(trace.steps - len(tri.attribution))])
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
    todo = {r for r in asked if r is not None and (not tri.computed[r] or (r == R - 1 and tri.norms is None))}
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
    """One reverse sweep of block `block`: the loss steps block·B … block·B + n − 1 (n = `block_rows`), only
    `rows` (triangle rows) injected, from their last loss step back to step 0. Row k of the sweep is the
    loss at step first + k; at step t the rows of losses before t are dead and left out."""
    model = trace.model
    first = block * ROW_BLOCK
    n = block_rows(trace.steps, block)
    steps = tri.loss_steps[rows]  # (r,) the loss steps, ascending
    slot = steps - first  # (r,) each row's place in the block
    last = int(tri.loss_steps[-1])
    param_slot = last - first if last in set(steps.tolist()) else None
    # the last loss of a target of pieces goes on through the steps that read them
    pieces = trace.target_pieces[1:] if param_slot is not None and trace.tail is not None else []
    end = int(steps[-1]) + 1 + len(pieces)  # the sweep covers steps 0 … end − 1
    W_dec = model.params["decoder.weight"]
    # Backprop through the loss (the head's: p − onehot, or a forecast's error) and the decoder for every
    # row at once: one product of the block's fixed shape (n, V)·(V, H), rows not asked for left zero.
    dlogits = np.zeros((n, W_dec.shape[0]), model.dtype)
    dlogits[slot] = out = trace.output_grads(steps)
    d_top = dlogits @ W_dec  # (n, H)
    at = {int(t): k for k, t in enumerate(steps)}
    tail_d = np.exp(trace.tail_logp) if pieces else None  # (pieces − 1, V) the same for each piece after the first
    if tail_d is not None:
        tail_d[np.arange(len(pieces)), [p.id for p in pieces]] -= 1.0

    def alive(t: int) -> int:
        """The first row alive at step t: the losses at t and after (a target's pieces: the last loss's)."""
        return min(max(t - first, 0), n - 1)

    def inject(t: int, _rows: int) -> tuple[int, Array | None]:
        a = alive(t)
        if t > last and tail_d is not None:
            d = np.zeros((n - a, model.hidden_size), model.dtype)
            d[param_slot - a] = tail_d[t - last - 1] @ W_dec  # a piece of the target, after the text
            return a, d
        k = at.get(t)
        if k is None:
            return a, None
        d = np.zeros((n - a, model.hidden_size), model.dtype)
        d[slot[k] - a] = d_top[slot[k]]
        return a, d

    step_list, row_array = steps.tolist(), np.asarray(rows)

    def record(l: int, t: int, a: int, dh: Array, dc: Array | None) -> None:
        if t >= trace.steps:  # the target's own steps are not steps of the trace
            return
        k = bisect_left(step_list, t)  # rows injected at or after step t (the steps ascend)
        live, r = slot[k:] - a, row_array[k:]
        tri.hidden[l, r, t] = np.sqrt(np.einsum("ij,ij->i", dh, dh))[live]
        if tri.cell is not None and dc is not None:
            tri.cell[l, r, t] = np.sqrt(np.einsum("ij,ij->i", dc, dc))[live]

    sub = Tape(tape.tokens[:, :end], [x[:end] for x in tape.inputs], [c[:end] for c in tape.caches],
               None, tape.clamps)  # fmt: skip
    params = param_slot is not None
    grads = model.backward(sub, n, inject, params=params, on_step=record,
                           param_rows=slice(param_slot, param_slot + 1) if params else slice(0))  # fmt: skip
    tri.computed[rows] = True
    if params:
        dlogits = out[-1:]  # (1, V) the last loss's (a row's bits are its own), then a row per piece after the first
        h = trace.columns[-1].h[last : last + 1]  # (1, H)
        if tail_d is not None and trace.tail is not None:
            dlogits, h = np.concatenate([dlogits, tail_d]), np.concatenate([h, trace.tail[-1].h])
        grads.params["decoder.weight"] = dlogits.T @ h
        grads.params["decoder.bias"] = dlogits.sum(0)
        tri.norms, tri.param_step = ParamNorms.of(model, grads), last
        tri.params = grads if trace.param_grads else None
        # gradient × input: how much each token's input moved this loss, to first order (the tail's excluded)
        assert grads.inputs is not None
        x = sub.inputs[0][: trace.steps, 0]  # (T', I) layer 0's inputs
        d = grads.inputs[: trace.steps, 0]
        attr = np.zeros(trace.steps)
        attr[: len(x)] = (d * x).sum(-1)
        tri.attribution = attr


__all__ = [
    "ROW_BLOCK", "TOP_K", "Columns", "ParamNorms", "Stepper", "Trace", "Triangle", "block_rows", "gradient_triangle",
    "kept_rows", "kept_steps", "run_trace", "softmax", "top_k",
]  # fmt: skip
