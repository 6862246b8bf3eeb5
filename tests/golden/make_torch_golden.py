"""Write the PyTorch golden vectors that tests/test_torch_parity.py compares against.

Run by hand where torch is installed (torch is never a dependency of the app):

    python tests/golden/make_torch_golden.py [CASE ...]

For each case it builds a random module holding nn.Embedding → nn.LSTM/GRU/RNN → nn.Linear under
deliberately unusual attribute names, saves its state_dict with safetensors, and records what torch
autograd says: gates, states, probabilities, losses and every ‖∂L_t/∂h_k‖, ‖∂L_t/∂c_k‖. The gates come
from a step-by-step torch cell that is first checked against the module's own output.

The later cases are the layouts real training scripts produce and the importer must get right: a ReLU
nn.RNN (its nonlinearity is not in the state_dict), weights stored in bfloat16, bias=False layers and a
head without bias, a head tied to the embedding (saved once, by `safetensors.torch.save_model`), and a
model built around an nn.LSTMCell.
"""

from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file, save_model
from torch import nn

HERE = Path(__file__).resolve().parent
VOCAB = ["<unk>", "a", "b", "c", "d", "e", " "]
TEXT = "abc dae bc"
TARGET = "e"
I, H = 5, 6

CASES = [
    {"name": "lstm-1", "kind": "LSTM", "layers": 1, "names": ("embed", "lstm", "fc"), "clamps": []},
    {"name": "lstm-2", "kind": "LSTM", "layers": 2, "names": ("encoder", "core", "decoder"), "clamps": []},
    {"name": "lstm-2-clamped", "kind": "LSTM", "layers": 2, "names": ("emb", "rnn", "head"), "clamps": [
        {"gate": "forget", "value": 0.0, "layer": 0, "units": [1, 4], "start": 3, "stop": None},
        {"gate": "input", "value": 1.0, "layer": 1, "units": None, "start": None, "stop": 5},
        {"gate": "candidate", "value": -0.5, "layer": 1, "units": [0], "start": 6, "stop": 8},
    ]},
    {"name": "gru-1", "kind": "GRU", "layers": 1, "names": ("tok", "gru", "out"), "clamps": []},
    {"name": "gru-2-clamped", "kind": "GRU", "layers": 2, "names": ("embedding", "gru", "linear"), "clamps": [
        {"gate": "update", "value": 1.0, "layer": 0, "units": [2], "start": 2, "stop": 7},
        {"gate": "reset", "value": 0.0, "layer": 1, "units": None, "start": 4, "stop": None},
    ]},
    {"name": "rnn-1", "kind": "RNN", "layers": 1, "names": ("e", "r", "o"), "clamps": []},
    {"name": "rnn-2", "kind": "RNN", "layers": 2, "names": ("emb", "cell", "proj"), "clamps": []},
    {"name": "rnn-relu-2", "kind": "RNN", "layers": 2, "names": ("emb", "rnn", "fc"), "clamps": [],
     "nonlinearity": "relu"},
    {"name": "lstm-bf16", "kind": "LSTM", "layers": 1, "names": ("embed", "lstm", "fc"), "clamps": [],
     "dtype": "bfloat16"},
    {"name": "gru-nobias", "kind": "GRU", "layers": 2, "names": ("emb", "gru", "head"), "clamps": [],
     "bias": False, "head_bias": False},
    {"name": "lstm-tied", "kind": "LSTM", "layers": 1, "names": ("encoder", "rnn", "decoder"), "clamps": [],
     "tied": True, "head_bias": False},
    {"name": "lstmcell-1", "kind": "LSTM", "layers": 1, "names": ("emb", "cell", "out"), "clamps": [],
     "cell": True},
]  # fmt: skip

LSTM_ORDER = ("input", "forget", "candidate", "output")
GRU_ORDER = ("reset", "update", "candidate")


