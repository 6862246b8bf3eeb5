"""Importing PyTorch and Keras weights: right, or refused with a message in the user's terms.

The files under tests/golden/ were written by real PyTorch (make_torch_golden.py) and real Keras 3
(make_keras_golden.py); neither is needed to run these tests. Each refusal here is one of issue 10's
reproductions: the bad file, the message, and that nothing was written.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from app.nn import Model, ModelFileError, load_model, random_model, run_trace
from app.nn.importers import _keras_gru_order, import_model, import_to_dir, read_vocab

GOLDEN = Path(__file__).resolve().parent / "golden"
KERAS = GOLDEN / "keras"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())
VOCAB, TEXT = MANIFEST["vocab"], MANIFEST["text"]


def torch_style(model: Model, names: tuple[str, str, str] = ("emb", "rnn", "fc")) -> dict[str, np.ndarray]:
    """A model's parameters under the names an nn.Module's state_dict gives them."""
    e, r, o = names
    out = {f"{e}.weight": model.params["embedding.weight"], f"{o}.weight": model.params["decoder.weight"],
           f"{o}.bias": model.params["decoder.bias"]}  # fmt: skip
    for l in range(model.layers):
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            out[f"{r}.{kind}_l{l}"] = model.params[f"layers.{l}.{kind}"]
    return out


def save(tmp_path: Path, tensors: dict[str, np.ndarray], name: str = "w.safetensors") -> Path:
    path = tmp_path / name
    if name.endswith(".npz"):
        np.savez(path, **tensors)
    else:
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path))
    return path


def imported(path: Path, vocab: list[str] | None = None, fmt: str = "pytorch", **kwargs) -> Model:
    return import_model(fmt, path, vocab or VOCAB, "char", "x", unk="<unk>", **kwargs)


def same_numbers(a: Model, b: Model, text: str = "hello", rtol: float = 1e-12) -> None:
    np.testing.assert_allclose(run_trace(a, text).probs, run_trace(b, text).probs, rtol=rtol)


# -- PyTorch: what works ----------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn"])
def test_pytorch_round_trip_through_a_model_directory(tmp_path: Path, arch: str) -> None:
    model = random_model(arch, layers=2, hidden_size=6, input_size=6)  # I == H: shapes alone can't tell
    path = save(tmp_path, torch_style(model, ("model.tok_emb", "model.core", "model.lm_head")))
    out = import_to_dir(tmp_path / "out", fmt="pytorch", weights=path, vocab=model.vocab, tokenizer="char",
                        model_id="mine", unk="<unk>", nonlinearity="tanh" if arch == "rnn" else None)  # fmt: skip
    loaded = load_model(out)
    assert loaded.arch == arch and loaded.layers == 2
    same_numbers(loaded, model)


def test_pytorch_from_npz(tmp_path: Path) -> None:
    model = random_model("lstm", hidden_size=5)
    same_numbers(imported(save(tmp_path, torch_style(model), "w.npz"), model.vocab), model)


def test_a_relu_rnn_needs_its_nonlinearity_said() -> None:
    """A ReLU nn.RNN imported as tanh was off by 6 in h: the state_dict does not say, so the user must."""
    path = GOLDEN / "rnn-relu-2.safetensors"
    with pytest.raises(ModelFileError, match="--nonlinearity tanh or --nonlinearity relu"):
        imported(path)
    relu = imported(path, nonlinearity="relu")
    assert relu.arch == "irnn"
    with np.load(GOLDEN / "rnn-relu-2.npz") as golden:
        np.testing.assert_allclose(run_trace(relu, TEXT).probs, golden["probs"], rtol=1e-9)
        tanh = run_trace(imported(path, nonlinearity="tanh"), TEXT).probs
        assert np.abs(tanh - golden["probs"]).max() > 0.01  # the wrong guess would have been visibly wrong
    with pytest.raises(ModelFileError, match="--nonlinearity is for a plain RNN; these are the weights of a LSTM"):
        imported(GOLDEN / "lstm-1.safetensors", nonlinearity="relu")


@pytest.mark.parametrize(
    ("case", "note"),
    [
        ("lstm-bf16", None),
        ("gru-nobias", "bias=False: the recurrent biases are zero"),
        ("lstm-tied", "the output layer is tied to the embedding (decoder.weight)"),
        ("lstmcell-1", "an nn.*Cell"),
    ],
)
def test_layouts_users_expect_are_imported_not_refused(case: str, note: str | None) -> None:
    """bf16, bias=False, a tied head saved once, an nn.LSTMCell: exact against torch (tests/test_torch_parity.py
    checks every gate and gradient); here, that the card says what was assumed."""
    model = imported(GOLDEN / f"{case}.safetensors")
    with np.load(GOLDEN / f"{case}.npz") as golden:
        np.testing.assert_allclose(run_trace(model, TEXT).probs, golden["probs"], rtol=1e-9)
    if note:
        assert any(note in n for n in model.card["provenance"]["notes"]), model.card["provenance"]
        assert note[1:] in model.card["description"]


def test_a_tied_head_saved_twice_and_a_head_without_bias(tmp_path: Path) -> None:
    model = random_model("lstm", hidden_size=6, input_size=6)
    model.params["decoder.weight"] = model.params["embedding.weight"].copy()
    model.params["decoder.bias"] = np.zeros(len(model.vocab))
    tensors = torch_style(model)
    del tensors["fc.bias"]
    loaded = imported(save(tmp_path, tensors), model.vocab)  # emb.weight and fc.weight, equal: tied
    assert any("tied" in n for n in loaded.card["provenance"]["notes"])
    same_numbers(loaded, model)
    tensors["fc.weight"] = tensors["fc.weight"] + 0.1  # two different bias-less (V, H) matrices: which is which?
    with pytest.raises(ModelFileError, match="cannot tell the embedding from the output layer"):
        imported(save(tmp_path, tensors), model.vocab)
    other = random_model("lstm", hidden_size=6, input_size=4)
    other.params["decoder.bias"] = np.zeros(len(other.vocab))
    tensors = torch_style(other)
    del tensors["fc.bias"]
    loaded = imported(save(tmp_path, tensors), other.vocab)
    assert "the output layer (fc.weight) has no bias" in loaded.card["provenance"]["notes"]
    same_numbers(loaded, other)


def test_an_ignored_tensor_is_left_out_on_purpose(tmp_path: Path) -> None:
    model = random_model("lstm", hidden_size=5)
    tensors = {**torch_style(model), "drop.mask": np.ones(5)}
    with pytest.raises(ModelFileError, match=r"drop\.mask \(5,\)"):
        imported(save(tmp_path, tensors), model.vocab)
    same_numbers(imported(save(tmp_path, tensors), model.vocab, ignore=["drop.*"]), model)
    with pytest.raises(ModelFileError, match=re.escape("--ignore 'nothing.*' matches no tensor")):
        imported(save(tmp_path, tensors), model.vocab, ignore=["drop.*", "nothing.*"])


# -- PyTorch: what is refused -----------------------------------------------------------------------------
def _changed(model: Model, change: dict) -> dict[str, np.ndarray]:
    tensors = torch_style(model)
    for k, v in change.items():
        if v is None:
            tensors.pop(k)
        else:
            tensors[k] = v
    return tensors


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # an nn.LayerNorm before the head was dropped silently: probabilities off by 0.29
        ({"ln.weight": np.ones(5), "ln.bias": np.zeros(5)}, "parts the app cannot run: ln.bias (5,), ln.weight (5,)"),
        ({"rnn.weight_ih_l0_reverse": np.zeros((20, 6))}, "bidirectional"),
        ({"rnn.weight_hr_l0": np.zeros((3, 5))}, "proj_size"),
        ({"other.weight_ih_l0": np.zeros((20, 6))}, "ambiguous file: 2 recurrent modules (other, rnn)"),
        ({"rnn.weight_hh_l0_raw": np.zeros((20, 5))}, "rnn.weight_hh_l0_raw (20, 5)"),  # weight drop: unused
        ({"fc.bias": None, "fc.weight": None}, "found no output layer: an nn.Linear(5, vocabulary)"),
        ({"emb.weight": None}, "found no embedding: an nn.Embedding(vocabulary, 6)"),
        ({"rnn.bias_hh_l0": None}, "layer 0 has rnn.bias_ih_l0 but no bias_hh"),
        ({"rnn.weight_hh_l0": np.zeros((20, 4))}, "rnn.weight_hh_l0: shape (20, 4) is not that of an LSTM"),
        ({"rnn.bias_ih_l0": np.zeros(19)},
         "rnn.bias_ih_l0 has shape (19,); layer 0 of a 1-layer nn.LSTM of hidden size 5 needs (20,)"),
        ({"rnn.weight_ih_l0": None}, "layer 0: no rnn.weight_ih_l0 in the file"),
        ({"fc.weight": np.zeros((30, 5)), "fc2.weight": np.zeros((30, 5)), "fc2.bias": np.zeros(30)},
         "2 candidate output layers"),
    ],
)  # fmt: skip
def test_pytorch_refusals_say_what_was_found(tmp_path: Path, change: dict, message: str) -> None:
    model = random_model("lstm", hidden_size=5)
    with pytest.raises(ModelFileError) as err:
        imported(save(tmp_path, _changed(model, change)), model.vocab)
    assert message in str(err.value)


def test_an_lstmcell_state_dict_imports_and_two_cells_are_refused(tmp_path: Path) -> None:
    model = random_model("lstm", hidden_size=5)
    cell = {k.replace("_l0", "").replace("rnn.", "cell."): v for k, v in torch_style(model).items()}
    same_numbers(imported(save(tmp_path, cell), model.vocab), model)
    two = {**cell, **{k.replace("cell.", "cell2."): v for k, v in cell.items() if k.startswith("cell.")}}
    with pytest.raises(ModelFileError, match=r"2 recurrent modules \(cell, cell2\)"):
        imported(save(tmp_path, two), model.vocab)


def test_five_layers_are_refused_in_the_users_terms(tmp_path: Path) -> None:
    model = random_model("gru", hidden_size=4, input_size=4, layers=4)
    tensors = torch_style(model)
    for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        tensors[f"rnn.{kind}_l4"] = tensors[f"rnn.{kind}_l3"]
    with pytest.raises(ModelFileError, match=r"^5 layers: the app runs 1 to 4$"):
        imported(save(tmp_path, tensors), model.vocab)


@pytest.mark.parametrize(
    ("vocab", "message"),
    [
        ([*VOCAB, "x", "y"], "your vocabulary has 9 entries but the embedding has 7 rows"),
        (VOCAB[:-1], "your vocabulary has 6 entries but the embedding has 7 rows"),
        ([], "the vocabulary is empty"),
        (["<unk>", "a", "a", "b", "c", "d", "e"], "vocabulary: the vocabulary lists 'a' twice"),
    ],
)
def test_a_vocabulary_that_does_not_fit_is_named(vocab: list[str], message: str) -> None:
    with pytest.raises(ModelFileError, match=f"^{message}$"):
        import_model("pytorch", GOLDEN / "lstm-1.safetensors", vocab, "char", "x")


@pytest.mark.parametrize("model_id", ["../x", "/tmp/abs", "a/b", "..", ".hidden", "", "a" * 101])
def test_an_id_that_would_write_outside_out_is_refused(tmp_path: Path, model_id: str) -> None:
    with pytest.raises(ModelFileError, match="must be 1 to 100 letters, digits"):
        import_to_dir(tmp_path / "out", fmt="pytorch", weights=GOLDEN / "lstm-1.safetensors", vocab=VOCAB,
                      tokenizer="char", model_id=model_id)  # fmt: skip
    assert not any(tmp_path.rglob("model.json"))


# -- vocabulary files -------------------------------------------------------------------------------------
def test_a_vocabulary_may_be_a_token_to_index_object(tmp_path: Path) -> None:
    path = tmp_path / "v.json"
    path.write_text(json.dumps({t: i for i, t in reversed(list(enumerate(VOCAB)))}))
    assert read_vocab(path) == VOCAB


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the vocabulary file is empty"),
        ("  \n", "the vocabulary file is empty"),
        ("[]", "the vocabulary is empty"),
        ('{"a": 0, "b": 2}', "the indices must be 0 to 1, each once"),
        ('{"a": 0, "b": 0}', "the indices must be 0 to 1, each once"),
        ('["a", 1]', "must be a JSON list of token strings"),
        ("[1" + "0" * 5000 + "]", "thousands of digits"),
        ("{not json", "not readable JSON"),
    ],
)
def test_a_bad_vocabulary_file_is_one_message(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "v.json"
    path.write_text(text)
    with pytest.raises(ModelFileError, match=message):
        read_vocab(path)


# -- files that are not what they say ---------------------------------------------------------------------
def test_broken_and_renamed_files(tmp_path: Path) -> None:
    model = random_model("lstm", hidden_size=5)
    good = save(tmp_path, torch_style(model), "w.npz")
    broken = tmp_path / "broken.npz"
    broken.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ModelFileError, match=re.escape("broken.npz: not readable as an .npz archive")):
        imported(broken, model.vocab)
    npy = tmp_path / "renamed.npz"
    np.save(tmp_path / "one.npy", np.zeros(3))
    (tmp_path / "one.npy").rename(npy)
    with pytest.raises(ModelFileError, match=re.escape("a single .npy array, not an .npz archive")):
        imported(npy, model.vocab)
    with pytest.raises(ModelFileError, match=re.escape("a single .npy array has no tensor names")):
        imported(tmp_path / "w.npy", model.vocab)
    with pytest.raises(ModelFileError, match="no such file"):
        imported(tmp_path / "missing.safetensors", model.vocab)


# -- Keras ------------------------------------------------------------------------------------------------
KERAS_GOLDEN = json.loads((KERAS / "golden.json").read_text())["probs"]
KERAS_TOL = 1e-6  # Keras's float64 kernels differ from ours by ~1e-8


def keras_probs(case: str) -> np.ndarray:
    return np.asarray(KERAS_GOLDEN[case])


@pytest.mark.parametrize(
    "file",
    ["keras-lstm-2.keras", "keras-lstm-2.weights.h5", "keras-lstm-2.h5", "keras-lstm-2.npz", "keras-gru-1.weights.h5",
     "keras-lstm-nobias.weights.h5", "keras-rnn-relu.keras"],
)  # fmt: skip
def test_keras_files_match_keras(file: str) -> None:
    """What Keras users have: model.save(.keras), save_weights(.weights.h5), a Keras 2 style .h5, and the
    README's .npz recipe with its keys written in reverse (a reader trusting file order swaps the layers)."""
    model = imported(KERAS / file, fmt="keras")
    np.testing.assert_allclose(run_trace(model, TEXT).probs, keras_probs(file.split(".")[0]), rtol=KERAS_TOL)


