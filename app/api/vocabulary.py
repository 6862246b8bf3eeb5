"""The architectures' vocabulary as the front end reads it, published once from the cell specs
(app/nn/cells.py SPECS) in every page's config (`archs`), the exported file's and the static site's too:
static/js/archs.js is its one reader, so no JS file re-declares a gate name, a range or which vector is
the memory."""

from __future__ import annotations

from typing import Any

from app.api.schemas import Intervention
from app.nn.cells import GATE_NAMES, SPECS, CellSpec


def scale_name(spec: CellSpec, quantity: str) -> str:
    """The colour scale a vector of this cell is drawn on (static/js/colors.js scales()): `gate` [0, 1],
    `tanh` [−1, 1], or `cell`, symmetric with the trace's own range, for what is unbounded (a cell state,
    an IRNN's ReLU hidden state)."""
    if quantity == "cell":
        return "cell"
    if quantity == "hidden":
        return "cell" if spec.activation == "relu" else "tanh"
    return "gate" if spec.gate_range(quantity) == (0.0, 1.0) else "tanh"


def arch_entry(spec: CellSpec) -> dict[str, Any]:
    vectors = [*spec.gates, *(["cell"] if spec.has_cell else []), "hidden"]
    return {
        "family": spec.family,
        "gates": {gate: list(spec.gate_range(gate)) for gate in spec.gates},
        "memory": spec.memory,
        "activation": spec.activation,
        "scales": {q: scale_name(spec, q) for q in vectors},
        "peephole": spec.peephole,
        # gates with no weights of their own (the CIFG's input gate is 1 − f)
        "coupled": [gate for gate in spec.gates if gate not in spec.blocks],
    }


def arch_vocabulary() -> dict[str, Any]:
    """{archs: {arch: {family, gates: {gate: [lo, hi]}, memory, activation, scales: {vector: scale}, peephole,
    coupled: [gate]}},
    gates: every clampable gate name, clampFields: the keys of a clamp (schemas.Intervention)}."""
    return {
        "archs": {arch: arch_entry(spec) for arch, spec in SPECS.items()},
        "gates": list(GATE_NAMES),
        "clampFields": list(Intervention.model_fields),
    }
