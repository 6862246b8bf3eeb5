"""The trace document, and the one place that knows its shape: built from a `Trace`, rounded, and encoded
two ways — the readable JSON (`POST /api/trace`, `lstm-explainer trace`) and the WebSocket's binary frames.
docs/protocol.md specifies both; static/js/trace-doc.js is this module's counterpart in the browser.

The three kinds of model (app/nn/model.py) differ only in what a step says besides its layers: a language
model's `top` next tokens and `expected` token, a classifier's `classes` (its reading after this step: every
label with p, highest first) and `expected` label at the last step, a forecaster's `forecast` ({value,
expected}). `gradients.params.attribution` is the last loss's gradient × input per token, for every kind.

Binary frames carry only what the client cannot derive exactly: no tanh(cell) (it is tanh of the cell), no
`clamped` lists (they follow from the interventions), no token texts for ids (the meta's `vocab`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from .interventions import unapplied
from .model import Model
from .tokenizer import Token
from .trace import TOP_K, Trace, Triangle, run_trace

Array = np.ndarray
MAGIC = b"LXT1"
HEADER = struct.Struct("<4sIHHIII")  # magic, stream, kind, dtype, first, count, values: 24 bytes
KIND_STEPS, KIND_PRE, KIND_ROWS = 1, 2, 3
FLOAT32, FLOAT64 = 0, 1


# ------------------------------------------------------------------------------------------ numbers
# The nearest double to each 10**k, read from its decimal as the JS engine does: NumPy's `10.0 ** k` is off
# by one ulp for some k (10**23 under NumPy 2.4), and then the two sides' rounding differed in the last bit.
_POW10 = np.array([float(f"1e{k}") for k in range(309)])


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
    up = _POW10[np.where(small, k, 0.0).astype(np.intp)]
    down = _POW10[np.where(small, 0.0, -k).astype(np.intp)]
    return np.where(tiny, a, np.where(small, np.round(a * up) / up, np.round(a / down) * down))


def _f(x: float) -> float | None:
    return None if not np.isfinite(x) else float(round_sig(np.array(x)))


def top_k(trace: Trace) -> tuple[Array, Array]:
    """The TOP_K likeliest next tokens after every step, highest first, ties to the lower id: ids (T, k) and
    probabilities (T, k) (the trace ranked them when it decoded its steps)."""
    return trace.ranked, trace.ranked_p


def expected_p(trace: Trace) -> Array:
    """(T,) the probability of each step's expected token (a target of pieces: the whole word's, the product
    of its pieces'); NaN where there is none."""
    return np.exp(-trace.losses)


def clamped_units(trace: Trace, l: int, t: int) -> dict[str, list[int]]:
    """The units of each gate of layer l that a clamp holds at step t."""
    clamp = trace.clamps[l][t] if trace.clamps is not None else None
    if clamp is None:
        return {}
    return {g: np.flatnonzero(clamp[g][0] == 0).tolist() for g in trace.model.spec.gates if g in clamp}


# ------------------------------------------------------------------------------------ the JSON document
def token_record(tok: Token) -> dict[str, Any]:
    # Every field a token has (text, id, unknown, and whatever a tokenizer adds), in field order: a token's
    # fields are scalars, so its own __dict__ is the record (asdict's deep copy was a third of a cached
    # trace's meta, and a hall's sockets each build one).
    return dict(vars(tok))


def model_record(m: Model) -> dict[str, Any]:
    record = {"id": m.id, "arch": m.arch, "layers": m.layers, "input_size": m.input_size,
              "hidden_size": m.hidden_size, "tokenizer": m.tokenizer.kind}  # fmt: skip
    if m.kind == "classifier":
        record.update(task_kind=m.kind, classes=m.classes)
    elif m.kind == "forecaster":
        mean, scale = m.normalisation
        record.update(task_kind=m.kind, normalisation={"mean": mean, "scale": scale})
    return record  # a language model's record is as it always was


def class_order(trace: Trace) -> tuple[Array, Array]:
    """A classifier's reading after every step: class ids (T, C) highest first (ties to the lower id), and p."""
    return trace.ranked, trace.ranked_p


def forecasts(trace: Trace) -> tuple[Array, Array]:
    """A forecaster's forecast after every step and the value it is scored on (NaN where none), in the
    series' own units."""
    mean, scale = trace.model.normalisation
    exp = np.array([np.nan if e is None else e for e in trace.expected], float)
    assert trace.forecast is not None
    return mean + scale * trace.forecast, mean + scale * exp


