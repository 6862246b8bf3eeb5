"""Parity with PyTorch's nn.LSTM / nn.GRU / nn.RNN (tanh and ReLU) through the real import path, for the
layouts training scripts write: bf16 weights, bias=False, a tied or bias-less head, an nn.LSTMCell.

The golden vectors in tests/golden/ were written by tests/golden/make_torch_golden.py with torch autograd,
so this runs where torch is not installed. Where torch is installed, a second test regenerates them live.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.nn import run_trace
from app.nn.importers import import_model

GOLDEN = Path(__file__).resolve().parent / "golden"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())
TOL = dict(rtol=1e-9, atol=1e-12)


def our_name(case: dict, torch_name: str) -> str:
    e, r, o = case["names"]
    prefix, _, rest = torch_name.partition(".")
    if prefix == e:
        return "embedding.weight"
    if prefix == o:
        return f"decoder.{rest}"
    assert prefix == r
    kind, _, layer = rest.rpartition("_l")
    return f"layers.{layer}.{kind}"


def check_case(case: dict, golden: dict[str, np.ndarray], weights_dir: Path = GOLDEN) -> None:
    nonlinearity = case.get("nonlinearity", "tanh") if case["kind"] == "RNN" else None
    path = weights_dir / f"{case['name']}.safetensors"
    model = import_model("pytorch", path, MANIFEST["vocab"], "char", case["name"], "<unk>", nonlinearity=nonlinearity)
    rnn = "irnn" if nonlinearity == "relu" else "rnn"
    assert model.arch == {"LSTM": "lstm", "GRU": "gru", "RNN": rnn}[case["kind"]]
    trace = run_trace(model, MANIFEST["text"], target=MANIFEST["target"], interventions=case["clamps"])
    name = case["name"]
    np.testing.assert_allclose(trace.probs, golden["probs"], **TOL, err_msg=f"{name} probabilities")
    np.testing.assert_allclose(trace.losses, golden["losses"], **TOL, err_msg=f"{name} losses")
    for l in range(case["layers"]):
        caches = trace.tape.caches[l]
        np.testing.assert_allclose(
            np.stack([c["h"][0] for c in caches]), golden[f"hidden.{l}"], **TOL, err_msg=f"{name} h[{l}]"
        )
        if f"cell.{l}" in golden:
            np.testing.assert_allclose(
                np.stack([c["c"][0] for c in caches]), golden[f"cell.{l}"], **TOL, err_msg=f"{name} c[{l}]"
            )
        for key in (k for k in golden if k.startswith(f"gate.{l}.")):
            gate = key.rsplit(".", 1)[1]
            ours = np.stack([c["act"][gate][0] for c in caches])
            np.testing.assert_allclose(ours, golden[key], **TOL, err_msg=f"{name} gate {gate}[{l}]")
    tri = trace.triangle
    assert tri is not None and tri.params is not None
    np.testing.assert_allclose(tri.hidden, golden["triangle_hidden"], **TOL, err_msg=f"{name} ‖∂L/∂h‖")
    if case["kind"] == "LSTM":
        assert tri.cell is not None
        np.testing.assert_allclose(tri.cell, golden["triangle_cell"], **TOL, err_msg=f"{name} ‖∂L/∂c‖")
    for key in (k for k in golden if k.startswith("param_grad.")):
        ours = tri.params.params[our_name(case, key[len("param_grad.") :])]
        if case.get("tied") and key.endswith(f"{case['names'][0]}.weight"):  # torch sums a shared weight's uses
            ours = ours + tri.params.params["decoder.weight"]
        np.testing.assert_allclose(ours, golden[key], **TOL, err_msg=f"{name} {key}")


@pytest.mark.parametrize("case", MANIFEST["cases"], ids=lambda c: c["name"])
def test_matches_committed_torch_golden_vectors(case: dict) -> None:
    with np.load(GOLDEN / f"{case['name']}.npz", allow_pickle=False) as npz:
        golden = {k: npz[k] for k in npz.files}
    check_case(case, golden)


def test_matches_live_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch", reason="torch is optional; the committed golden vectors cover this")
    monkeypatch.syspath_prepend(str(GOLDEN))
    import make_torch_golden as gen

    monkeypatch.setattr(gen, "HERE", tmp_path)  # write the regenerated weights, not the committed ones
    for case in gen.CASES:
        check_case(case, gen.run_case(case), weights_dir=tmp_path)
