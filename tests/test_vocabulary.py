"""The arch vocabulary the server publishes to the front end (app/api/vocabulary.py): it says what the cell
specs say, and every explorer page carries it in its config (static/js/archs.js reads nothing else)."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.testclient import TestClient

from app.api.schemas import Intervention
from app.api.vocabulary import arch_vocabulary
from app.nn.cells import SPECS


def page_config(html: str) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="app-config">(.*?)</script>', html, re.S)
    assert m, "no #app-config"
    return json.loads(m.group(1))


def test_every_arch_is_published_as_its_spec_says() -> None:
    archs = arch_vocabulary()["archs"]
    assert set(archs) == set(SPECS)
    for arch, spec in SPECS.items():
        entry = archs[arch]
        assert entry["gates"] == {g: list(spec.gate_range(g)) for g in spec.gates}, arch
        assert list(entry["gates"]) == list(spec.gates), arch  # in the trace's order
        assert entry["memory"] == ("cell" if spec.has_cell else "hidden"), arch
        assert entry["scales"][entry["memory"]] == ("cell" if spec.has_cell or arch == "irnn" else "tanh"), arch
        assert set(entry["scales"]) == {*spec.gates, "hidden", *(["cell"] if spec.has_cell else [])}, arch
        assert entry["peephole"] == spec.peephole, arch
    assert {a: e["coupled"] for a, e in archs.items() if e["coupled"]} == {"cifg": ["input"]}  # i = 1 − f


def test_the_families_and_nonlinearities() -> None:
    archs = arch_vocabulary()["archs"]
    assert {a: archs[a]["family"] for a in archs} == {
        "lstm": "lstm", "peephole": "lstm", "cifg": "lstm", "gru": "gru", "rnn": "rnn", "irnn": "rnn",
    }  # fmt: skip
    assert {a for a in archs if archs[a]["activation"] == "relu"} == {"irnn"}


def test_an_irnn_hidden_state_is_on_the_cell_scale_everywhere() -> None:
    # One answer for the diagram, the token tint, the clamp comparison and the plots (the old disagreement).
    irnn = arch_vocabulary()["archs"]["irnn"]
    assert irnn["memory"] == "hidden"
    assert irnn["scales"] == {"hidden": "cell"}


def test_the_clampable_gates_and_the_keys_of_a_clamp() -> None:
    v = arch_vocabulary()
    assert v["gates"] == ["input", "forget", "candidate", "output", "update", "reset"]
    assert v["clampFields"] == list(Intervention.model_fields) == ["gate", "value", "layer", "units", "start", "stop"]


def test_the_explorer_and_the_embed_carry_it(client: TestClient) -> None:
    published = json.loads(json.dumps(arch_vocabulary()))
    for path in ("/", "/embed"):
        r = client.get(path)
        assert r.status_code == 200
        assert page_config(r.text)["archs"] == published, path
