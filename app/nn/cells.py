"""Recurrent cells: one forward step and its backward beside it.

Every cell works on a batch of rows: `xw` is the input projection x·W_ihᵀ + b_ih (B, G·H) computed by the
caller (once for all steps where possible), `h_prev` and `c_prev` are (B, H). Weights are stacked in
PyTorch's order so one matmul serves all gates; each gate is then a named slice, so it can be clamped and
drawn by name.

    lstm       i = σ(W_i x + U_i h + b_i)    f = σ(W_f x + U_f h + b_f)
               g = tanh(W_g x + U_g h + b_g) o = σ(W_o x + U_o h + b_o)
               c' = f⊙c + i⊙g                h' = o⊙tanh(c')
    peephole   as lstm, with + p_i⊙c and + p_f⊙c inside i and f, and + p_o⊙c' inside o
    cifg       as lstm without an input-gate matrix: i = 1 − f
    gru        r = σ(W_r x + b_ir + U_r h + b_hr)   z = σ(W_z x + b_iz + U_z h + b_hz)
               n = tanh(W_n x + b_in + r⊙(U_n h + b_hn))   h' = (1 − z)⊙n + z⊙h
    rnn        h' = tanh(W x + U h + b)      irnn: h' = relu(W x + U h + b)

A clamp replaces a gate's activation on some units by a constant. The constant has no input, so its
pre-activation receives no gradient: the backward multiplies by `free` (0 where clamped, 1 elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

Array = np.ndarray


@dataclass(frozen=True)
class CellSpec:
    """What an architecture has: its weight blocks (stacking order), gates and states."""

    arch: str
    blocks: tuple[str, ...]  # row blocks of weight_ih / weight_hh, in stacking order
    gates: tuple[str, ...]  # gates recorded in a trace and open to clamping
    has_cell: bool
    peephole: bool = False

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    def gate_range(self, gate: str) -> tuple[float, float]:
        """The interval a gate's activation lives in: sigmoid gates [0, 1], tanh candidates [−1, 1]."""
        return (-1.0, 1.0) if gate == "candidate" else (0.0, 1.0)

    @property
    def family(self) -> str:
        """The diagram the cell is drawn as: the LSTM's (a cell state), the GRU's (gates, no cell) or the RNN's."""
        if self.has_cell:
            return "lstm"
        return "gru" if self.gates else "rnn"

    @property
    def memory(self) -> str:
        """The vector that carries what the cell remembers: the cell state c, else the hidden state h."""
        return "cell" if self.has_cell else "hidden"

    @property
    def activation(self) -> str:
        """The hidden state's nonlinearity: ReLU for the IRNN (unbounded, like a cell state), tanh otherwise."""
        return "relu" if self.arch == "irnn" else "tanh"


LSTM_GATES = ("input", "forget", "candidate", "output")

SPECS: dict[str, CellSpec] = {
    "lstm": CellSpec("lstm", LSTM_GATES, LSTM_GATES, has_cell=True),
    "peephole": CellSpec("peephole", LSTM_GATES, LSTM_GATES, has_cell=True, peephole=True),
    "cifg": CellSpec("cifg", ("forget", "candidate", "output"), LSTM_GATES, has_cell=True),
    # PyTorch stacks GRU weights r, z, n; the trace lists the gates in the order they are usually taught.
    "gru": CellSpec("gru", ("reset", "update", "candidate"), ("update", "reset", "candidate"), has_cell=False),
    "rnn": CellSpec("rnn", ("hidden",), (), has_cell=False),
    "irnn": CellSpec("irnn", ("hidden",), (), has_cell=False),
}
ARCHS = tuple(SPECS)
GATE_NAMES = tuple(dict.fromkeys(g for spec in SPECS.values() for g in spec.gates))  # every clampable gate

# A clamp for one step of one layer: gate -> (free mask (H,) of 0/1, constant values (H,)).
StepClamp = dict[str, tuple[Array, Array]]


def sigmoid(x: Array) -> Array:
    # σ(x) = (1 + tanh(x/2)) / 2: never overflows, and one ufunc call is cheap inside a step loop.
    return 0.5 + 0.5 * np.tanh(0.5 * x)