def _rows(a: Array) -> list[list[float]]:
    return round_sig(a).tolist()


def step_records(trace: Trace) -> list[dict[str, Any]]:
    """`steps` of the document: each layer's quantities, the top next tokens, the expected token, the loss.
    Rounding is vectorised over all steps of a quantity at once."""
    model, T, vocab = trace.model, trace.steps, trace.model.vocab
    cols = []
    for c in trace.columns:
        cols.append({
            "gates": {g: _rows(c.act[g]) for g in model.spec.gates},
            "preactivations": {g: _rows(a) for g, a in c.pre.items()},
            "cell": _rows(c.c) if c.c is not None else None,
            "tanh_cell": _rows(tanh) if (tanh := c.tanh_cell()) is not None else None,
            "hidden": _rows(c.h),
        })  # fmt: skip
    kind = model.kind
    if kind == "forecaster":
        value, actual = forecasts(trace)
        value, actual = round_sig(value).tolist(), round_sig(np.nan_to_num(actual)).tolist()
    else:
        top, top_p = top_k(trace) if kind == "language-model" else class_order(trace)
        top_p = round_sig(top_p).tolist()
        top = top.tolist()
    exp_p = round_sig(np.nan_to_num(expected_p(trace))).tolist()
    losses = round_sig(np.nan_to_num(trace.losses)).tolist()
    steps = []
    for t in range(T):
        layers = []
        for l, col in enumerate(cols):
            layers.append({
                "gates": {g: v[t] for g, v in col["gates"].items()},
                "preactivations": {g: v[t] for g, v in col["preactivations"].items()},
                "cell": col["cell"][t] if col["cell"] is not None else None,
                "tanh_cell": col["tanh_cell"][t] if col["tanh_cell"] is not None else None,
                "hidden": col["hidden"][t],
                "clamped": clamped_units(trace, l, t) if trace.interventions else {},
            })  # fmt: skip
        e = trace.expected[t]
        loss = None if e is None else losses[t]
        if kind == "forecaster":
            forecast = {"value": value[t], "expected": None if e is None else actual[t]}
            steps.append({"layers": layers, "forecast": forecast, "loss": loss})
            continue
        if kind == "classifier":
            reading = {"classes": [{"label": model.classes[k], "p": p} for k, p in zip(top[t], top_p[t], strict=True)]}
        else:
            reading = {"top": [{"token": vocab[k], "p": p} for k, p in zip(top[t], top_p[t], strict=True)]}
        steps.append({
            "layers": layers, **reading,
            "expected": None if e is None else {"token": trace.expected_text(t), "id": e, "p": exp_p[t]},
            "loss": loss,
        })  # fmt: skip
    return steps


def gradients_record(trace: Trace) -> dict[str, Any] | None:
    tri = trace.triangle
    if tri is None:
        return None
    model, T = trace.model, trace.steps
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
    n = tri.norms
    if n is None:
        return None
    return {
        "step": tri.param_step,
        "layers": [{name: {k: _f(v) for k, v in block.items()} for name, block in layer.items()} for layer in n.layers],
        "embedding": None if n.embedding is None else _f(n.embedding),  # a forecaster has none
        "decoder": _f(n.decoder),
        # ∂L/∂x_k · x_k per token k: which inputs this loss leans on (0 after its step)
        "attribution": None if tri.attribution is None else round_sig(tri.attribution).tolist(),
    }


def head(trace: Trace) -> dict[str, Any]:
    """What the document says besides the numbers (the socket's `meta` carries it too)."""
    return {
        "model": model_record(trace.model),
        "tokens": [token_record(tok) for tok in trace.tokens],
        "target": None
        if trace.target is None
        else {
            "text": trace.target.text,
            "id": trace.target.id,
            **({"value": v} if (v := getattr(trace.target, "value", None)) is not None else {}),
        },
        "interventions": [iv.as_dict() for iv in trace.interventions],
        # What was left out or had no effect, and why (also gradients of a text past the server's limit).
        "notices": unapplied(trace.interventions, len(trace.tokens)),
    }


