"""Parity of the JavaScript trace engine (static/js/engine/) with the NumPy core, in headless Chromium.

The engine reads each model straight from its two files, like a page with no server would, and traces
through its Web Worker; its document must be the core's (`app.nn.document.document`): the same keys in the
same order, the same tokens, top tokens, nulls and integers, and every number within RTOL of the core's
— gates, states, pre-activations, probabilities, losses, the gradient triangle and the parameter norms.
Both sides compare at full precision (the engine with `digits: null`, the core with its rounding
switched off); one more test checks that the rounded documents agree too.

Models: every shipped model (language models, classifiers and forecasters); the torch golden vectors (also
compared with torch's own numbers); random models of every arch the core supports at one to four layers,
a classifier and forecasters among them; weights stored as F16 and BF16; and model directories broken in
each way the core refuses, which the engine must refuse in the same words.
"""

from __future__ import annotations

import json
import re
import struct
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors import numpy as safetensors_numpy

from app.nn import Model, load_model, random_model, save_model, shipped_models_dir
from app.nn import document as nn_document
from app.nn import trace as nn_trace
from app.nn.errors import ModelFileError, TraceInputError
from app.nn.files import model_dirs
from app.nn.importers import import_model

from .engine_harness import ENGINE_DIR, EngineServer, call, engine_page, trace_in_page

# The engine computes in float64, as the core does, so the two differ only by the order of rounding
# (BLAS sums a dot product in another order than a loop does). Every number is held to RTOL of itself,
# with two exceptions where the core itself is exact only to about 10⁻¹⁶ absolute, not relative:
# - a number of a step's vector (a gate, a state, a pre-activation) far below the vector's largest entry
#   is held to RTOL of STEP_FLOOR × that entry: σ(x) = ½ + ½·tanh(x/2) for x ≪ 0 is the difference of two
#   numbers near ½, and a pre-activation near 0 is the difference of large sums;
# - a loss near 0 (p ≈ 1) is log Σ exp(z) of logits known to ~10⁻¹⁴: it is held to RTOL plus LOSS_ATOL,
#   and the gradients of that loss (all scaled by p − 1) to RTOL + LOSS_ATOL / L relative.
# - an attribution (gradient × input per token) far below the largest one is held like a step's vector:
#   ∂L/∂x_k is W_ihᵀ·d_pre, a sum of terms that may cancel, so its error is relative to the terms.
# Gradient norms are otherwise held to RTOL of themselves however small: the vanishing gradient at 10⁻¹⁰
# must be right too.
RTOL = 1e-9
STEP_FLOOR = 1e-6
LOSS_ATOL = 1e-13

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())
SHIPPED = [p.name for p in model_dirs(shipped_models_dir())]
# (arch, layers) of the random models: every arch, every depth from one to four
RANDOM = [("lstm", 4), ("peephole", 1), ("peephole", 2), ("cifg", 3), ("gru", 2), ("rnn", 3), ("irnn", 1), ("irnn", 2)]
CHAR_VOCAB = ["<unk>", *"abcdefghijklmnopqrstuvwxyz .,'"]
WORD_VOCAB = ["<unk>", "the", "keys", "to", "cabinet", "is", "are", "on", "table", "a", "cat", "sat", ".", ","]


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    target: str | None = None
    interventions: list[dict[str, Any]] = field(default_factory=list)
    gradients: bool = True

    def request(self, model: str) -> dict[str, Any]:
        return {
            "model": model, "text": self.text, "target": self.target, "interventions": self.interventions,
            "gradients": self.gradients, "digits": None,
        }  # fmt: skip


# ------------------------------------------------------------------------------------------- the models
def _safetensors_bytes(header: Any, body: bytes) -> bytes:
    """A .safetensors file written by hand, whatever its header says."""
    head = json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + body


