"""`lstm-explainer export`: the offline page's file, the models and the engine it carries, and its refusals
(the browser side is tests/e2e/test_export.py)."""

from __future__ import annotations

import base64
import hashlib
import html as html_lib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.api.vocabulary import arch_vocabulary
from app.config import Settings
from app.export import (
    MAX_BYTES,
    bundle_modules,
    engine_script,
    export_file,
    export_page,
    planes,
    stored_weights,
    unplanes,
)
from app.nn import shipped_models_dir

SPAIN = "I have been staying in Spain for the last 10 years . I can speak fluent"
CLAMP = {"gate": "forget", "value": 0.0, "start": 8}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "app", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def element(html: str, element_id: str) -> str:
    m = re.search(rf'<script type="[^"]+" id="{element_id}">(.*?)</script>', html, re.S)
    assert m, f"no #{element_id}"
    return m.group(1)


def config(html: str) -> dict[str, Any]:
    return json.loads(element(html, "app-config"))


def inline_scripts(html: str) -> list[str]:
    return re.findall(r"<script type=\"(?:module|importmap)\">(.*?)</script>", html, re.S)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("export") / "spain.html"
    result = run("export", "lecture-lstm", SPAIN, "--target", "spanish", "--intervene", json.dumps(CLAMP), "--out",
                 str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    # the size, and what takes it
    assert re.search(r"wrote .* \(\d+\.\d MB: lecture-lstm \d\.\d\d MB, plotly\.js 0\.\d\d MB, the page", result.stdout)
    return out.read_text(encoding="utf-8")


def test_the_page_is_one_file(page: str) -> None:
    size = len(page.encode())
    assert 4_500_000 < size < MAX_BYTES  # the model (4.0 MB) and plotly.js (0.66 MB) are in it
    # Nothing is loaded from anywhere: no src= at all, links only to data: URLs.
    assert not re.search(r"<script[^>]*\bsrc=", page)
    for href in re.findall(r"<link[^>]*\bhref=\"([^\"]*)\"", page):
        assert href.startswith("data:"), href
    assert not re.search(r"(?:src|href)=[\"']?https?://", page)
    # The modules are inlined through an import map of data: URLs.
    importmap = json.loads(inline_scripts(page)[0])["imports"]
    assert "lstm/api.js" in importmap and "lstm/views/cell-diagram.js" in importmap
    assert "lstm/local-engine.js" in importmap and "lstm/engine/client.js" in importmap
    assert all(url.startswith("data:text/javascript;base64,") for url in importmap.values())


def test_the_page_carries_the_arch_vocabulary(page: str) -> None:
    # It runs without a server: the vocabulary the server would publish is in its config.
    assert config(page)["archs"] == json.loads(json.dumps(arch_vocabulary()))


def test_the_csp_forbids_the_network_and_allows_only_its_own_scripts(page: str) -> None:
    m = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert m
    csp = html_lib.unescape(m.group(1))
    assert "connect-src 'none'" in csp and "default-src 'none'" in csp and "worker-src blob:" in csp
    for script in inline_scripts(page):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp


def test_the_page_carries_the_model_files_as_they_are(page: str) -> None:
    engine = config(page)["engine"]
    (entry,) = engine["models"]
    directory = shipped_models_dir() / "lecture-lstm"
    assert entry["id"] == "lecture-lstm"
    assert entry["card"] == json.loads((directory / "model.json").read_text(encoding="utf-8"))
    assert stored_weights(page, "lecture-lstm") == (directory / "weights.safetensors").read_bytes()
    # the server's limits, for the page to apply as the server would
    settings = Settings(shipped_models=True)
    assert entry["limits"]["maxChars"] == settings.max_chars
    assert entry["limits"]["maxInterventions"] == settings.max_interventions
    assert entry["limits"]["gradientTokens"] > 16
    assert engine["worker"] == {"element": "engine-worker"}
    assert [c["id"] for c in config(page)["models"]] == ["lecture-lstm"]
    offline = config(page)["offline"]
    assert offline["initial"]["clamps"] == [{**CLAMP, "layer": 0, "units": None, "stop": None}]
    assert offline["initial"]["model"] == "lecture-lstm" and offline["initial"]["target"] == "spanish"
    assert "Offline copy" in page and "lstm-explainer serve" in page


def test_a_shakespeare_lstm_file_is_at_most_3_mb(tmp_path: Path) -> None:
    # The goal: the 256-unit char LSTM (1.48 MB of float32 weights as they are) with plotly.js's
    # cartesian bundle (0.66 MB) and the page, in one file of at most 3 MB (it is 2.75 MB).
    exported = export_file("shakespeare-lstm", "To be, or not to be", None, [], None, tmp_path / "bard.html")
    size = exported.path.stat().st_size
    assert size <= 3_000_000, exported.summary()
    assert exported.sizes["shakespeare-lstm"] > 1_400_000 and exported.sizes["plotly.js"] < 700_000


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 4099])
def test_the_byte_planes_come_back_exactly(n: int) -> None:
    data = bytes((k * 37 + 11) % 256 for k in range(n))
    assert unplanes(planes(data)) == data


def test_the_worker_is_the_engine_in_one_classic_script() -> None:
    script = engine_script()
    assert not re.search(r"^\s*(?:import|export)\b", script, re.M)
    # each module after what it imports: the worker last, linalg.js before cells.js
    order = re.findall(r"^// ---- (\S+)$", script, re.M)
    assert order[-1] == "engine/worker.js" and order.index("engine/linalg.js") < order.index("engine/cells.js")
    assert "engine/generate.js" in order
    assert "</script" not in script.lower()