def document(trace: Trace) -> dict[str, Any]:
    """The trace document served by `lstm-explainer trace` and `POST /api/trace`."""
    h = head(trace)
    return {
        "model": h["model"], "tokens": h["tokens"], "target": h["target"],
        "steps": step_records(trace), "gradients": gradients_record(trace),
        "interventions": h["interventions"], "notices": h["notices"],
    }  # fmt: skip


def trace_document(
    model: Model, text: str, target: str | None = None, interventions: Any = None, gradients: bool = True
) -> dict[str, Any]:
    return document(run_trace(model, text, target, interventions, gradients))


# ------------------------------------------------------------------------------------ the binary frames
@dataclass(frozen=True)
class Layout:
    """The fields of a step record, a pre-activation record and a gradient row, in frame order."""

    step: tuple[tuple[str, int], ...]
    pre: tuple[tuple[str, int], ...]
    row: tuple[str, ...]

    @property
    def step_size(self) -> int:
        return sum(n for _, n in self.step)

    @property
    def pre_size(self) -> int:
        return sum(n for _, n in self.pre)

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": [{"name": n, "size": s} for n, s in self.step],
            "pre": [{"name": n, "size": s} for n, s in self.pre],
            "row": [{"name": n} for n in self.row],
        }


def layout(trace: Trace) -> Layout:
    m, H = trace.model, trace.model.hidden_size
    step: list[tuple[str, int]] = []
    pre: list[tuple[str, int]] = []
    row: list[str] = []
    for l, c in enumerate(trace.columns):
        step += [(f"layers.{l}.gates.{g}", H) for g in m.spec.gates]
        if c.c is not None:
            step.append((f"layers.{l}.cell", H))
        step.append((f"layers.{l}.hidden", H))
        pre += [(f"layers.{l}.preactivations.{g}", H) for g in c.pre]
        row += [f"layers.{l}.hidden"] + ([f"layers.{l}.cell"] if m.spec.has_cell else [])
    if m.kind == "forecaster":
        step += [("forecast.value", 1), ("forecast.expected", 1), ("loss", 1)]
    elif m.kind == "classifier":
        step += [("classes.p", len(m.classes)), ("expected.p", 1), ("loss", 1)]  # in the card's class order
    else:
        step += [("top.id", TOP_K), ("top.p", TOP_K), ("expected.p", 1), ("loss", 1)]
    return Layout(tuple(step), tuple(pre), tuple(row))


class Frames:
    """A trace's binary frames, cut from its arrays when asked for (nothing is held as bytes). The meta and
    the parameter norms are built once: every socket streaming a cached trace sends the same ones."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.layout = layout(trace)
        self.kind = trace.model.kind
        self._top = top_k(trace) if self.kind == "language-model" else (np.zeros((trace.steps, 0), int),) * 2
        self._classes = trace.class_probs() if self.kind == "classifier" else None  # in the card's order
        self._expected_p = expected_p(trace)
        self._meta: dict[str, Any] | None = None
        self._params: dict[str, Any] | None = None

    def meta(self) -> dict[str, Any]:
        """The meta's document part and shape: head, layout, and the names of the tokens `top` uses. A
        shallow copy of the one built: a caller may set its keys, not change the values it holds."""
        if self._meta is None:
            self._meta = self._build_meta()
        return dict(self._meta)

    def _build_meta(self) -> dict[str, Any]:
        expected = [e for e in self.trace.expected if e is not None] if self.kind == "language-model" else []
        ids = np.unique(np.concatenate([self._top[0].ravel(), np.array(expected, dtype=int)]))
        vocab = self.trace.model.vocab
        return {**head(self.trace), "layout": self.layout.as_dict(), "vocab": {str(k): vocab[k] for k in ids.tolist()}}

    def params(self) -> dict[str, Any] | None:
        """The parameter norms, once the last loss's row has them (None before), not to be changed."""
        tri = self.trace.triangle
        if self._params is None and tri is not None:
            self._params = param_norms(self.trace.model, tri)
        return self._params

    def steps(self, stream: int, first: int, count: int) -> bytes:
        tr, b = self.trace, slice(first, first + count)
        m = tr.model
        parts: list[Array] = []
        for c in tr.columns:
            parts += [c.act[g][b] for g in m.spec.gates]
            if c.c is not None:
                parts.append(c.c[b])
            parts.append(c.h[b])
        if self.kind == "forecaster":
            value, actual = forecasts(tr)
            parts += [value[b, None], actual[b, None], tr.losses[b, None]]
        elif self.kind == "classifier":
            assert self._classes is not None
            parts += [self._classes[b], self._expected_p[b, None], tr.losses[b, None]]
        else:
            top, top_p = self._top
            parts += [top[b], top_p[b], self._expected_p[b, None], tr.losses[b, None]]
        values = np.concatenate([np.asarray(p, dtype="<f4") for p in parts], axis=1)  # (count, step_size)
        return frame(stream, KIND_STEPS, FLOAT32, first, count, values)

    def pre(self, stream: int, first: int, count: int) -> bytes:
        b = slice(first, first + count)
        parts = [a[b] for c in self.trace.columns for a in c.pre.values()]
        values = np.concatenate([np.asarray(p, dtype="<f4") for p in parts], axis=1)
        return frame(stream, KIND_PRE, FLOAT32, first, count, values)

    def rows(self, stream: int, first: int, count: int) -> bytes:
        """Gradient rows first … first+count−1 (they must be computed); a row without a loss is NaN."""
        tri = self.trace.triangle
        assert tri is not None
        parts: list[Array] = []
        for t in range(first, first + count):
            r = tri.row_of(t)
            for l in range(self.trace.model.layers):
                for a in (tri.hidden, tri.cell) if tri.cell is not None else (tri.hidden,):
                    parts.append(a[l, r, : t + 1] if r is not None else np.full(t + 1, np.nan))
        values = np.concatenate(parts).astype("<f8") if parts else np.empty(0, "<f8")
        return frame(stream, KIND_ROWS, FLOAT64, first, count, values)


