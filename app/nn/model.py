"""A recurrent model of one of three kinds (the card's `task_kind`), all stacked cells under one linear head:

* ``language-model`` — embedding → cells → decoder over the vocabulary (softmax); every step predicts the next
  token.
* ``classifier`` — embedding → cells → decoder over the card's `classes` (softmax). The head is applied to
  h_t at every step: that is the classifier's current reading; training scores only the last step.
* ``forecaster`` — no embedding: layer 0 reads the series' normalised value x_t = (v_t − mean) / scale
  directly (input_size 1, the card's `normalisation`), and a one-output decoder forecasts the next normalised
  value z_t; its loss is the squared error ½ (z_t − x_{t+1})², in normalised units.

Shapes: V vocabulary, I embedding size, H hidden size, G gate blocks (4 LSTM, 3 GRU/CIFG, 1 RNN),
B rows of a batch, T steps. Parameter names follow PyTorch's nn.LSTM with a layer prefix:

    embedding.weight          (V, I)
    layers.{l}.weight_ih      (G·H, I or H)      layers.{l}.bias_ih  (G·H,)
    layers.{l}.weight_hh      (G·H, H)           layers.{l}.bias_hh  (G·H,)
    layers.{l}.peephole_{input,forget,output}  (H,)   peephole only
    decoder.weight            (V, H)             decoder.bias        (V,)

A classifier's decoder has C rows (its classes), a forecaster's one row and no embedding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .cells import SPECS, CellSpec, StepClamp, step_backward, step_forward
from .tokenizer import AnyTokenizer

Array = np.ndarray
PEEPHOLES = ("peephole_input", "peephole_forget", "peephole_output")
KINDS = ("language-model", "classifier", "forecaster")


def param_shapes(
    arch: str, layers: int, vocab_size: int, input_size: int, hidden_size: int,
    kind: str = "language-model", n_out: int | None = None,
) -> dict[str, tuple]:  # fmt: skip
    """Every tensor a model of this shape holds, with its shape. `n_out` is the decoder's rows: the vocabulary
    (a language model), the classes (a classifier) or 1 (a forecaster)."""
    spec = SPECS[arch]
    gh = spec.n_blocks * hidden_size
    n_out = n_out if n_out is not None else (1 if kind == "forecaster" else vocab_size)
    shapes: dict[str, tuple] = {} if kind == "forecaster" else {"embedding.weight": (vocab_size, input_size)}
    for l in range(layers):
        n_in = input_size if l == 0 else hidden_size
        shapes[f"layers.{l}.weight_ih"] = (gh, n_in)
        shapes[f"layers.{l}.weight_hh"] = (gh, hidden_size)
        shapes[f"layers.{l}.bias_ih"] = (gh,)
        shapes[f"layers.{l}.bias_hh"] = (gh,)
        if spec.peephole:
            for name in PEEPHOLES:
                shapes[f"layers.{l}.{name}"] = (hidden_size,)
    shapes["decoder.weight"] = (n_out, hidden_size)
    shapes["decoder.bias"] = (n_out,)
    return shapes


def init_params(
    arch: str,
    layers: int,
    vocab_size: int,
    input_size: int,
    hidden_size: int,
    rng: np.random.Generator,
    forget_bias: float = 1.0,
    dtype: type = np.float32,
    kind: str = "language-model",
    n_out: int | None = None,
) -> dict[str, Array]:
    """PyTorch-style uniform(±1/√H) initialisation, with two deliberate departures.

    The forget gate's bias starts at `forget_bias` (+1 by default): a gate that starts open lets the
    gradient through the cell state from the first update on. IRNN's recurrent matrix starts as the
    identity with zero bias (Le et al. 2015).
    """
    spec = SPECS[arch]
    k = 1.0 / np.sqrt(hidden_size)
    params: dict[str, Array] = {}
    for name, shape in param_shapes(arch, layers, vocab_size, input_size, hidden_size, kind, n_out).items():
        if name == "embedding.weight":
            params[name] = rng.normal(0.0, 1.0, shape)
        else:
            params[name] = rng.uniform(-k, k, shape)
    for l in range(layers):
        if "forget" in spec.blocks:
            f = spec.blocks.index("forget")
            params[f"layers.{l}.bias_ih"][f * hidden_size : (f + 1) * hidden_size] = forget_bias
            params[f"layers.{l}.bias_hh"][f * hidden_size : (f + 1) * hidden_size] = 0.0
        if arch == "irnn":
            params[f"layers.{l}.weight_hh"] = np.eye(hidden_size)
            params[f"layers.{l}.bias_hh"][:] = 0.0
            params[f"layers.{l}.bias_ih"][:] = 0.0
    return {name: a.astype(dtype) for name, a in params.items()}


@dataclass
class Tape:
    """What a forward pass keeps for its backward: per layer the inputs and per step the cell caches."""

    tokens: Array  # (B, T) int token ids, or a forecaster's normalised values (float)
    inputs: list[Array]  # per layer, (T, B, in) the layer's input sequence
    caches: list[list[dict[str, Any]]]  # [layer][t]
    logits: Array | None  # (T, B, V); None when the caller decodes only the positions it needs
    clamps: list[list[StepClamp | None]] | None = None

    @property
    def steps(self) -> int:
        return self.tokens.shape[1]

    def top_hidden(self) -> Array:
        return np.stack([c["h"] for c in self.caches[-1]])  # (T, B, H)


@dataclass
class Grads:
    params: dict[str, Array] = field(default_factory=dict)
    h0: list[Array] = field(default_factory=list)  # per layer ∂L/∂h_0 (B, H)
    c0: list[Array | None] = field(default_factory=list)
    # ∂L/∂x_t of layer 0's input (the embedding row, or a forecaster's value) of the summed rows: (T, r, I)
    inputs: Array | None = None


def softmax(logits: Array) -> Array:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(logits: Array) -> Array:
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


class Model:
    """A loaded model: its card (model.json), its tokenizer and its parameters."""

    def __init__(self, card: dict[str, Any], params: dict[str, Array], tokenizer: AnyTokenizer):
        self.card = card
        self.params = params
        self.tokenizer = tokenizer
        self.spec: CellSpec = SPECS[card["arch"]]
        self._xw_table: Array | None = None

    # -- shape -------------------------------------------------------------------------------------------
    id = property(lambda self: self.card["id"])
    arch = property(lambda self: self.card["arch"])
    layers = property(lambda self: int(self.card["layers"]))
    input_size = property(lambda self: int(self.card["input_size"]))
    hidden_size = property(lambda self: int(self.card["hidden_size"]))
    vocab = property(lambda self: self.tokenizer.vocab)
    dtype = property(lambda self: self.params["decoder.weight"].dtype)
    kind = property(lambda self: self.card.get("task_kind", "language-model"))
    n_out = property(lambda self: int(self.params["decoder.weight"].shape[0]))  # V, C or 1
    classes = property(lambda self: list(self.card.get("classes", [])))

    @property
    def normalisation(self) -> tuple[float, float]:
        """A forecaster's (mean, scale): it reads (v − mean) / scale and forecasts in those units."""
        n = self.card.get("normalisation") or {}
        return float(n.get("mean", 0.0)), float(n.get("scale", 1.0))

    def input_keys(self, tokens: list[Any]) -> Array:
        """What layer 0 is fed for each token: its id, or a forecaster's normalised value."""
        if self.kind == "forecaster":
            mean, scale = self.normalisation
            return (np.array([t.value for t in tokens], dtype=np.float64) - mean) / scale
        return np.array([t.id for t in tokens], dtype=np.int64)

    def embed(self, keys: Array) -> Array:
        """Layer 0's input sequence (T, B, I) for keys (B, T): embedding rows, or the values themselves."""
        keys = np.asarray(keys)
        if self.kind == "forecaster":
            return keys.T[..., None].astype(self.dtype)
        return self.params["embedding.weight"][keys.T]

    def input_projection(self, key: int | float) -> Array:
        """Layer 0's x·W_ihᵀ + b_ih (1, G·H) for one key: a row of the table, or the value times the column."""
        if self.kind == "forecaster":
            p = self.layer(0)
            x = np.full((1, 1), key, self.dtype)
            return x @ p["weight_ih"].T + p["bias_ih"]
        return self.xw_table()[int(key)][None]

    def layer(self, l: int) -> dict[str, Array]:
        prefix = f"layers.{l}."
        return {k[len(prefix) :]: v for k, v in self.params.items() if k.startswith(prefix)}

    def astype(self, dtype: type) -> Model:
        return Model(self.card, {k: v.astype(dtype) for k, v in self.params.items()}, self.tokenizer)

    def n_params(self) -> int:
        return int(sum(v.size for v in self.params.values()))

    def zero_state(self, rows: int = 1) -> tuple[list[Array], list[Array | None]]:
        h = [np.zeros((rows, self.hidden_size), self.dtype) for _ in range(self.layers)]
        c = [np.zeros((rows, self.hidden_size), self.dtype) if self.spec.has_cell else None for _ in h]
        return h, c

    def xw_table(self) -> Array:
        """Layer 0's input projection for every vocabulary entry (V, G·H): a step is then a row lookup."""
        if self._xw_table is None:
            p = self.layer(0)
            self._xw_table = self.params["embedding.weight"] @ p["weight_ih"].T + p["bias_ih"]
        return self._xw_table

    # -- forward -----------------------------------------------------------------------------------------
    def forward(
        self,
        tokens: Array,
        state: tuple[list[Array], list[Array | None]] | None = None,
        clamps: list[list[StepClamp | None]] | None = None,
        decode: bool = True,
    ) -> Tape:
        """Run a batch of token sequences (B, T) layer by layer, each layer's input projection in one matmul.

        `clamps[l][t]` clamps gates of layer l at step t for every row. `decode=False` leaves the decoder
        to the caller (the tape's logits are then None).
        """
        tokens = np.asarray(tokens)
        B, T = tokens.shape
        h0, c0 = state if state is not None else self.zero_state(B)
        x = self.embed(tokens)  # (T, B, I)
        inputs, caches = [], []
        for l in range(self.layers):
            p = self.layer(l)
            xw = x @ p["weight_ih"].T + p["bias_ih"]  # (T, B, G·H) all steps at once
            h, c = h0[l], c0[l]
            layer_caches = []
            for t in range(T):
                cache = step_forward(self.spec, p, xw[t], h, c, clamps[l][t] if clamps else None)
                h, c = cache["h"], cache["c"]
                layer_caches.append(cache)
            inputs.append(x)
            caches.append(layer_caches)
            x = np.stack([cache["h"] for cache in layer_caches])  # (T, B, H)
        logits = x @ self.params["decoder.weight"].T + self.params["decoder.bias"] if decode else None  # (T, B, V)
        return Tape(tokens, inputs, caches, logits, clamps)

    @staticmethod
    def final_state(tape: Tape) -> tuple[list[Array], list[Array | None]]:
        return [c[-1]["h"] for c in tape.caches], [c[-1]["c"] for c in tape.caches]

    # -- backward ----------------------------------------------------------------------------------------
    def backward(
        self,
        tape: Tape,
        rows: int,
        inject: Callable[[int, int], tuple[int, Array | None]],
        params: bool = True,
        on_step: Callable[[int, int, int, Array, Array | None], None] | None = None,
        param_rows: slice = slice(None),
    ) -> Grads:
        """One reverse sweep over time, top layer first at each step.

        Rows are independent backward streams sharing one forward: a batch's examples when training, or
        one stream per loss L_t when measuring ∂L_t/∂h_k for every pair (then the forward has one row and
        broadcasting does the rest). `inject(t, rows)` returns `(a, dh)`: rows `a:` are the streams alive
        at step t (never fewer as t falls) and `dh` is what the decoder adds to the top hidden state of those
        rows at step t.
        `on_step(l, t, a, dh, dc)` sees ∂L/∂h_t and ∂L/∂c_t (all paths) of the alive rows. Weight
        gradients sum the rows `param_rows` (all of them when training; the last loss's row when the
        triangle also wants that loss's weight gradients from the same sweep), counted among all `rows`.
        """
        L, T, H = self.layers, tape.steps, self.hidden_size
        dh_next = [np.zeros((rows, H), self.dtype) for _ in range(L)]
        dc_next = [np.zeros((rows, H), self.dtype) if self.spec.has_cell else None for _ in range(L)]
        d_ih: list[list[Array]] = [[] for _ in range(L)]  # per layer, per step (newest first)
        d_hh: list[list[Array]] = [[] for _ in range(L)]
        dpeep: list[dict[str, Array]] = [{} for _ in range(L)]
        d_emb_rows: list[Array] = []
        layer_params = [self.layer(l) for l in range(L)]
        for t in reversed(range(T)):
            a, d_top = inject(t, rows)
            d_from_above: Array | None = d_top
            picked = param_rows if not a or param_rows.start is None else _shift(param_rows, a)
            for l in reversed(range(L)):
                p = layer_params[l]
                dh = dh_next[l][a:]
                if d_from_above is not None:
                    dh = dh + d_from_above
                dc = dc_next[l][a:] if dc_next[l] is not None else None  # type: ignore[index]
                g = step_backward(self.spec, p, tape.caches[l][t], dh, dc)
                if on_step is not None:
                    on_step(l, t, a, dh, g.dc)
                dh_next[l][a:] = g.dh_prev
                if g.dc_prev is not None:
                    dc_next[l][a:] = g.dc_prev  # type: ignore[index]
                if l > 0:
                    d_from_above = g.d_ih @ p["weight_ih"]  # (rows, in) backprop into the layer below
                elif params:  # into the input: only the rows whose weight gradients are summed
                    d_emb_rows.append(_rows(g.d_ih, picked) @ p["weight_ih"])
                if params:
                    d_ih[l].append(_rows(g.d_ih, picked))
                    d_hh[l].append(_rows(g.d_hh, picked))
                    for k, v in g.dpeep.items():
                        dpeep[l][k] = dpeep[l].get(k, 0.0) + _rows(v, picked).sum(0)
        grads = Grads(h0=dh_next, c0=dc_next)
        if not params:
            return grads
        # Weight gradients as one matmul per tensor over all steps: Σ_t d_preᵀ · input_t.
        for l in range(L):
            x = tape.inputs[l][::-1]  # (T, B, in), newest first like the lists
            h_prev = np.stack([tape.caches[l][t]["h_prev"] for t in reversed(range(T))])
            D_ih, D_hh = _stack_rows(d_ih[l], x.shape[1]), _stack_rows(d_hh[l], x.shape[1])
            grads.params[f"layers.{l}.weight_ih"] = D_ih.T @ _flat(x, D_ih)
            grads.params[f"layers.{l}.weight_hh"] = D_hh.T @ _flat(h_prev, D_hh)
            grads.params[f"layers.{l}.bias_ih"] = D_ih.sum(0)
            grads.params[f"layers.{l}.bias_hh"] = D_hh.sum(0)
            for k, v in dpeep[l].items():
                grads.params[f"layers.{l}.{k}"] = v
        grads.inputs = np.stack([np.broadcast_to(d, d_emb_rows[-1].shape) for d in d_emb_rows[::-1]])
        if "embedding.weight" not in self.params:  # a forecaster reads its values directly
            return grads
        # backprop into the embedding rows that were looked up
        d_emb = np.zeros_like(self.params["embedding.weight"])
        D_x = _stack_rows(d_emb_rows, tape.tokens.shape[0])  # (T·B, I), newest step first
        np.add.at(d_emb, tape.tokens.T[::-1].reshape(-1), D_x)
        grads.params["embedding.weight"] = d_emb
        return grads

    # -- losses ------------------------------------------------------------------------------------------
    def loss_and_grads(
        self,
        tokens: Array,
        targets: Array,
        weights: Array,
        state: tuple[list[Array], list[Array | None]] | None = None,
        clamps: list[list[StepClamp | None]] | None = None,
    ) -> tuple[float, Grads, Tape]:
        """Σ_{b,t} weights[b,t]·(−log p(targets[b,t])) and its gradient with respect to every parameter
        and the initial states. Used for training (with weights summing to 1) and gradient checks. Only the
        positions with a nonzero weight are decoded (padding costs no decoder product); the returned tape
        has no logits. A classifier's targets are class ids (weights on the scored steps, usually the last);
        a forecaster's are normalised values and its loss Σ weights·½ (z − target)²."""
        tape = self.forward(tokens, state, clamps, decode=False)
        B, T = tape.tokens.shape
        w = np.asarray(weights, dtype=self.dtype).T  # (T, B)
        at = np.nonzero(w)  # the scored positions (t, b)
        h_top = tape.top_hidden()[at]  # (N, H)
        W_dec = self.params["decoder.weight"]
        logits = h_top @ W_dec.T + self.params["decoder.bias"]  # (N, V)
        if self.kind == "forecaster":
            err = logits[:, 0] - np.asarray(targets, dtype=self.dtype).T[at]  # (N,) forecast − actual
            loss = float((0.5 * err * err * w[at]).sum())
            dlogits = (err * w[at])[:, None]  # backprop through ½ err²
        else:
            logp = log_softmax(logits)
            tgt, n = np.asarray(targets).T[at], np.arange(len(at[0]))
            loss = float(-(logp[n, tgt] * w[at]).sum())
            dlogits = np.exp(logp)  # backprop through softmax cross-entropy: p − onehot, scaled by the weight
            dlogits[n, tgt] -= 1.0
            dlogits *= w[at][:, None]
        dtop = np.zeros((T, B, self.hidden_size), self.dtype)
        dtop[at] = dlogits @ W_dec  # (N, H) back into the top hidden states
        grads = self.backward(tape, B, lambda t, rows: (0, dtop[t]))
        grads.params["decoder.weight"] = dlogits.T @ h_top
        grads.params["decoder.bias"] = dlogits.sum(0)
        return loss, grads, tape


def _rows(a: Array, rows: slice) -> Array:
    """The chosen rows of a per-row gradient; one zero row when none is alive yet (no loss after t)."""
    picked = a[rows]
    return picked if picked.shape[0] else np.zeros((1, a.shape[-1]), a.dtype)


def _shift(rows: slice, a: int) -> slice:
    """`rows` of all the sweep's rows as a slice of the rows alive from `a` on (empty for dead rows)."""
    return slice(max(rows.start - a, 0), max(rows.stop - a, 0) if rows.stop is not None else None)


def _stack_rows(parts: list[Array], rows: int) -> Array:
    """Stack per-step (r, n) arrays into (T·rows, n), broadcasting r = 1 forwards to `rows`."""
    if all(p.shape[0] == rows for p in parts):  # the usual case: nothing to broadcast, so don't
        return np.concatenate(parts)
    return np.concatenate([np.broadcast_to(p, (rows, p.shape[-1])) for p in parts])


def _flat(seq: Array, like: Array) -> Array:
    """(T, r, n) → (T·rows, n) matching a stacked gradient's rows."""
    T, _, n = seq.shape
    rows = like.shape[0] // T
    return np.broadcast_to(seq, (T, rows, n)).reshape(T * rows, n)