def _bf16_file(params: dict[str, np.ndarray]) -> bytes:
    """The tensors as bfloat16 (NumPy has none): the top 16 bits of each float32."""
    header, blobs, offset = {}, [], 0
    for name, a in params.items():
        blob = (np.ascontiguousarray(a, np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
        header[name] = {"dtype": "BF16", "shape": list(a.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    return _safetensors_bytes(header, b"".join(blobs))


# Model directories the core refuses, each for another reason: (name, what to do to a good one).
WEIGHT_FAULTS = {
    "bytes": b"not safetensors",
    "short": b"abc",
    "header": struct.pack("<Q", 4) + b"{{{{",
    "list": _safetensors_bytes([], b""),
    "entry": _safetensors_bytes({"decoder.bias": {"dtype": "F32", "shape": [2], "data_offsets": [0, 9]}}, bytes(8)),
    "stored": _safetensors_bytes(
        {"decoder.bias": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}, bytes(2)
    ),
    "range": _safetensors_bytes({"decoder.bias": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8)),
}
TENSOR_FAULTS = ["missing", "unexpected", "shape", "dtype", "nan"]
CARD_FAULTS: dict[str, dict[str, Any]] = {
    "arch": {"arch": "transformer"},
    "id": {"id": "no spaces, please"},
    "title": {"title": None},  # None: the field left out
    "layers": {"layers": 5},
    "hidden": {"hidden_size": 0},
    "metrics": {"metrics": {"validation": {"name": 1}}},
    "vocab": {"tokenizer": {"kind": "char", "vocab": ["<unk>", 5]}},
    "lowercase": {"tokenizer": {"kind": "char", "vocab": ["<unk>", "a"], "lowercase": "yes"}},
    "kind": {"tokenizer": {"kind": "bpe", "vocab": ["<unk>", "a"]}},
}
BROKEN = [f"weights-{k}" for k in WEIGHT_FAULTS] + [f"tensor-{k}" for k in TENSOR_FAULTS]
BROKEN += [f"card-{k}" for k in CARD_FAULTS]


def _broken(name: str, path: Path) -> Path:
    model = random_model("lstm", CHAR_VOCAB, hidden_size=4, model_id=name)
    save_model(model, path)
    kind, fault = name.split("-", 1)
    weights = path / "weights.safetensors"
    if kind == "weights":
        weights.write_bytes(WEIGHT_FAULTS[fault])
    elif kind == "tensor":
        params = {k: v.astype(np.float32) for k, v in model.params.items()}
        if fault == "missing":
            del params["decoder.bias"]
        elif fault == "unexpected":
            params["decoder.scale"] = np.ones(2, np.float32)
        elif fault == "shape":
            params["layers.0.weight_hh"] = params["layers.0.weight_hh"][:, :3].copy()
        elif fault == "dtype":
            params["decoder.bias"] = np.arange(len(CHAR_VOCAB), dtype=np.int32)
        elif fault == "nan":
            params["embedding.weight"][2, 1] = np.nan
        safetensors_numpy.save_file(params, str(weights))
    else:
        card = {**json.loads((path / "model.json").read_text()), **CARD_FAULTS[fault]}
        (path / "model.json").write_text(json.dumps({k: v for k, v in card.items() if v is not None}))
    return path


KIND_MODELS = {
    "random-classifier": lambda: random_model("gru", WORD_VOCAB, hidden_size=8, layers=2, tokenizer="word", seed=21,
                                              model_id="random-classifier", kind="classifier",
                                              classes=["negative", "neutral", "positive"]),
    "random-classifier-lstm": lambda: random_model("lstm", WORD_VOCAB, hidden_size=6, tokenizer="word", seed=22,
                                                   model_id="random-classifier-lstm", kind="classifier"),
    "random-forecaster": lambda: random_model("lstm", hidden_size=7, layers=2, seed=23, model_id="random-forecaster",
                                              kind="forecaster", normalisation=(40.0, 25.0)),
    "random-forecaster-peephole": lambda: random_model("peephole", hidden_size=5, seed=24, kind="forecaster",
                                                       model_id="random-forecaster-peephole"),
    "random-forecaster-rnn": lambda: random_model("rnn", hidden_size=6, layers=3, seed=25, kind="forecaster",
                                                  model_id="random-forecaster-rnn", normalisation=(-3.0, 0.5)),
}  # fmt: skip
SERIES = "20, 35 48; 40.5 25 12 20 36 50 41 26 13"


@dataclass
class Zoo:
    """Every model the engine is tried on: its directory (what the engine reads) and the core's model."""

    dirs: dict[str, Path]
    core: dict[str, Model]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Zoo:
    root = tmp_path_factory.mktemp("engine-models")
    dirs = {name: shipped_models_dir() / name for name in SHIPPED}
    core = {name: load_model(path) for name, path in dirs.items()}
    for case in MANIFEST["cases"]:  # torch's weights, through the importer, kept in float64
        name = f"golden-{case['name']}"
        weights = GOLDEN / f"{case['name']}.safetensors"
        nonlinearity = case.get("nonlinearity", "tanh") if case["kind"] == "RNN" else None
        model = import_model("pytorch", weights, MANIFEST["vocab"], "char", name, "<unk>", nonlinearity=nonlinearity)
        dirs[name] = save_model(model, root / name, dtype=np.float64)
        core[name] = load_model(dirs[name])
    for k, (arch, layers) in enumerate(RANDOM):
        name = f"random-{arch}-{layers}"
        model = random_model(arch, CHAR_VOCAB, hidden_size=7 + k, input_size=5, layers=layers, seed=k, model_id=name)
        dirs[name] = save_model(model, root / name, dtype=np.float64)
        core[name] = load_model(dirs[name])
    word = random_model("lstm", WORD_VOCAB, hidden_size=9, layers=2, tokenizer="word", seed=11, model_id="random-word")
    dirs["random-word"] = save_model(word, root / "random-word", dtype=np.float64)
    core["random-word"] = load_model(dirs["random-word"])
    half = random_model("gru", CHAR_VOCAB, hidden_size=12, layers=2, seed=12, model_id="random-f16")
    dirs["random-f16"] = save_model(half, root / "random-f16", dtype=np.float16)
    core["random-f16"] = load_model(dirs["random-f16"])
    bf = random_model("lstm", CHAR_VOCAB, hidden_size=10, layers=1, seed=13, model_id="random-bf16")
    dirs["random-bf16"] = save_model(bf, root / "random-bf16")
    (dirs["random-bf16"] / "weights.safetensors").write_bytes(_bf16_file(bf.params))
    core["random-bf16"] = load_model(dirs["random-bf16"])
    for name, model in KIND_MODELS.items():  # a classifier and forecasters, of more than one arch and depth
        dirs[name] = save_model(model(), root / name, dtype=np.float64)
        core[name] = load_model(dirs[name])
    no_unk = random_model("lstm", CHAR_VOCAB, model_id="random-no-unk")  # "<unk>" is then a token like any other
    no_unk.tokenizer.unk = None
    dirs["random-no-unk"] = save_model(no_unk, root / "random-no-unk", dtype=np.float64)
    core["random-no-unk"] = load_model(dirs["random-no-unk"])
    for name in BROKEN:
        dirs[name] = _broken(name, root / name)
    return Zoo(dirs, core)


@pytest.fixture(scope="module")
def engine(chromium: Any, zoo: Zoo) -> Iterator[Any]:
    with EngineServer(zoo.dirs) as server, engine_page(chromium, server) as pg:
        pg.loaded = set()
        yield pg


def loaded(engine: Any, model: str) -> None:
    if model not in engine.loaded:
        assert call(engine, "load", model) == {"value": model}
        engine.loaded.add(model)


def engine_doc(engine: Any, model: str, case: Case) -> dict[str, Any]:
    loaded(engine, model)
    answer = trace_in_page(engine, case.request(model))
    assert "error" not in answer, f"{model} {case.name}: the engine refused: {answer.get('error')}"
    return answer["value"]


def core_doc(model: Model, case: Case, digits: int | None = None) -> dict[str, Any]:
    """The core's document, at full precision unless `digits` is given (its rounding switched off)."""
    trace = nn_trace.run_trace(model, case.text, case.target, case.interventions, case.gradients)
    if digits is not None:
        return nn_document.document(trace)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(nn_document, "round_sig", lambda a, digits=7: np.asarray(a, dtype=np.float64))
        return nn_document.document(trace)


# ------------------------------------------------------------------------------------------ comparison
def describe(path: str) -> str:
    """`gradients.layers[0].hidden[7][3]` → words naming the loss, the step, the layer and the quantity."""
    m = re.fullmatch(r"gradients\.layers\[(\d+)\]\.(hidden|cell)\[(\d+)\]\[(\d+)\]", path)
    if m:
        l, q, t, k = m.groups()
        return f"‖∂L_{t}/∂{q[0]}_{k}‖ of layer {l}"
    m = re.fullmatch(r"steps\[(\d+)\]\.layers\[(\d+)\]\.(.+)", path)
    if m:
        t, l, q = m.groups()
        return f"step {t}, layer {l}, {q}"
    return path


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


STEP_VECTOR = re.compile(r"steps\[\d+\]\.layers\[\d+\]\..+|gradients\.params\.attribution")
TRIANGLE_ROW = re.compile(r"gradients\.layers\[\d+\]\.(?:hidden|cell)\[(\d+)\]")


class Comparison:
    """Every difference between the engine's document and the core's, each named by its path, with the
    tolerances above; `digits` (for rounded documents) allows one unit of the last digit besides."""

    def __init__(self, core: dict[str, Any], digits: int | None = None):
        self.core = core
        self.digits = digits
        self.losses = [s["loss"] for s in core["steps"]]
        params = (core["gradients"] or {}).get("params")
        self.param_loss = self.losses[params["step"]] if params else None

    def differences(self, ours: dict[str, Any]) -> list[str]:
        return self._walk(ours, self.core, "")

    def _walk(self, ours: Any, core: Any, path: str) -> list[str]:
        if isinstance(core, dict):
            if not isinstance(ours, dict) or list(ours) != list(core):
                keys = list(ours) if isinstance(ours, dict) else ours
                return [f"{describe(path)}: keys {keys} instead of {list(core)}"]
            return [d for k in core for d in self._walk(ours[k], core[k], f"{path}.{k}" if path else k)]
        if isinstance(core, list):
            if not isinstance(ours, list) or len(ours) != len(core):
                return [f"{describe(path)}: {ours!r:.80} instead of a list of {len(core)}"]
            if core and all(isinstance(x, float) for x in core):
                return self._numbers(ours, core, path, vector=True)
            pairs = enumerate(zip(ours, core, strict=True))
            return [d for k, (a, b) in pairs for d in self._walk(a, b, f"{path}[{k}]")]
        if isinstance(core, float):
            return self._numbers([ours], [core], path, vector=False)
        if ours != core or type(ours) is not type(core):
            return [f"{describe(path)}: {ours!r} instead of {core!r}"]
        return []

    def _rtol(self, path: str) -> float:
        """RTOL, or looser for the gradients of a loss near 0 (see LOSS_ATOL)."""
        m = TRIANGLE_ROW.match(path)
        loss = self.losses[int(m[1])] if m else self.param_loss if path.startswith("gradients.params") else None
        return RTOL + LOSS_ATOL / loss if loss else RTOL

    def _numbers(self, ours: list[Any], core: list[float], path: str, vector: bool) -> list[str]:
        if not all(_is_number(x) for x in ours):
            return [f"{describe(path)}: {ours!r:.80} holds something that is not a number"]
        a, b = np.asarray(ours, dtype=np.float64), np.asarray(core, dtype=np.float64)
        scale = np.abs(b)
        if vector and STEP_VECTOR.fullmatch(path):
            scale = np.maximum(scale, STEP_FLOOR * scale.max())
        allowed = self._rtol(path) * scale
        if path.endswith(".loss"):
            allowed += LOSS_ATOL
        if self.digits is not None:  # the two unrounded numbers may straddle a rounding boundary
            with np.errstate(divide="ignore"):
                unit = 10.0 ** (np.floor(np.log10(np.maximum(np.abs(a), np.abs(b)))) - (self.digits - 1))
            allowed += 1.0001 * np.nan_to_num(unit)
        bad = np.flatnonzero(~(np.abs(a - b) <= allowed))
        out = []
        for k in bad[:3]:
            where = f"{describe(path)}[{k}]" if vector else describe(path)
            off = f"off by {abs(a[k] - b[k]):.2g}, allowed {allowed[k]:.2g}"
            out.append(f"{where}: engine {a[k]!r} vs core {b[k]!r} ({off})")
        return out


def assert_same(ours: dict[str, Any], core: dict[str, Any], what: str, digits: int | None = None) -> None:
    problems = Comparison(core, digits).differences(ours)
    assert not problems, f"{what}: {len(problems)} difference(s):\n" + "\n".join(problems[:12])


# ---------------------------------------------------------------------------------------------- cases
def _gate_clamps(model: Model, T: int) -> list[dict[str, Any]]:
    """Three clamps on the first layer, two of them overlapping (the later wins where they meet), and one on
    the top layer."""
    gates, top, H = model.spec.gates, model.layers - 1, model.hidden_size
    return [
        {"gate": gates[0], "value": 0.0 if gates[0] != "candidate" else -0.5, "units": [0, H // 2], "start": 1},
        {"gate": gates[1], "value": 1.0, "layer": 0, "units": None, "start": 2, "stop": max(3, T // 2)},
        {"gate": gates[1], "value": 0.25, "layer": 0, "units": [1], "start": 2, "stop": 4},
        {"gate": gates[-1], "value": 0.5, "layer": top, "units": [H - 1], "stop": T - 1},
    ]


def _idle_clamps(model: Model, T: int) -> list[dict[str, Any]]:
    """An empty range and one that starts past the text: the core applies them to nothing with a notice."""
    gate = model.spec.gates[0]
    value = 0.0 if gate != "candidate" else -0.5
    return [{"gate": gate, "value": value, "start": 3, "stop": 3}, {"gate": gate, "value": value, "start": T + 2}]


def cases_for(name: str, model: Model) -> list[Case]:
    if model.kind == "forecaster":
        return forecaster_cases(model)
    tok = model.tokenizer
    card = model.card
    word = tok.kind == "word"
    text = card.get("example") or ("the keys to the cabinet are on the table" if word else "a cat sat on a mat, a cat")
    target = card.get("example_target") or next(t for t in tok.vocab if t != tok.unk and t.strip())
    if model.kind == "classifier" and target not in model.classes:
        target = model.classes[-1]
    unknown = "the zyzzyva are on the table ." if word else f"{text[:20]}€😀ß{text[-5:]}"
    n = len(tok.tokenize(text))
    gated = bool(model.spec.gates)
    clamps = _gate_clamps(model, n) if gated else []
    if name.startswith("shakespeare"):  # 1.3 MB of weights, 83 characters: two cases keep the test quick
        return [Case("example, target, clamps", text, target, clamps), Case("unknown tokens", unknown[:30])]
    return [
        Case("example and target", text, target),
        Case("unknown tokens, clamps", unknown, None, _gate_clamps(model, len(tok.tokenize(unknown))) if gated else []),
        Case("target and clamps", text, target, clamps),
        Case("one token, no loss", text.split()[0][:1] if not word else text.split()[0]),
        Case("no gradients", text, target, clamps, gradients=False),
        *(
            [Case("clamps that cover no step: applied to nothing, with notices", text, target, _idle_clamps(model, n))]
            if gated
            else []
        ),
    ]


def forecaster_cases(model: Model) -> list[Case]:
    text = model.card.get("example") or SERIES
    n = len(model.tokenizer.tokenize(text))
    gated = bool(model.spec.gates)
    clamps = _gate_clamps(model, n) if gated else []
    return [
        Case("example and a target value", text, "31.5"),
        Case("signs, exponents, separators", "-3, 4.25e1;7 ,\t.5\u3000+12", None, clamps),
        Case("target and clamps", text, "-7", clamps),
        Case("one value, no loss", "12"),
        Case("no gradients", text, "30", clamps, gradients=False),
    ]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_matches_the_core(engine: Any, zoo: Zoo, name: str) -> None:
    model = zoo.core[name]
    for case in cases_for(name, model):
        assert_same(engine_doc(engine, name, case), core_doc(model, case), f"{name}, {case.name}")


@pytest.mark.parametrize("name", [f"random-{a}-{l}" for a, l in RANDOM] + ["random-word", *KIND_MODELS])
def test_every_arch_and_depth_matches_the_core(engine: Any, zoo: Zoo, name: str) -> None:
    model = zoo.core[name]
    for case in cases_for(name, model):
        assert_same(engine_doc(engine, name, case), core_doc(model, case), f"{name}, {case.name}")


@pytest.mark.parametrize("name", ["random-f16", "random-bf16"])
def test_half_precision_weights_are_widened(engine: Any, zoo: Zoo, name: str) -> None:
    """F16 and BF16 files (imported models carry them) are read into the same float64 numbers."""
    model = zoo.core[name]
    for case in cases_for(name, model)[:3]:
        assert_same(engine_doc(engine, name, case), core_doc(model, case), f"{name}, {case.name}")


def _torch_name_to_ours(case: dict[str, Any], torch_name: str) -> str:
    e, _, o = case["names"]
    prefix, _, rest = torch_name.partition(".")
    if prefix == e:
        return "embedding.weight"
    if prefix == o:
        return f"decoder.{rest}"
    kind, _, layer = rest.rpartition("_l")
    return f"layers.{layer}.{kind}"


def _close(ours: Any, torch: Any, what: str) -> None:
    ours = np.asarray([np.nan if x is None else x for x in np.ravel(np.asarray(ours, dtype=object))], dtype=float)
    np.testing.assert_allclose(ours, np.ravel(torch), rtol=1e-9, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("case", MANIFEST["cases"], ids=lambda c: c["name"])
def test_torch_golden_vectors(engine: Any, zoo: Zoo, case: dict[str, Any]) -> None:
    """On torch's own weights the engine agrees with the core and with what torch autograd computed."""
    name = f"golden-{case['name']}"
    request = Case("golden", MANIFEST["text"], MANIFEST["target"], case["clamps"])
    doc = engine_doc(engine, name, request)
    assert_same(doc, core_doc(zoo.core[name], request), f"{name}, the core")
    with np.load(GOLDEN / f"{case['name']}.npz", allow_pickle=False) as npz:
        golden = {k: npz[k] for k in npz.files}
    vocab, steps = MANIFEST["vocab"], doc["steps"]
    T = len(steps)
    for t, step in enumerate(steps):
        for top in step["top"]:
            _close(top["p"], golden["probs"][t, vocab.index(top["token"])], f"{name} step {t} p({top['token']!r})")
        _close(step["loss"], golden["losses"][t], f"{name} step {t} loss")
    for l in range(case["layers"]):
        layer = [s["layers"][l] for s in steps]
        _close([q["hidden"] for q in layer], golden[f"hidden.{l}"], f"{name} layer {l} h")
        if f"cell.{l}" in golden:
            _close([q["cell"] for q in layer], golden[f"cell.{l}"], f"{name} layer {l} c")
        for key in (k for k in golden if k.startswith(f"gate.{l}.")):
            gate = key.rsplit(".", 1)[1]
            _close([q["gates"][gate] for q in layer], golden[key], f"{name} layer {l} gate {gate}")
        rows = doc["gradients"]["layers"][l]
        for quantity, key in (("hidden", "triangle_hidden"), ("cell", "triangle_cell")):
            if quantity == "cell" and case["kind"] != "LSTM":
                continue
            tri = np.full((T, T), np.nan)
            for t, row in enumerate(rows[quantity]):
                tri[t, : t + 1] = row
            _close(tri, golden[key][l], f"{name} layer {l} ‖∂L/∂{quantity[0]}‖")
    # torch's parameter gradients, as norms per gate block like the document's (what torch has: a model
    # without biases has none; a tied embedding's gradient is the sum of its two uses, which the
    # document reports apart, so those two are left to the comparison with the core)
    prefix = "param_grad."
    grads = {_torch_name_to_ours(case, k[len(prefix) :]): v for k, v in golden.items() if k.startswith(prefix)}
    params = doc["gradients"]["params"]
    H = zoo.core[name].hidden_size
    for l, blocks in enumerate(params["layers"]):
        for k, (block, norms) in enumerate(blocks.items()):
            rows = slice(k * H, (k + 1) * H)
            for key in ("weight_ih", "weight_hh"):
                _close(norms[key], np.linalg.norm(grads[f"layers.{l}.{key}"][rows]), f"{name} {block} {key}")
            if f"layers.{l}.bias_ih" in grads:
                bias = np.concatenate([grads[f"layers.{l}.bias_ih"][rows], grads[f"layers.{l}.bias_hh"][rows]])
                _close(norms["bias"], np.linalg.norm(bias), f"{name} {block} bias")
    if not case.get("tied"):
        _close(params["embedding"], np.linalg.norm(grads["embedding.weight"]), f"{name} embedding")
    if "decoder.bias" in grads:
        decoder = np.concatenate([grads["decoder.weight"].ravel(), grads["decoder.bias"]])
        _close(params["decoder"], np.linalg.norm(decoder), f"{name} decoder")


# ------------------------------------------------------------------------------------ the rounded doc
@pytest.mark.parametrize("name", ["recall-lstm", "lecture-gru", "random-cifg-3", "golden-rnn-2"])
def test_the_rounded_document_is_the_servers(engine: Any, zoo: Zoo, name: str) -> None:
    """By default the engine rounds as the server does: the same JSON, but for a last digit where the two
    unrounded numbers straddle a rounding boundary."""
    model = zoo.core[name]
    case = cases_for(name, model)[2]
    ours = trace_in_page(engine, {**case.request(name), "digits": 7})["value"]
    assert_same(ours, core_doc(model, case, digits=7), f"{name}, rounded", digits=7)


def test_round_sig_is_the_cores(engine: Any) -> None:
    """Bit for bit, from 10⁻⁸⁰ to 10¹², ties (half to even) included. (Beyond 10⁻⁹⁹ the power of ten NumPy's
    vectorised pow gives is not always the nearest double, so the last digit may differ there.)"""
    rng = np.random.default_rng(0)
    values = np.concatenate([
        rng.standard_normal(3000) * 10.0 ** rng.integers(-80, 12, 3000),
        [0.0, -0.0, 1.0, 0.5, 1.5, 2.5, -2.5, 0.12345675, 1234567.5, 2345678.5, -2.5e-8, 123456789012.0],
    ])  # fmt: skip
    for digits in (7, 3):
        ours = engine.evaluate("([v, d]) => window.engineTest.roundSig(v, d)", [values.tolist(), digits])
        core = nn_document.round_sig(values, digits)
        bad = [(v, a, b) for v, a, b in zip(values.tolist(), ours, core.tolist(), strict=True) if a != b]
        assert not bad, f"round to {digits} digits: (value, engine, core) {bad[:5]}"


# ---------------------------------------------------------------------------------------- tokenizers
def _assigned_code_points() -> list[str]:
    """Every code point Python's Unicode database assigns (Chromium's may know newer ones) but surrogates."""
    return [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) not in ("Cn", "Cs")]


def test_the_tokenizers_split_as_the_core(engine: Any, zoo: Zoo) -> None:
    chars = _assigned_code_points()
    # every character after a letter's apostrophe (is it a letter?) and after a digit (is it a digit?)
    texts = ["".join(f"a'{ch}1{ch} " for ch in chars[k : k + 8000]) for k in range(0, len(chars), 8000)]
    texts += ["It's 10 o'clock: don't_stop—naïve café, ÆSIR Straße ½ ² 𝟙𝟚 😀👍🏽 \u00a0\u2003x\x1cy\ufeffz"]
    for name in ("lecture-lstm", "recall-lstm"):  # a lowercasing word tokenizer and a char tokenizer
        tok = zoo.core[name].tokenizer
        ours = engine.evaluate("([c, t]) => window.engineTest.tokenize(c, t)", [{"tokenizer": tok.config()}, texts])
        for text, joined in zip(texts, ours, strict=True):
            split, core = joined.split("\uffff"), tok.split(text)
            if split != core:
                k = next((k for k, (a, b) in enumerate(zip(split, core, strict=False)) if a != b), len(core))
                pytest.fail(f"{name} splits at piece {k}: engine {split[k : k + 3]}, core {core[k : k + 3]}")
    everything = "".join(chars)
    assert engine.evaluate("(t) => window.engineTest.lower(t)", everything) == everything.lower()


# ----------------------------------------------------------------------------------- refused requests
BAD_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("recall-lstm", {"text": ""}),
    ("recall-lstm", {"text": "c12=", "target": "cc"}),
    ("lecture-lstm", {"text": "the keys", "target": "two words"}),  # a rare word is now a target of pieces
    ("recall-rnn", {"text": "c12=", "interventions": [{"gate": "forget", "value": 0}]}),
    ("recall-lstm", {"text": "c12=", "interventions": {"gate": "forget"}}),
    ("recall-lstm", {"text": "c12=", "interventions": ["forget"]}),
    ("recall-lstm", {"text": "c12=", "interventions": [{"gate": "forget", "value": 0, "colour": "red"}]}),
    ("recall-lstm", {"text": "c12=", "interventions": [{"gate": "reset", "value": 0}]}),
    ("recall-lstm", {"text": "c12=", "interventions": [{"gate": "forget", "value": "0"}]}),
    ("recall-lstm", {"text": "c12=", "interventions": [{"gate": "forget", "value": 1.5}]}),
    ("recall-lstm", {"text": "c12=", "interventions": [{"gate": "candidate", "value": -2}]}),
    ("recall-lstm", {"text": "c12=", "interventions": [{"gate": "forget", "value": 0, "layer": 1}]}),
    ("recall-lstm", {"text": "c12=", "interventions": [{"gate": "forget", "value": 0, "layer": "0"}]}),
    ("recall-lstm", {"text": "c12=", "interventions": [{"gate": "forget", "value": 0, "units": []}]}),
    ("recall-lstm", {"text": "c12=", "interventions": [{"gate": "forget", "value": 0, "units": [3, 16]}]}),
    ("recall-lstm", {"text": "c12=", "interventions": [{"gate": "forget", "value": 0, "units": [0.5]}]}),
    ("recall-lstm", {"text": "c12=", "interventions": [{"gate": "forget", "value": 0, "start": -1}]}),
    ("recall-lstm", {"text": "c12=", "interventions": [{"gate": "forget", "value": 0}, {"value": 0.5}]}),
    ("random-gru-2", {"text": "abc", "interventions": [{"gate": "output", "value": 0}]}),
    ("random-forecaster", {"text": "1, 2, ten"}),  # letters to a forecaster
    ("random-forecaster", {"text": "1, 2, ١٢"}),  # digits Python's float() would read, but not ASCII
    ("random-forecaster", {"text": "1 2 3e13"}),
    ("random-forecaster", {"text": "1 2", "target": "3 4"}),
    ("random-forecaster", {"text": " ; , "}),
    ("random-classifier", {"text": "the cat sat", "target": "cat"}),
]


def test_bad_requests_are_refused_with_the_cores_words(engine: Any, zoo: Zoo) -> None:
    for name, body in BAD_REQUESTS:
        model = zoo.core[name]
        with pytest.raises(TraceInputError) as refused:
            nn_trace.run_trace(model, body["text"], body.get("target"), body.get("interventions"))
        loaded(engine, name)
        answer = trace_in_page(engine, {"model": name, **body})
        expected = {"code": refused.value.code, "message": refused.value.message}
        got = {k: answer.get("error", {}).get(k) for k in expected}
        assert got == expected, f"{name} {body}"


def test_a_model_without_an_unknown_token_refuses_unknown_text(engine: Any, zoo: Zoo) -> None:
    with pytest.raises(TraceInputError) as refused:
        nn_trace.run_trace(zoo.core["random-no-unk"], "abc!")
    loaded(engine, "random-no-unk")
    answer = trace_in_page(engine, {"model": "random-no-unk", "text": "abc!"})
    assert answer["error"] == {"code": "unknown_token", "message": refused.value.message, "name": "EngineError"}


# ---------------------------------------------------------------------------------------- model files
@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_model_directory_is_refused_in_the_cores_words(engine: Any, zoo: Zoo, name: str) -> None:
    with pytest.raises(ModelFileError) as refused:
        load_model(zoo.dirs[name])
    answer = call(engine, "load", name)
    assert answer.get("error") == {"code": "model_file", "message": str(refused.value), "name": "EngineError"}


# ------------------------------------------------------------------------------------------ the worker
def test_a_newer_trace_supersedes_an_older_one_on_its_lane(engine: Any, zoo: Zoo) -> None:
    """While the first trace's gradients compute, two newer ones arrive on its lane and one on another lane:
    the first stops between two steps of its sweep, the second never starts, the others finish."""
    text = zoo.core["shakespeare-lstm"].card["example"]
    loaded(engine, "shakespeare-lstm")
    loaded(engine, "recall-lstm")
    base = {"model": "shakespeare-lstm", "gradients": True, "digits": None}
    requests = [
        {**base, "text": text},
        {**base, "text": text[:40]},
        {"model": "recall-lstm", "text": "c123=", "target": "c", "lane": "compare", "digits": None},
        {**base, "text": text[:20], "target": "a"},
    ]
    answers = call(engine, "burst", requests)["value"]
    assert [a.get("error", {}).get("code") for a in answers] == ["superseded", "superseded", None, None], answers
    for request, answer in zip(requests[2:], answers[2:], strict=True):
        case = Case("burst", request["text"], request.get("target"))
        assert_same(answer["value"], core_doc(zoo.core[request["model"]], case), f"{request['model']} after a burst")


# ------------------------------------------------------------------------------------------ the modules
TOP_LEVEL = re.compile(r"^(?:export )?(?:const|let|class|(?:async )?function\*?) ?\*? ?([A-Za-z_$][\w$]*)", re.M)


def test_each_top_level_name_is_declared_once_across_the_engine() -> None:
    """A page opened from disk cannot start a module worker (its origin is null), only a classic one from a
    blob: so an exported page runs the engine's modules concatenated, without their import and export
    lines. That works while no two modules declare the same top-level name."""
    seen: dict[str, str] = {}
    for path in sorted(ENGINE_DIR.glob("*.js")):
        for name in TOP_LEVEL.findall(path.read_text(encoding="utf-8")):
            assert name not in seen, f"{name} is declared in both {seen[name]} and {path.name}"
            seen[name] = path.name
    assert {"stepForward", "stepBackward", "runTrace", "buildDocument", "loadModel"} <= set(seen)