def frame(stream: int, kind: int, dtype: int, first: int, count: int, values: Array) -> bytes:
    """A binary frame: the 24-byte header of docs/protocol.md, then the little-endian numbers."""
    return HEADER.pack(MAGIC, stream, kind, dtype, first, count, values.size) + values.tobytes()


def parse_frame(data: bytes) -> tuple[int, int, int, int, Array]:
    """(stream, kind, first, count, values) of a binary frame; the reader's side, for tests and tools."""
    magic, stream, kind, dtype, first, count, n = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ValueError(f"not a trace frame (magic {magic!r})")
    values = np.frombuffer(data, "<f4" if dtype == FLOAT32 else "<f8", n, HEADER.size)
    return stream, kind, first, count, values


__all__ = ["Frames", "Layout", "document", "layout", "parse_frame", "round_sig", "trace_document"]


# ------------------------------------------------------------------------------------------ the reader
class Assembler:
    """The reader's side of docs/protocol.md in Python (tests, benchmarks, notebooks): feed it a stream's
    messages and frames, and `document()` is the JSON document they carry, numbers at float32 precision
    (gradient rows at float64). `base` is the trace an incremental meta builds on."""

    def __init__(self, meta: dict[str, Any], base: Assembler | None = None) -> None:
        self.meta = meta
        self.stream = meta["stream"]
        T, self.keep, keep_rows = len(meta["tokens"]), meta["keep"], meta["keep_rows"]
        self.vocab = {**(base.vocab if base else {}), **{int(k): v for k, v in meta["vocab"].items()}}
        self.steps: list[dict[str, Any] | None] = [None] * T
        self.pre: list[dict[str, Any] | None] = [None] * T
        self.rows: list[dict[str, Array] | None] = [None] * T
        self.params: dict[str, Any] | None = None
        if base is not None and self.keep:
            self.steps[: self.keep] = base.steps[: self.keep]
            self.pre[: self.keep] = base.pre[: self.keep]
            self.rows[:keep_rows] = base.rows[:keep_rows]

    def frame(self, data: bytes) -> None:
        stream, kind, first, count, values = parse_frame(data)
        if stream != self.stream:
            raise ValueError(f"a frame of stream {stream} in stream {self.stream}")
        lay = self.meta["layout"]
        if kind in (KIND_STEPS, KIND_PRE):
            fields = lay["step" if kind == KIND_STEPS else "pre"]
            size = sum(f["size"] for f in fields)
            records = values.reshape(count, size)
            for i in range(count):
                rec, at = {}, 0
                for f in fields:
                    rec[f["name"]] = records[i, at : at + f["size"]]
                    at += f["size"]
                (self.steps if kind == KIND_STEPS else self.pre)[first + i] = rec
        elif kind == KIND_ROWS:
            at = 0
            for t in range(first, first + count):
                row = {}
                for f in lay["row"]:
                    row[f["name"]] = values[at : at + t + 1]
                    at += t + 1
                self.rows[t] = row

    def document(self) -> dict[str, Any]:
        m = self.meta
        model, tokens, target = m["model"], m["tokens"], m["target"]
        order = [f["name"].split(".")[3] for f in m["layout"]["step"] if f["name"].startswith("layers.0.gates.")]
        T, L = len(tokens), model["layers"]
        steps = []
        for t, rec in enumerate(self.steps):
            assert rec is not None, f"step {t} never arrived"
            pre = self.pre[t] or {}
            layers = []
            for l in range(L):
                cell = rec.get(f"layers.{l}.cell")
                layers.append({
                    "gates": {g: rec[f"layers.{l}.gates.{g}"].tolist() for g in order},
                    "preactivations": {k.split(".")[3]: v.tolist() for k, v in pre.items()
                                       if k.startswith(f"layers.{l}.preactivations.")},
                    "cell": None if cell is None else cell.tolist(),
                    "tanh_cell": None if cell is None else np.tanh(cell).tolist(),
                    "hidden": rec[f"layers.{l}.hidden"].tolist(),
                    "clamped": _clamped_from(m["interventions"], l, t, order, model["hidden_size"]),
                })  # fmt: skip
            loss = float(rec["loss"][0])
            kind = model.get("task_kind", "language-model")
            if kind == "forecaster":
                actual = float(rec["forecast.expected"][0])
                steps.append({"layers": layers, "forecast": {"value": float(rec["forecast.value"][0]),
                              "expected": None if np.isnan(actual) else actual},
                              "loss": None if np.isnan(loss) else loss})  # fmt: skip
                continue
            if kind == "classifier":
                p = float(rec["expected.p"][0])
                ps = rec["classes.p"]
                ranked = sorted(range(len(ps)), key=lambda k: (-ps[k], k))
                last = t == T - 1 and target is not None
                steps.append({
                    "layers": layers,
                    "classes": [{"label": model["classes"][k], "p": float(ps[k])} for k in ranked],
                    "expected": {"token": target["text"], "id": target["id"], "p": p} if last else None,
                    "loss": None if np.isnan(loss) else loss,
                })  # fmt: skip
                continue
            nxt = tokens[t + 1] if t + 1 < T else target
            # the target is a whole word (the product of its pieces'), named by its text
            said = None if nxt is None else self.vocab[nxt["id"]] if t + 1 < T else nxt["text"]
            p = float(rec["expected.p"][0])
            steps.append({
                "layers": layers,
                "top": [{"token": self.vocab[int(k)], "p": float(q)} for k, q in zip(rec["top.id"], rec["top.p"],
                                                                                        strict=True)],
                "expected": None if nxt is None else {"token": said, "id": nxt["id"],
                                                      "p": p},
                "loss": None if np.isnan(loss) else loss,
            })  # fmt: skip
        gradients = None
        if m["gradients"]:
            names = [f["name"] for f in m["layout"]["row"]]

            def rows(name: str) -> list[list[float | None] | None]:
                out: list[list[float | None] | None] = []
                for t in range(T):
                    row = self.rows[t]
                    out.append(None if row is None or steps[t]["loss"] is None else
                               [None if np.isnan(v) else float(v) for v in row[name]])  # fmt: skip
                return out

            gradients = {
                "layers": [
                    {
                        "hidden": rows(f"layers.{l}.hidden"),
                        "cell": rows(f"layers.{l}.cell") if f"layers.{l}.cell" in names else None,
                    }
                    for l in range(L)
                ],
                "params": self.params,
            }
        return {"model": model, "tokens": tokens, "target": target, "steps": steps, "gradients": gradients,
                "interventions": m["interventions"], "notices": m["notices"]}  # fmt: skip


def _clamped_from(
    interventions: list[dict[str, Any]], l: int, t: int, gates: list[str], H: int
) -> dict[str, list[int]]:
    """`clamped` of layer l at step t, from the interventions (what the client derives)."""
    units: dict[str, set[int]] = {}
    for iv in interventions:
        covers = (iv["start"] is None or t >= iv["start"]) and (iv["stop"] is None or t < iv["stop"])
        if iv["layer"] == l and covers:
            units.setdefault(iv["gate"], set()).update(range(H) if iv["units"] is None else iv["units"])
    return {g: sorted(units[g]) for g in gates if g in units}
