"""Model directories, weight validation, never unpickling, and importing PyTorch / Keras weights."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from app.nn import ModelFileError, load_model, load_zoo, random_model, run_trace, save_model
from app.nn.files import read_tensors
from app.nn.importers import import_model

GOLDEN = Path(__file__).resolve().parent / "golden"
GOLDEN_VOCAB = json.loads((GOLDEN / "manifest.json").read_text())["vocab"]


def test_round_trip(tmp_path: Path) -> None:
    model = random_model("peephole", layers=2, hidden_size=6, model_id="peep")
    save_model(model, tmp_path / "peep", dtype=np.float64)
    loaded = load_model(tmp_path / "peep")
    assert loaded.card["tokenizer"]["vocab"] == model.vocab
    for name, a in model.params.items():
        np.testing.assert_array_equal(loaded.params[name], a)
    a, b = run_trace(model, "same numbers"), run_trace(loaded, "same numbers")
    np.testing.assert_array_equal(a.probs, b.probs)


def write(tmp_path: Path, card_change: dict | None = None, tensor_change: dict | None = None, name: str = "m") -> Path:
    model = random_model("lstm", hidden_size=4, model_id="m")
    d = save_model(model, tmp_path / name)
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
        ({"hidden_size": 0}, None, "'hidden_size' must be 1 to 65536, not 0"),
        ({"layers": 5}, None, "'layers' must be 1 to 4, not 5"),
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
    with pytest.raises(ModelFileError, match="not a safetensors file"):
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


# -- the card's schema and what a hand-edited or hostile model.json may hold --------------------------------
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": 5}, "'title' must be a string, not an integer"),
        ({"id": ["a"]}, "'id' must be a string, not a list"),
        ({"id": 7}, "'id' must be a string, not an integer"),
        ({"id": "../elsewhere"}, "'id' '../elsewhere' must be 1 to 100 letters"),
        ({"metrics": "good"}, "'metrics' must be an object, not a string"),
        ({"metrics": {"validation": {"name": "acc", "value": "high"}}}, "'metrics.validation' must be an object"),
        ({"layers": True}, "'layers' must be a positive integer, not true/false"),
        ({"tokenizer": {"kind": "char", "vocab": [{"t": 1}] * 30}}, "'tokenizer.vocab' entry 0 is an object"),
        ({"tokenizer": {"kind": "char", "vocab": []}}, "'tokenizer.vocab' must be a non-empty list"),
        ({"tokenizer": {"kind": "bpe", "vocab": list("abcdefghijklmnopqrstuvwxyz0123")}}, "tokenizer kind"),
        ({"provenance": {"deep": 2**70}}, "larger than 64 bits"),
    ],
)
def test_the_card_is_checked_against_its_schema(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(ModelFileError, match=re.escape(message)):
        load_model(write(tmp_path, change))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"id": 1' + "0" * 5000 + "}", "an integer with thousands of digits"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"a":' * 40 + "1" + "}" * 40, "nested more than 32 levels"),
        ('{"metrics": {"loss": NaN}}', "NaN is not a JSON number"),
        ('{"metrics": {"loss": 1e999}}', "too large for a float"),
        ("\xc3\x28", "utf-8"),
    ],
)
def test_a_hostile_card_is_a_model_file_error(tmp_path: Path, text: str, message: str) -> None:
    d = write(tmp_path)
    (d / "model.json").write_bytes(text.encode("latin-1" if text == "\xc3\x28" else "utf-8"))
    with pytest.raises(ModelFileError, match=re.escape(message)):
        load_model(d)


def test_bf16_and_f16_weights_are_widened(tmp_path: Path) -> None:
    """A real bf16 state_dict (torch wrote it) loads; the same model stored as float16 loads too."""
    imported = import_model("pytorch", GOLDEN / "lstm-bf16.safetensors", GOLDEN_VOCAB, "char", "b", unk="<unk>")
    d = save_model(imported, tmp_path / "bf16")
    assert load_model(d).params["decoder.weight"].dtype == np.float64
    f16 = {k: v.astype(np.float16) for k, v in imported.params.items()}
    save_file(f16, str(d / "weights.safetensors"))
    loaded = load_model(d)
    for k, v in f16.items():
        np.testing.assert_array_equal(loaded.params[k], v.astype(np.float64), err_msg=k)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b'{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 400]}}', "broken entry"),
        (b'{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}', "does not match its shape"),
        (b'{"a": {"dtype": "F8_E4M3", "shape": [16], "data_offsets": [0, 16]}}', "stored as F8_E4M3"),
        (b'{"a": {"dtype": "F32", "shape": "x", "data_offsets": [0, 16]}}', "broken entry"),
        (b"[1, 2]", "not a JSON object"),
    ],
)
def test_a_broken_safetensors_header_is_named(tmp_path: Path, header: bytes, message: str) -> None:
    path = tmp_path / "w.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + bytes(16))
    with pytest.raises(ModelFileError, match=message):
        read_tensors(path)


def test_every_bad_directory_is_reported_and_the_good_ones_serve(tmp_path: Path, caplog) -> None:
    """The crashes of issue 10: each of these stopped the server starting; now each fails alone."""
    save_model(random_model("gru", model_id="good"), tmp_path / "good")
    bad_cards = {
        "title-int": {"title": 5},
        "id-list": {"id": ["x"]},
        "vocab-objects": {"tokenizer": {"kind": "char", "vocab": [{}] * 30, "unk": None}},
    }
    for name, change in bad_cards.items():
        write(tmp_path, change, name=name)
    huge = write(tmp_path, name="huge-int")
    (huge / "model.json").write_text('{"id": ' + "9" * 5000 + "}")
    deep = write(tmp_path, name="deep")
    (deep / "model.json").write_text("[" * 100_000 + "]" * 100_000)
    bf16 = save_model(random_model("lstm", model_id="bf16", input_size=5, hidden_size=6), tmp_path / "bf16")
    raw = (GOLDEN / "lstm-bf16.safetensors").read_bytes()  # a bf16 file with other names: refused, not a crash
    (bf16 / "weights.safetensors").write_bytes(raw)
    zoo = load_zoo([tmp_path], include_shipped=False)
    assert list(zoo.models) == ["good"]
    failed = {Path(f["path"]).name: f["error"] for f in zoo.failed}
    assert set(failed) == {*bad_cards, "huge-int", "deep", "bf16"}, failed
    assert "unexpected tensor 'embed.weight'" in failed["bf16"]
    assert all("could not be loaded" not in e for e in failed.values()), failed  # each has its own message
