"""Interventions: clamp a gate of a layer to a constant, on some units, over a range of steps.

    {"gate": "forget", "value": 1.0, "layer": 0, "units": [3, 7] | null, "start": 2 | null, "stop": 9 | null}

The range is [start, stop) like a Python slice; a missing end is open. Later interventions win where two
clamp the same unit of the same gate at the same step. A range that covers no step of the text (stop not
after start, or a start past the last step) clamps nothing; `unapplied` says so in words for the trace's
notices, rather than refusing a request that is well-formed whatever the text's length.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .cells import CellSpec, StepClamp
from .errors import TraceInputError

FIELDS = ("gate", "value", "layer", "units", "start", "stop")


@dataclass(frozen=True)
class Intervention:
    gate: str
    value: float
    layer: int = 0
    units: tuple[int, ...] | None = None
    start: int | None = None
    stop: int | None = None

    def covers(self, t: int) -> bool:
        return (self.start is None or t >= self.start) and (self.stop is None or t < self.stop)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["units"] = list(self.units) if self.units is not None else None
        return d


def _bad(message: str) -> TraceInputError:
    return TraceInputError("bad_intervention", message)


def _int(name: str, value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"{where}: '{name}' must be an integer or null, not {value!r}")
    return value


def parse_intervention(raw: Any, spec: CellSpec, layers: int, hidden_size: int, index: int = 0) -> Intervention:
    """Validate one intervention against a model's architecture; errors say what to change."""
    where = f"intervention {index}"
    if not isinstance(raw, dict):
        raise _bad(f"{where} must be an object like {{'gate': 'forget', 'value': 1.0}}, not {raw!r}")
    extra = set(raw) - set(FIELDS)
    if extra:
        raise _bad(f"{where}: unknown field(s) {sorted(extra)}; allowed: {list(FIELDS)}")
    gate = raw.get("gate")
    if not spec.gates:
        raise _bad(f"{where}: a plain {spec.arch.upper()} has no gates to clamp")
    if gate not in spec.gates:
        raise _bad(f"{where}: {spec.arch} has no gate {gate!r}; its gates are {list(spec.gates)}")
    value = raw.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(f"{where}: 'value' must be a finite number, not {value!r}")
    lo, hi = spec.gate_range(gate)
    if not lo <= value <= hi:
        raise _bad(f"{where}: the {gate} gate lives in [{lo:g}, {hi:g}]; {value!r} is outside it")
    layer = _int("layer", raw.get("layer", 0), where) or 0
    if not 0 <= layer < layers:
        raise _bad(f"{where}: layer {layer} does not exist; this model has layers 0..{layers - 1}")
    units = raw.get("units")
    if units is not None:
        if not isinstance(units, list) or not units:
            raise _bad(f"{where}: 'units' must be a non-empty list of unit indices or null (all units)")
        checked = [_int("units", u, where) for u in units]
        bad = [u for u in checked if u is None or not 0 <= u < hidden_size]
        if bad:
            raise _bad(f"{where}: unit {bad[0]} is out of range; units are 0..{hidden_size - 1}")
        units = tuple(sorted(set(checked)))  # type: ignore[arg-type]
    start, stop = _int("start", raw.get("start"), where), _int("stop", raw.get("stop"), where)
    if (start is not None and start < 0) or (stop is not None and stop < 0):
        raise _bad(f"{where}: 'start' and 'stop' are step indices and cannot be negative")
    return Intervention(gate, float(value), layer, units, start, stop)


def unapplied(interventions: list[Intervention], steps: int) -> list[str]:
    """A notice for each intervention that covers none of the text's `steps` steps, saying why."""
    notices = []
    for k, iv in enumerate(interventions):
        start = iv.start or 0
        if iv.stop is not None and iv.stop <= start:
            why = f"its stop (step {iv.stop}) is not after its start (step {start})"
        elif start >= steps:
            why = f"it starts at step {start} and this text's last step is {steps - 1}"
        else:
            continue
        notices.append(f"intervention {k} ({iv.gate} gate) clamps nothing: {why}")
    return notices


def parse_interventions(raw: Any, spec: CellSpec, layers: int, hidden_size: int) -> list[Intervention]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _bad("'interventions' must be a list of intervention objects")
    return [parse_intervention(r, spec, layers, hidden_size, k) for k, r in enumerate(raw)]


def step_clamps(
    interventions: list[Intervention], layers: int, steps: int, hidden_size: int, dtype: type
) -> list[list[StepClamp | None]] | None:
    """Per layer and step, each clamped gate's (free mask, constant values); None where nothing is clamped."""
    if not interventions:
        return None
    out: list[list[StepClamp | None]] = [[None] * steps for _ in range(layers)]
    for t in range(steps):
        for iv in interventions:
            if not iv.covers(t):
                continue
            clamp = out[iv.layer][t]
            if clamp is None:
                clamp = out[iv.layer][t] = {}
            free, value = clamp.get(iv.gate, (np.ones(hidden_size, dtype), np.zeros(hidden_size, dtype)))
            free, value = free.copy(), value.copy()
            units = slice(None) if iv.units is None else list(iv.units)
            free[units] = 0.0
            value[units] = iv.value
            clamp[iv.gate] = (free, value)
    return out