def test_every_module_is_bundled_with_bare_imports() -> None:
    entry, imports = bundle_modules()
    for source in [entry, *(base64.b64decode(u.split(",", 1)[1]).decode() for u in imports.values())]:
        for spec in re.findall(r"""(?:from|import)\s*\(?\s*['"]([^'"]+)['"]""", source):
            assert spec in imports, spec


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["no-such-model", "hello"], ["no model 'no-such-model'", "lecture-lstm"]),
        (["lecture-lstm", "the cat", "--intervene", '{"gate": "nope", "value": 0}'], ["nope"]),
        (["lecture-lstm", "the cat", "--intervene", '{"gate": "forget", "value": "x"}'], ["value"]),
        (["lecture-lstm", "the cat", "--intervene", "[1, 2]"], ["JSON object"]),
        (["lecture-lstm", "the cat", "--scene", "no-such-scene"], ["no scene 'no-such-scene'", "long-context"]),
        (["--scene", "no-such-scene"], ["no scene 'no-such-scene'"]),
        ([], ["MODEL", "--scene"]),
        (["lecture-lstm"], ["MODEL", "--scene"]),
        (["recall-lstm", "c1=", "--models", "recall-gru"], ["the view shows recall-lstm", "--models"]),
        (["recall-lstm", "c1=", "--models", "recall-lstm,nope"], ["no model 'nope'"]),
        (["recall-lstm", "c1=", "--models", "app"], ["--model-dir app"]),
    ],
)
def test_refusals_are_clear_and_exit_2(tmp_path: Path, args: list[str], words: list[str]) -> None:
    out = tmp_path / "x.html"
    result = run("export", *args, "--out", str(out))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    for w in words:
        assert w in result.stderr
    assert not out.exists()


def test_a_scene_carries_every_model_it_shows(tmp_path: Path) -> None:
    scene = {
        "name": "test-scene",
        "title": "RNN against LSTM",
        "kind": "explorer",
        "states": [
            {"caption": "The LSTM reads it.", "state": {"model": "recall-lstm", "text": "c123="}},
            {"caption": "And its twin.", "state": {"model": "recall-lstm", "text": "c123=", "compare": "recall-rnn"}},
            {"caption": "Shut the forget gate.", "state": {"text": "c9=", "clamps": [CLAMP]}},
        ],
    }  # fmt: skip
    out = export_page("recall-lstm", "c1=", None, [], None, tmp_path / "scene.html", [], scene_doc=scene)
    html = out.read_text(encoding="utf-8")
    assert [m["id"] for m in config(html)["engine"]["models"]] == ["recall-lstm", "recall-rnn"]
    assert {c["id"] for c in config(html)["models"]} == {"recall-lstm", "recall-rnn"}
    offline = config(html)["offline"]
    assert config(html)["scenes"]["test-scene"]["states"][2]["caption"] == "Shut the forget gate."
    assert offline["initial"]["scene"] == "test-scene" and offline["initial"]["page"] == 0
    # --models picks the models; what the scene shows must be among them
    more = export_page("recall-lstm", "c1=", None, [], None, tmp_path / "more.html", [], scene_doc=scene,
                       models=["recall-gru", "recall-rnn", "recall-lstm"])  # fmt: skip
    ids = [m["id"] for m in config(more.read_text(encoding="utf-8"))["engine"]["models"]]
    assert ids == ["recall-gru", "recall-rnn", "recall-lstm"]
    from app.nn import TraceInputError

    with pytest.raises(TraceInputError, match="the scene shows recall-rnn: add it to --models"):
        export_page("recall-lstm", "c1=", None, [], None, tmp_path / "x.html", [], scene_doc=scene,
                    models=["recall-lstm"])  # fmt: skip


def test_a_scene_alone_opens_on_its_first_state(tmp_path: Path) -> None:
    out = tmp_path / "gender.html"
    result = run("export", "--scene", "gender", "--out", str(out))
    assert result.returncode == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    scene_file = Path(__file__).resolve().parents[1] / "app" / "scenes" / "gender.json"
    first = json.loads(scene_file.read_text(encoding="utf-8"))["states"][0]["state"]
    initial = config(html)["offline"]["initial"]
    assert (initial["model"], initial["text"], initial["scene"]) == (first["model"], first["text"], "gender")


def test_a_scene_with_a_bad_state_is_refused_with_where(tmp_path: Path) -> None:
    from app.nn import TraceInputError

    scene = {"name": "bad", "title": "t", "states": [{"caption": "c", "state": {"model": "nope", "text": "a"}}]}
    with pytest.raises(TraceInputError, match=r"scene 'bad', state 1: there is no model 'nope'"):
        export_page("lecture-lstm", "the cat", None, [], None, tmp_path / "bad.html", [], scene_doc=scene)


def test_a_lab_scene_exports_the_lab_page(tmp_path: Path) -> None:
    # The gradient lab computes its curves in the page: no traces, no model needed.
    out = export_page("no-such-model", "", None, [], "vanishing-lab", tmp_path / "lab.html", [])
    html = out.read_text(encoding="utf-8")
    assert len(html.encode()) < 1_000_000 and "engine-worker" not in html  # plotly.js takes 0.66 MB of it
    assert 'id="lab-plot"' in html and "Offline copy" in html
    offline = config(html)["offline"]
    assert offline["initial"] == {"scene": "vanishing-lab", "page": 0}
    assert config(html)["scenes"]["vanishing-lab"]["kind"] == "lab"
    importmap = json.loads(inline_scripts(html)[0])["imports"]
    assert "lstm/views/lab-plot.js" in importmap and "lstm/api.js" in importmap