def clamp(gate: str, act: torch.Tensor, layer: int, t: int, clamps: list[dict]) -> torch.Tensor:
    for c in clamps:
        covers = (c["start"] is None or t >= c["start"]) and (c["stop"] is None or t < c["stop"])
        if c["gate"] == gate and c["layer"] == layer and covers:
            mask = torch.zeros(H, dtype=torch.bool)
            mask[c["units"] if c["units"] is not None else slice(None)] = True
            act = torch.where(mask, torch.full_like(act, c["value"]), act)
    return act


def run_case(case: dict) -> dict[str, np.ndarray]:
    torch.manual_seed(zlib.crc32(case["name"].encode()))
    e_name, r_name, o_name = case["names"]
    rnn_cls = getattr(nn, case["kind"])
    module = nn.Module()
    n_in = H if case.get("tied") else I  # a tied head needs the embedding's width to be the hidden size
    extra = {"nonlinearity": case["nonlinearity"]} if "nonlinearity" in case else {}
    setattr(module, e_name, nn.Embedding(len(VOCAB), n_in))
    setattr(module, r_name, rnn_cls(n_in, H, num_layers=case["layers"], bias=case.get("bias", True), **extra))
    setattr(module, o_name, nn.Linear(H, len(VOCAB), bias=case.get("head_bias", True)))
    if case.get("tied"):
        getattr(module, o_name).weight = getattr(module, e_name).weight
    module = module.double()
    if case.get("dtype") == "bfloat16":  # the weights as stored: rounded to bf16, then computed in float64
        with torch.no_grad():
            for param in module.parameters():
                param.copy_(param.to(torch.bfloat16).double())
    rnn = getattr(module, r_name)
    ids = torch.tensor([VOCAB.index(ch) for ch in TEXT])
    T, L = len(ids), case["layers"]
    x = getattr(module, e_name)(ids)  # (T, I)

    hs = [[None] * T for _ in range(L)]
    cs = [[None] * T for _ in range(L)]
    gates = {(l, g): [] for l in range(L) for g in (*LSTM_ORDER, *GRU_ORDER)}
    logits = []
    h = [torch.zeros(H, dtype=torch.float64) for _ in range(L)]
    c = [torch.zeros(H, dtype=torch.float64) for _ in range(L)]
    for t in range(T):
        inp = x[t]
        for l in range(L):
            w_ih, w_hh = getattr(rnn, f"weight_ih_l{l}"), getattr(rnn, f"weight_hh_l{l}")
            xw, hw = w_ih @ inp, w_hh @ h[l]
            if case.get("bias", True):
                xw, hw = xw + getattr(rnn, f"bias_ih_l{l}"), hw + getattr(rnn, f"bias_hh_l{l}")
            if case["kind"] == "LSTM":
                a = (xw + hw).split(H)
                i = clamp("input", torch.sigmoid(a[0]), l, t, case["clamps"])
                f = clamp("forget", torch.sigmoid(a[1]), l, t, case["clamps"])
                g = clamp("candidate", torch.tanh(a[2]), l, t, case["clamps"])
                o = clamp("output", torch.sigmoid(a[3]), l, t, case["clamps"])
                c_new = f * c[l] + i * g
                c_new.retain_grad()
                h_new = o * torch.tanh(c_new)
                for name, v in zip(LSTM_ORDER, (i, f, g, o), strict=True):
                    gates[(l, name)].append(v)
                c[l] = cs[l][t] = c_new
            elif case["kind"] == "GRU":
                xr, xz, xn = xw.split(H)
                hr, hz, hn = hw.split(H)
                r = clamp("reset", torch.sigmoid(xr + hr), l, t, case["clamps"])
                z = clamp("update", torch.sigmoid(xz + hz), l, t, case["clamps"])
                n = clamp("candidate", torch.tanh(xn + r * hn), l, t, case["clamps"])
                h_new = (1 - z) * n + z * h[l]
                for name, v in zip(GRU_ORDER, (r, z, n), strict=True):
                    gates[(l, name)].append(v)
            elif case.get("nonlinearity") == "relu":
                h_new = torch.relu(xw + hw)
            else:
                h_new = torch.tanh(xw + hw)
            h_new.retain_grad()
            h[l] = hs[l][t] = h_new
            inp = h_new
        logits.append(getattr(module, o_name)(h[-1]))
    logits_t = torch.stack(logits)
    if not case["clamps"]:
        # the step-by-step cell must be the module's own computation
        ref, _ = rnn(x.unsqueeze(1))
        assert torch.allclose(torch.stack(hs[-1]), ref[:, 0], atol=1e-12, rtol=0), case["name"]
    logp = torch.log_softmax(logits_t, -1)
    targets = [*ids[1:].tolist(), VOCAB.index(TARGET)]
    losses = torch.stack([-logp[t, targets[t]] for t in range(T)])

    hid = np.full((L, T, T), np.nan)
    cel = np.full((L, T, T), np.nan)
    for t in range(T):
        wrt = [hs[l][k] for l in range(L) for k in range(t + 1)]
        if case["kind"] == "LSTM":
            wrt += [cs[l][k] for l in range(L) for k in range(t + 1)]
        grads = torch.autograd.grad(losses[t], wrt, retain_graph=True, allow_unused=True)
        n = L * (t + 1)
        for idx, g in enumerate(grads[:n]):
            hid[idx // (t + 1), t, idx % (t + 1)] = 0.0 if g is None else g.norm().item()
        for idx, g in enumerate(grads[n:]):
            cel[idx // (t + 1), t, idx % (t + 1)] = 0.0 if g is None else g.norm().item()

    # Gradients of the last loss with respect to every parameter, under our names.
    named = dict(module.named_parameters())
    pgrads = torch.autograd.grad(losses[-1], list(named.values()), retain_graph=True)
    out: dict[str, np.ndarray] = {
        "probs": logp.exp().detach().numpy(),
        "losses": losses.detach().numpy(),
        "triangle_hidden": hid,
        "triangle_cell": cel,
    }
    for l in range(L):
        out[f"hidden.{l}"] = torch.stack(hs[l]).detach().numpy()
        if case["kind"] == "LSTM":
            out[f"cell.{l}"] = torch.stack(cs[l]).detach().numpy()
        for name in LSTM_ORDER if case["kind"] == "LSTM" else GRU_ORDER if case["kind"] == "GRU" else ():
            out[f"gate.{l}.{name}"] = torch.stack(gates[(l, name)]).detach().numpy()
    for (pname, _), g in zip(named.items(), pgrads, strict=True):
        out[f"param_grad.{pname}"] = g.numpy()

    save_weights(case, module)
    return out


def save_weights(case: dict, module: nn.Module) -> None:
    path = str(HERE / f"{case['name']}.safetensors")
    r_name = case["names"][1]
    if case.get("tied"):
        save_model(module, path)  # what safetensors offers for shared tensors: each is saved once
        return
    if case.get("cell"):  # the same weights in an nn.LSTMCell, the module a hand-written time loop holds
        rnn = getattr(module, r_name)
        cell = nn.LSTMCell(rnn.input_size, rnn.hidden_size).double()
        with torch.no_grad():
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, kind).copy_(getattr(rnn, f"{kind}_l0"))
        setattr(module, r_name, cell)
    dtype = torch.bfloat16 if case.get("dtype") == "bfloat16" else torch.float64
    state = {k: v.detach().to(dtype).contiguous() for k, v in module.state_dict().items()}
    save_file(state, path)


def main() -> None:
    manifest = {"vocab": VOCAB, "text": TEXT, "target": TARGET, "cases": CASES, "torch": torch.__version__}
    only = set(sys.argv[1:])  # case names to regenerate; default all
    cases = [case for case in CASES if not only or case["name"] in only]
    for case in cases:
        np.savez(HERE / f"{case['name']}.npz", **run_case(case))
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {HERE}")


if __name__ == "__main__":
    main()