def test_a_keras_simple_rnn_takes_its_activation_from_the_keras_file_or_the_flag() -> None:
    assert imported(KERAS / "keras-rnn-relu.keras", fmt="keras").arch == "irnn"  # config.json says relu
    with pytest.raises(ModelFileError, match="--nonlinearity tanh or --nonlinearity relu"):
        imported(KERAS / "keras-rnn-relu.weights.h5", fmt="keras")
    model = imported(KERAS / "keras-rnn-relu.weights.h5", fmt="keras", nonlinearity="relu")
    np.testing.assert_allclose(run_trace(model, TEXT).probs, keras_probs("keras-rnn-relu"), rtol=KERAS_TOL)
    with pytest.raises(ModelFileError, match="--nonlinearity tanh, but the file says its RNN uses relu"):
        imported(KERAS / "keras-rnn-relu.keras", fmt="keras", nonlinearity="tanh")


def test_a_keras_layer_normalization_is_refused() -> None:
    with pytest.raises(ModelFileError, match="the LayerNormalization layer 'layer_normalization' is a part"):
        imported(KERAS / "keras-layernorm.keras", fmt="keras")
    with pytest.raises(ModelFileError, match="layer_normalization/beta"):
        imported(KERAS / "keras-layernorm.weights.h5", fmt="keras")