def _blocks(a: Array, n: int) -> list[Array]:
    h = a.shape[-1] // n
    return [a[..., k * h : (k + 1) * h] for k in range(n)]


def _apply(clamp: StepClamp | None, gate: str, act: Array) -> tuple[Array, Array | None]:
    """Replace clamped units of `act` by their constant; return the activation and its free mask."""
    if clamp is None or gate not in clamp:
        return act, None
    free, value = clamp[gate]
    return np.where(free > 0, act, value), free


def _free(d: Array, free: Array | None) -> Array:
    return d if free is None else d * free


# ---------------------------------------------------------------------------------------------- forward
def step_forward(
    spec: CellSpec,
    p: dict[str, Array],
    xw: Array,
    h_prev: Array,
    c_prev: Array | None,
    clamp: StepClamp | None = None,
) -> dict[str, Any]:
    """One step. Returns the cache: every intermediate, which is also what a trace records.

    Cache keys: `pre` (gate -> pre-activation), `act` (gate -> activation), `free` (gate -> mask or None),
    `h_prev`, `c_prev`, `c`, `tanh_c`, `h` (and `hw_n` for the GRU).
    """
    # np.dot, not @: for one row (a trace) it takes BLAS's matrix-vector path, twice as fast as matmul's.
    hw = np.dot(h_prev, p["weight_hh"].T) + p["bias_hh"]  # (B, G·H)
    if spec.arch in ("lstm", "peephole", "cifg"):
        return _lstm_forward(spec, p, xw + hw, h_prev, c_prev, clamp)
    if spec.arch == "gru":
        return _gru_forward(xw, hw, h_prev, clamp)
    return _rnn_forward(spec, xw + hw, h_prev)


def _lstm_forward(
    spec: CellSpec, p: dict[str, Array], a: Array, h_prev: Array, c_prev: Array | None, clamp: StepClamp | None
) -> dict[str, Any]:
    assert c_prev is not None
    pre_i: Array | None
    if spec.arch == "cifg":
        pre_f, pre_g, pre_o = _blocks(a, 3)
        pre_i = None
    else:
        pre_i, pre_f, pre_g, pre_o = _blocks(a, 4)
    if spec.peephole:
        pre_i = pre_i + p["peephole_input"] * c_prev
        pre_f = pre_f + p["peephole_forget"] * c_prev
    # Without peepholes every sigmoid gate is known now: one σ call over all blocks beats three small ones.
    n = 3 if pre_i is None else 4
    fused = None if spec.peephole else _blocks(sigmoid(a), n)
    sig = (lambda k, pre: fused[k]) if fused is not None else (lambda k, pre: sigmoid(pre))
    f, free_f = _apply(clamp, "forget", sig(n - 3, pre_f))
    if pre_i is None:
        i, free_i = _apply(clamp, "input", 1.0 - f)  # coupled: what is forgotten is what may be written
        pre_i = -pre_f  # 1 − σ(x) = σ(−x): the derived gate's pre-activation, for display
    else:
        i, free_i = _apply(clamp, "input", sig(0, pre_i))
    g, free_g = _apply(clamp, "candidate", np.tanh(pre_g))
    c = f * c_prev + i * g  # (B, H) the conveyor belt: keep some, write some
    if spec.peephole:
        pre_o = pre_o + p["peephole_output"] * c
    o, free_o = _apply(clamp, "output", sig(n - 1, pre_o))
    tanh_c = np.tanh(c)
    h = o * tanh_c
    return {
        "pre": {"input": pre_i, "forget": pre_f, "candidate": pre_g, "output": pre_o},
        "act": {"input": i, "forget": f, "candidate": g, "output": o},
        "free": {"input": free_i, "forget": free_f, "candidate": free_g, "output": free_o},
        "h_prev": h_prev, "c_prev": c_prev, "c": c, "tanh_c": tanh_c, "h": h,
    }  # fmt: skip


