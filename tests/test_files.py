"""Model directories, weight validation, never unpickling, and importing PyTorch / Keras weights."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from app.nn import ModelFileError, load_model, load_zoo, random_model, run_trace, save_model
from app.nn.importers import _keras_gru_order, import_model, import_to_dir


def test_round_trip(tmp_path: Path) -> None:
    model = random_model("peephole", layers=2, hidden_size=6, model_id="peep")
    save_model(model, tmp_path / "peep", dtype=np.float64)
    loaded = load_model(tmp_path / "peep")
    assert loaded.card["tokenizer"]["vocab"] == model.vocab
    for name, a in model.params.items():
        np.testing.assert_array_equal(loaded.params[name], a)
    a, b = run_trace(model, "same numbers"), run_trace(loaded, "same numbers")
    np.testing.assert_array_equal(a.probs, b.probs)


def write(tmp_path: Path, card_change: dict | None = None, tensor_change: dict | None = None) -> Path:
    model = random_model("lstm", hidden_size=4, model_id="m")
    d = save_model(model, tmp_path / "m")
    if card_change:
        card = json.loads((d / "model.json").read_text())
        card.update(card_change)
        (d / "model.json").write_text(json.dumps(card))
    if tensor_change is not None:
        tensors = {k: v.astype(np.float32) for k, v in model.params.items()}
        for k, v in tensor_change.items():
            if v is None:
                tensors.pop(k)
            else:
                tensors[k] = v
        save_file(tensors, str(d / "weights.safetensors"))
    return d


@pytest.mark.parametrize(
    ("card", "tensors", "message"),
    [
        (None, {"layers.0.weight_hh": np.zeros((16, 5), np.float32)},
         r"'layers.0.weight_hh' has shape \(16, 5\); expected \(16, 4\)"),
        (None, {"decoder.bias": None}, r"missing tensor 'decoder.bias' \(expected shape \(30,\)\)"),
        (None, {"decoder.bias": np.zeros(30, np.int32)}, "has dtype int32"),
        (None, {"decoder.bias": np.full(30, np.nan, np.float32)}, "NaN or infinite"),
        (None, {"extra": np.zeros(3, np.float32)}, "unexpected tensor 'extra'"),
        ({"arch": "transformer"}, None, r"unknown arch 'transformer'"),
        ({"hidden_size": 0}, None, "'hidden_size' must be a positive integer"),
        ({"layers": 5}, None, "1 to 4 layers"),
        ({"tokenizer": {"kind": "char", "vocab": ["<unk>", "a"], "unk": "<unk>"}}, None,
         r"'embedding.weight' has shape \(30, 6\); expected \(2, 6\) \(the vocabulary has 2 entries\)"),
    ],
)  # fmt: skip
def test_bad_model_directories_name_the_problem(tmp_path: Path, card, tensors, message: str) -> None:
    d = write(tmp_path, card, tensors)
    with pytest.raises(ModelFileError, match=message):
        load_model(d)


def test_bad_json_and_garbage_weights(tmp_path: Path) -> None:
    d = write(tmp_path)
    (d / "weights.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelFileError, match="not readable as a safetensors file"):
        load_model(d)
    (d / "model.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load_model(d)
    with pytest.raises(ModelFileError, match=r"no model\.json here"):
        load_model(tmp_path)


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".pkl"])
def test_pickle_files_are_refused_with_a_recipe(tmp_path: Path, suffix: str) -> None:
    f = tmp_path / f"weights{suffix}"
    f.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ModelFileError, match=r"safetensors\.torch import save_file"):
        import_model("pytorch", f, ["a"], "char", "x")


def test_npz_never_unpickles(tmp_path: Path) -> None:
    f = tmp_path / "w.npz"
    np.savez(f, obj=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(ModelFileError, match="not readable"):
        import_model("pytorch", f, ["a"], "char", "x")


def test_zoo_skips_broken_models_and_keeps_the_rest(tmp_path: Path) -> None:
    save_model(random_model("gru", model_id="good"), tmp_path / "good")
    bad = save_model(random_model("lstm", model_id="bad"), tmp_path / "bad")
    (bad / "weights.safetensors").write_bytes(b"nope")
    zoo = load_zoo([tmp_path], include_shipped=False)
    assert list(zoo.models) == ["good"]
    assert zoo.failed[0]["path"].endswith("bad") and "safetensors" in zoo.failed[0]["error"]


# -------------------------------------------------------------------------------------------- importers
def torch_style(model, names=("emb", "rnn", "fc")) -> dict[str, np.ndarray]:
    e, r, o = names
    out = {f"{e}.weight": model.params["embedding.weight"], f"{o}.weight": model.params["decoder.weight"],
           f"{o}.bias": model.params["decoder.bias"]}  # fmt: skip
    for l in range(model.layers):
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            out[f"{r}.{kind}_l{l}"] = model.params[f"layers.{l}.{kind}"]
    return out


@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn"])
def test_pytorch_import_round_trip_through_the_cli_path(tmp_path: Path, arch: str) -> None:
    model = random_model(arch, layers=2, hidden_size=6, input_size=6)  # I == H: shapes alone can't tell
    save_file(torch_style(model, ("model.tok_emb", "model.core", "model.lm_head")), str(tmp_path / "w.safetensors"))
    out = import_to_dir(tmp_path / "out", fmt="pytorch", weights=tmp_path / "w.safetensors", vocab=model.vocab,
                        tokenizer="char", model_id="mine", unk="<unk>")  # fmt: skip
    loaded = load_model(out)
    assert loaded.arch == arch and loaded.layers == 2
    np.testing.assert_allclose(run_trace(loaded, "hello").probs, run_trace(model, "hello").probs, rtol=1e-12)


def test_pytorch_import_from_npz(tmp_path: Path) -> None:
    model = random_model("lstm", hidden_size=5)
    np.savez(tmp_path / "w.npz", **torch_style(model))
    loaded = import_model("pytorch", tmp_path / "w.npz", model.vocab, "char", "x", unk="<unk>")
    np.testing.assert_allclose(loaded.params["layers.0.weight_hh"], model.params["layers.0.weight_hh"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rnn.weight_ih_l0_reverse": np.zeros((20, 6))}, "bidirectional"),
        ({"rnn.weight_hr_l0": np.zeros((3, 5))}, "proj_size"),
        ({"other.weight_ih_l0": np.zeros((20, 6))}, "ambiguous"),
        ({"fc.bias": None}, "linear head"),
        ({"emb.weight": None}, "no embedding"),
        ({"rnn.bias_hh_l0": None}, "bias=False"),
    ],
)
def test_pytorch_import_errors_say_what_was_found(tmp_path: Path, change: dict, message: str) -> None:
    model = random_model("lstm", hidden_size=5)
    tensors = torch_style(model)
    for k, v in change.items():
        if v is None:
            tensors.pop(k)
        else:
            tensors[k] = v
    save_file(tensors, str(tmp_path / "w.safetensors"))
    with pytest.raises(ModelFileError, match=message):
        import_model("pytorch", tmp_path / "w.safetensors", model.vocab, "char", "x", unk="<unk>")


def keras_style(model) -> dict[str, np.ndarray]:
    H = model.hidden_size
    out = {"embedding/embeddings": model.params["embedding.weight"]}
    for l in range(model.layers):
        p = model.layer(l)
        w_ih, w_hh, b_ih, b_hh = p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"]
        if model.arch == "gru":
            # our r, z, n → Keras z, r, h (the same swap of the first two blocks)
            w_ih, w_hh = _keras_gru_order(w_ih, H), _keras_gru_order(w_hh, H)
            bias = np.stack([_keras_gru_order(b_ih, H), _keras_gru_order(b_hh, H)])
        else:
            bias = b_ih + b_hh
        name = f"{model.arch}_{l}/cell"
        out[f"{name}/kernel"], out[f"{name}/recurrent_kernel"], out[f"{name}/bias"] = w_ih.T, w_hh.T, bias
    out["dense/kernel"], out["dense/bias"] = model.params["decoder.weight"].T, model.params["decoder.bias"]
    return out


@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn"])
def test_keras_import(tmp_path: Path, arch: str) -> None:
    model = random_model(arch, layers=2, hidden_size=5)
    np.savez(tmp_path / "k.npz", **keras_style(model))
    loaded = import_model("keras", tmp_path / "k.npz", model.vocab, "char", "k", unk="<unk>")
    np.testing.assert_allclose(run_trace(loaded, "keras").probs, run_trace(model, "keras").probs, rtol=1e-12)


def test_keras_gru_without_reset_after_is_refused(tmp_path: Path) -> None:
    model = random_model("gru", hidden_size=5)
    tensors = keras_style(model)
    tensors["gru_0/cell/bias"] = np.zeros(15)
    np.savez(tmp_path / "k.npz", **tensors)
    with pytest.raises(ModelFileError, match="reset_after=True"):
        import_model("keras", tmp_path / "k.npz", model.vocab, "char", "k", unk="<unk>")