def keras_style(model: Model, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Keras 3 variable paths (`w.path`) for a model's parameters."""
    H = model.hidden_size
    out = {"sequential/embedding/embeddings": model.params["embedding.weight"]}
    names = names or [model.arch if l == 0 else f"{model.arch}_{l}" for l in range(model.layers)]
    for l, name in enumerate(names):
        p = model.layer(l)
        w_ih, w_hh, b_ih, b_hh = p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"]
        if model.arch == "gru":  # our r, z, n → Keras z, r, h (the same swap of the first two blocks)
            w_ih, w_hh = _keras_gru_order(w_ih, H), _keras_gru_order(w_hh, H)
            bias = np.stack([_keras_gru_order(b_ih, H), _keras_gru_order(b_hh, H)])
        else:
            bias = b_ih + b_hh
        cell = f"sequential/{name}/{model.arch}_cell"
        out[f"{cell}/kernel"], out[f"{cell}/recurrent_kernel"], out[f"{cell}/bias"] = w_ih.T, w_hh.T, bias
    out["sequential/dense/kernel"] = model.params["decoder.weight"].T
    out["sequential/dense/bias"] = model.params["decoder.bias"]
    return out


@pytest.mark.parametrize("arch", ["lstm", "gru"])
def test_keras_npz_layers_are_ordered_by_name_not_by_file_order(tmp_path: Path, arch: str) -> None:
    model = random_model(arch, layers=3, hidden_size=5, input_size=5)
    tensors = keras_style(model)
    shuffled = dict(sorted(tensors.items(), key=lambda kv: kv[0][::-1]))
    same_numbers(imported(save(tmp_path, shuffled, "k.npz"), model.vocab, fmt="keras"), model)
    custom = keras_style(model, ["encoder", "middle", "top"])
    with pytest.raises(ModelFileError, match=r"cannot tell the order of the recurrent .* \(encoder, middle, top\)"):
        imported(save(tmp_path, custom, "k.npz"), model.vocab, fmt="keras")


def test_keras_gru_without_reset_after_is_refused(tmp_path: Path) -> None:
    model = random_model("gru", hidden_size=5)
    tensors = keras_style(model)
    tensors["sequential/gru/gru_cell/bias"] = np.zeros(15)
    with pytest.raises(ModelFileError, match="reset_after=True"):
        imported(save(tmp_path, tensors, "k.npz"), model.vocab, fmt="keras")


def test_keras_h5_without_h5py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_h5py(name: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "h5py":
            raise ImportError("No module named 'h5py'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_h5py)
    with pytest.raises(ModelFileError, match=r'pip install "lstm-explainer\[keras\]"'):
        imported(KERAS / "keras-lstm-2.weights.h5", fmt="keras")


def test_a_broken_keras_file_is_one_message(tmp_path: Path) -> None:
    bad = tmp_path / "x.keras"
    bad.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ModelFileError, match=re.escape("x.keras: not readable as a .keras file")):
        imported(bad, fmt="keras")
    bad = tmp_path / "x.weights.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n broken")
    with pytest.raises(ModelFileError, match=re.escape("x.weights.h5: not readable as a Keras HDF5 weights file")):
        imported(bad, fmt="keras")