def _gru_forward(xw: Array, hw: Array, h_prev: Array, clamp: StepClamp | None) -> dict[str, Any]:
    x_r, x_z, x_n = _blocks(xw, 3)
    h_r, h_z, h_n = _blocks(hw, 3)
    pre_r, pre_z = x_r + h_r, x_z + h_z
    r, free_r = _apply(clamp, "reset", sigmoid(pre_r))
    z, free_z = _apply(clamp, "update", sigmoid(pre_z))
    pre_n = x_n + r * h_n  # the reset gate scales the recurrent part only (PyTorch's convention)
    n, free_n = _apply(clamp, "candidate", np.tanh(pre_n))
    h = (1.0 - z) * n + z * h_prev
    return {
        "pre": {"update": pre_z, "reset": pre_r, "candidate": pre_n},
        "act": {"update": z, "reset": r, "candidate": n},
        "free": {"update": free_z, "reset": free_r, "candidate": free_n},
        "h_prev": h_prev, "c_prev": None, "c": None, "tanh_c": None, "h": h, "hw_n": h_n,
    }  # fmt: skip


def _rnn_forward(spec: CellSpec, a: Array, h_prev: Array) -> dict[str, Any]:
    h = np.maximum(a, 0.0) if spec.activation == "relu" else np.tanh(a)
    return {
        "pre": {"hidden": a}, "act": {}, "free": {},
        "h_prev": h_prev, "c_prev": None, "c": None, "tanh_c": None, "h": h,
    }  # fmt: skip


# --------------------------------------------------------------------------------------------- backward
@dataclass
class StepGrads:
    """What one step's backward hands on: to the inputs, to the previous step, and to the weights."""

    d_ih: Array  # (R, G·H) gradient of the input-side pre-activation (x·W_ihᵀ + b_ih)
    d_hh: Array  # (R, G·H) gradient of the recurrent-side pre-activation (h·W_hhᵀ + b_hh)
    dh_prev: Array | None  # (R, H); None from a cell's own backward until step_backward adds W_hh's path
    dc_prev: Array | None  # (R, H)
    dc: Array | None  # (R, H) total ∂L/∂c_t at this step, all paths (for the gradient-norm triangle)
    dpeep: dict[str, Array]  # peephole weight gradients per row (R, H); the caller sums the rows it wants


def step_backward(
    spec: CellSpec, p: dict[str, Array], cache: dict[str, Any], dh: Array, dc_next: Array | None
) -> StepGrads:
    """Backward of `step_forward`. `dh` is ∂L/∂h_t (all paths); `dc_next` is ∂L/∂c_t through c_{t+1}.

    Rows of `dh` may outnumber the rows of the cache (one forward, many losses): broadcasting handles it.
    The step's backward is linear in (dh, dc_next), so its coefficients (`local_derivatives`) depend on the
    forward alone; a cache holding a "local" slot keeps them, for a trace's triangle reads each step once
    per block of losses.
    """
    local = cache.get("local")
    if local is None:
        local = local_derivatives(spec, p, cache)
        if "local" in cache:
            cache["local"] = local
    g = _lstm_backward(spec, cache, local, dh, dc_next) if spec.has_cell else _gated_backward(local, dh)
    recurrent = g.d_hh @ p["weight_hh"]  # backprop through h_prev·W_hhᵀ
    g.dh_prev = recurrent if g.dh_prev is None else g.dh_prev + recurrent
    return g


