"""The `lstm-explainer` command: trace, models and import, end to end through a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from app.nn import random_model, save_model, trace_document


def run(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "app", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-models")
    save_model(random_model("lstm", layers=2, hidden_size=6, model_id="cli-lstm"), root / "cli-lstm")
    return root


def test_trace_json_is_the_document(models_dir: Path) -> None:
    iv = '{"gate": "forget", "value": 0, "start": 2}'
    out = run("trace", "cli-lstm", "hello there", "--target", "x", "--intervene", iv, "--models", str(models_dir),
              "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    from app.nn import load_model

    expected = trace_document(load_model(models_dir / "cli-lstm"), "hello there", "x", [json.loads(iv)])
    assert doc == json.loads(json.dumps(expected))
    assert doc["steps"][3]["layers"][0]["clamped"] == {"forget": list(range(6))}


def test_trace_errors_are_one_line(models_dir: Path) -> None:
    out = run("trace", "cli-lstm", "abc", "--intervene", '{"gate": "reset", "value": 0}', "--models", str(models_dir))
    assert out.returncode == 2
    assert (
        out.stderr.strip() == "error: intervention 0: lstm has no gate 'reset'; its gates are "
        "['input', 'forget', 'candidate', 'output']"
    )
    out = run("trace", "nope", "abc", "--models", str(models_dir))
    assert out.returncode == 2 and "no model 'nope'" in out.stderr


def test_models_lists_shipped_and_extra(models_dir: Path) -> None:
    out = run("models", "--json", "--models", str(models_dir))
    assert out.returncode == 0, out.stderr
    ids = [m["id"] for m in json.loads(out.stdout)["models"]]
    assert "cli-lstm" in ids and "recall-lstm" in ids


def test_import_then_trace(tmp_path: Path) -> None:
    model = random_model("gru", hidden_size=5)
    tensors = {"emb.weight": model.params["embedding.weight"], "head.weight": model.params["decoder.weight"],
               "head.bias": model.params["decoder.bias"]}  # fmt: skip
    for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        tensors[f"gru.{kind}_l0"] = model.params[f"layers.0.{kind}"]
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(tmp_path / "w.safetensors"))
    (tmp_path / "vocab.json").write_text(json.dumps(model.vocab))
    out = run("import", "pytorch", str(tmp_path / "w.safetensors"), "--vocab", str(tmp_path / "vocab.json"),
              "--tokenizer", "char", "--id", "mine", "--out", str(tmp_path / "models"), "--unk", "<unk>")  # fmt: skip
    assert out.returncode == 0, out.stderr
    out = run("trace", "mine", "abc", "--models", str(tmp_path / "models"))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["model"]["arch"] == "gru"


def test_import_refuses_pickles(tmp_path: Path) -> None:
    (tmp_path / "w.pt").write_bytes(b"\x80\x04")
    (tmp_path / "v.json").write_text('["a"]')
    out = run("import", "pytorch", str(tmp_path / "w.pt"), "--vocab", str(tmp_path / "v.json"), "--tokenizer",
              "char", "--id", "x", "--out", str(tmp_path))  # fmt: skip
    assert out.returncode == 2 and "pickle-based files are refused" in out.stderr


def test_the_readme_pytorch_example_end_to_end(tmp_path: Path) -> None:
    """docs/examples/train_torch_char_lstm.py → import → trace, as the README tells it."""
    pytest.importorskip("torch", reason="the example trains with PyTorch")
    script = Path(__file__).resolve().parent.parent / "docs" / "examples" / "train_torch_char_lstm.py"
    out = subprocess.run([sys.executable, str(script), "--out", str(tmp_path / "m"), "--steps", "150"],
                         capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr
    out = run("import", "pytorch", str(tmp_path / "m" / "weights.safetensors"), "--vocab",
              str(tmp_path / "m" / "vocab.json"), "--tokenizer", "char", "--id", "my-lstm", "--out",
              str(tmp_path / "models"), "--unk", "<unk>")  # fmt: skip
    assert out.returncode == 0, out.stderr
    out = run("trace", "my-lstm", "hello world, hello lect", "--target", "u", "--models", str(tmp_path / "models"))
    doc = json.loads(out.stdout)
    assert doc["steps"][-1]["top"][0]["token"] == "u"  # it learned its text


# -- import and export mistakes: one line on stderr and exit status 2, never a traceback -------------------
GOLDEN = Path(__file__).resolve().parent / "golden"


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from app.cli import main

    try:
        code = main(list(args))
    except SystemExit as e:  # argparse's own exit
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def vocab_file(tmp_path: Path) -> Path:
    path = tmp_path / "vocab.json"
    path.write_text(json.dumps(json.loads((GOLDEN / "manifest.json").read_text())["vocab"]))
    return path


def _broken_npz(tmp_path: Path) -> Path:
    np.savez(tmp_path / "w.npz", a=np.zeros(100))
    (tmp_path / "broken.npz").write_bytes((tmp_path / "w.npz").read_bytes()[:150])
    return tmp_path / "broken.npz"


def _renamed_npy(tmp_path: Path) -> Path:
    np.save(tmp_path / "w.npy", np.zeros(3))
    return (tmp_path / "w.npy").rename(tmp_path / "w.npz")


@pytest.mark.parametrize(
    ("weights", "extra", "message"),
    [
        (lambda d: GOLDEN / "rnn-relu-2.safetensors", [], "--nonlinearity tanh or --nonlinearity relu"),
        (lambda d: GOLDEN / "lstm-1.safetensors", ["--id", "../x"], "the model id '../x' must be 1 to 100 letters"),
        (lambda d: GOLDEN / "lstm-1.safetensors", ["--id", "/tmp/abs"], "the model id '/tmp/abs' must be"),
        (_broken_npz, [], "broken.npz: not readable as an .npz archive of arrays"),
        (_renamed_npy, [], "w.npz: this is a single .npy array, not an .npz archive"),
        (lambda d: d / "missing.safetensors", [], "missing.safetensors: no such file"),
        (lambda d: GOLDEN / "lstm-1.safetensors", ["--ignore", "nope*"], "--ignore 'nope*' matches no tensor"),
        (lambda d: GOLDEN / "lstm-1.safetensors", ["--nonlinearity", "sigmoid"], "argument --nonlinearity: invalid"),
    ],
)
def test_import_mistakes_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, vocab_file: Path, weights, extra: list[str], message: str
) -> None:
    args = ["import", "pytorch", str(weights(tmp_path)), "--vocab", str(vocab_file), "--tokenizer", "char",
            "--id", "mine", "--out", str(tmp_path / "out"), *extra]  # fmt: skip
    code, _, err = in_process(capsys, *args)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert not (tmp_path / "out").exists() and not Path("/tmp/abs").exists() and not (tmp_path / "x").exists()


def test_import_prints_what_it_assumed(capsys: pytest.CaptureFixture[str], tmp_path: Path, vocab_file: Path) -> None:
    code, out, err = in_process(
        capsys, "import", "pytorch", str(GOLDEN / "rnn-relu-2.safetensors"), "--vocab", str(vocab_file),
        "--tokenizer", "char", "--id", "relu", "--out", str(tmp_path), "--unk", "<unk>", "--nonlinearity", "relu",
    )  # fmt: skip
    assert code == 0, err
    assert out.splitlines() == [f"wrote {tmp_path / 'relu'}", "note: relu nonlinearity"]
    assert json.loads((tmp_path / "relu" / "model.json").read_text())["arch"] == "irnn"


def test_import_with_an_empty_vocabulary_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "v.json").write_text("")
    args = ["import", "pytorch", str(GOLDEN / "lstm-1.safetensors"), "--vocab", str(tmp_path / "v.json"),
            "--tokenizer", "char", "--id", "x", "--out", str(tmp_path)]  # fmt: skip
    code, _, err = in_process(capsys, *args)
    assert code == 2 and err == f"error: {tmp_path / 'v.json'}: the vocabulary file is empty\n"


def test_export_out_a_directory_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = in_process(capsys, "export", "recall-lstm", "c12=", "--out", str(tmp_path))
    assert code == 2
    assert err == f"error: --out {tmp_path} is a directory; give the page's file name, e.g. {tmp_path / 'page.html'}\n"


def test_argument_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = in_process(capsys, "import", "tensorflow", "w.npz")
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("error: lstm-explainer import: argument format: invalid choice: 'tensorflow'"), err