def local_derivatives(spec: CellSpec, p: dict[str, Array], cache: dict[str, Any]) -> dict[str, Array]:
    """The step's partial derivatives, each (rows, H) or (rows, blocks, H), clamped gates' zeroed: what
    its backward multiplies ∂L/∂h_t and ∂L/∂c_t by."""
    act, free = cache["act"], cache["free"]

    def mask(d: Array, gate: str) -> Array:  # a clamped gate passes no gradient to its pre-activation
        return _free(d, free.get(gate))

    if spec.has_cell:
        i, f, g, o = act["input"], act["forget"], act["candidate"], act["output"]
        c_prev, tanh_c = cache["c_prev"], cache["tanh_c"]
        dpre_o = mask(tanh_c * o * (1.0 - o), "output")  # ∂pre_o/∂h: h = o⊙tanh(c)
        dc = o * (1.0 - tanh_c**2)  # ∂c/∂h through tanh(c)
        if spec.peephole:
            dc = dc + dpre_o * p["peephole_output"]  # o peeks at c_t
        dpre_g = mask(i * (1.0 - g**2), "candidate")  # ∂pre_g/∂c: c = f⊙c_prev + i⊙g
        dc_prev = f
        if spec.arch == "cifg":  # i = 1 − f: the forget gate also moves what is written
            dpre_f = mask((c_prev - mask(g, "input")) * f * (1.0 - f), "forget")
            on_cell = [dpre_f, dpre_g]
        else:
            dpre_i = mask(g * i * (1.0 - i), "input")
            dpre_f = mask(c_prev * f * (1.0 - f), "forget")
            if spec.peephole:
                dc_prev = f + dpre_i * p["peephole_input"] + dpre_f * p["peephole_forget"]
            on_cell = [dpre_i, dpre_f, dpre_g]
        return {"dc": dc, "dpre_o": dpre_o, "on_cell": np.stack(on_cell, axis=-2), "dc_prev": dc_prev}
    if spec.arch == "gru":
        z, r, n = act["update"], act["reset"], act["candidate"]
        dpre_n = mask((1.0 - z) * (1.0 - n**2), "candidate")  # h = (1 − z)⊙n + z⊙h_prev
        dpre_r = mask(dpre_n * cache["hw_n"] * r * (1.0 - r), "reset")  # n's pre-activation x_n + r⊙hw_n
        dpre_z = mask((cache["h_prev"] - n) * z * (1.0 - z), "update")
        return {
            "d_ih": np.stack([dpre_r, dpre_z, dpre_n], axis=-2),
            "d_hh": np.stack([dpre_r, dpre_z, dpre_n * r], axis=-2),
            "dh_prev": z,
        }
    relu = spec.activation == "relu"
    dpre = (cache["pre"]["hidden"] > 0).astype(cache["h"].dtype) if relu else 1.0 - cache["h"] ** 2
    return {"d_ih": dpre[..., None, :], "d_hh": None, "dh_prev": None}


def _lstm_backward(
    spec: CellSpec, cache: dict[str, Any], local: dict[str, Array], dh: Array, dc_next: Array | None
) -> StepGrads:
    on_cell = local["on_cell"]
    n, H = on_cell.shape[-2], dh.shape[-1]
    dc = dh * local["dc"]
    if dc_next is not None:
        dc = dc + dc_next
    dpre = np.empty((len(dh), n + 1, H), dh.dtype)  # gate blocks in stacking order, the output gate's last
    np.multiply(dc[:, None, :], on_cell, out=dpre[:, :n])
    np.multiply(dh, local["dpre_o"], out=dpre[:, n])
    dpeep: dict[str, Array] = {}
    if spec.peephole:
        c_prev = cache["c_prev"]
        dpeep["peephole_output"] = dpre[:, n] * cache["c"]
        dpeep["peephole_input"] = dpre[:, 0] * c_prev
        dpeep["peephole_forget"] = dpre[:, 1] * c_prev
    dpre = dpre.reshape(len(dh), (n + 1) * H)
    return StepGrads(d_ih=dpre, d_hh=dpre, dh_prev=None, dc_prev=dc * local["dc_prev"], dc=dc, dpeep=dpeep)


def _gated_backward(local: dict[str, Array], dh: Array) -> StepGrads:
    """The GRU's and the plain RNN's: every pre-activation's gradient is dh times its coefficient."""
    d_ih = (dh[:, None, :] * local["d_ih"]).reshape(len(dh), -1)
    d_hh = d_ih if local["d_hh"] is None else (dh[:, None, :] * local["d_hh"]).reshape(len(dh), -1)
    dh_prev = None if local["dh_prev"] is None else dh * local["dh_prev"]
    return StepGrads(d_ih=d_ih, d_hh=d_hh, dh_prev=dh_prev, dc_prev=None, dc=None, dpeep={})
