"""`lstm-explainer export`: the offline page's file, its stored traces and its refusals (the browser side is
tests/e2e/test_export.py)."""

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
from fastapi.testclient import TestClient

from app.config import Settings
from app.export import MAX_BYTES, NumberPool, bundle_modules, export_page, stored_traces, unpool
from app.main import create_app
from app.nn import shipped_models_dir, trace_document

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


def traces(html: str) -> list[dict[str, Any]]:
    """The table the page answers trace requests from."""
    return stored_traces(html)


def inline_scripts(html: str) -> list[str]:
    return re.findall(r"<script type=\"(?:module|importmap)\">(.*?)</script>", html, re.S)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("export") / "spain.html"
    result = run("export", "lecture-lstm", SPAIN, "--target", "spanish", "--intervene", json.dumps(CLAMP), "--out",
                 str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and "MB" in result.stdout
    return out.read_text(encoding="utf-8")


def test_the_page_is_one_file_under_6_mb(page: str) -> None:
    size = len(page.encode())
    assert size < MAX_BYTES, size
    assert size > 1_500_000  # plotly.js is in it
    # Nothing is loaded from anywhere: no src= at all, links only to data: URLs.
    assert not re.search(r"<script[^>]*\bsrc=", page)
    for href in re.findall(r"<link[^>]*\bhref=\"([^\"]*)\"", page):
        assert href.startswith("data:"), href
    assert not re.search(r"(?:src|href)=[\"']?https?://", page)
    # The modules are inlined through an import map of data: URLs.
    importmap = json.loads(inline_scripts(page)[0])["imports"]
    assert "lstm/api.js" in importmap and "lstm/views/cell-diagram.js" in importmap
    assert all(url.startswith("data:text/javascript;base64,") for url in importmap.values())


def test_the_csp_forbids_the_network_and_allows_only_its_own_scripts(page: str) -> None:
    m = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert m
    csp = html_lib.unescape(m.group(1))
    assert "connect-src 'none'" in csp and "default-src 'none'" in csp
    for script in inline_scripts(page):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp


def test_the_stored_documents_are_what_the_server_sends(page: str) -> None:
    rows = traces(page)
    # The clamped view and the same text without the clamp (to switch it off in the page).
    assert [r["request"]["interventions"] for r in rows] == [[{**CLAMP, "layer": 0, "units": None, "stop": None}], []]
    settings = Settings(shipped_models=True)
    with TestClient(create_app(settings)) as client:
        for row in rows:
            body = {**row["request"], "gradients": True}
            assert client.post("/api/trace", json=body).json() == row["document"]
        # The continuation panel's answer, as POST /api/continue gives it.
        (row,) = config(page)["offline"]["continuations"]
        assert row["request"] == {"model": "lecture-lstm", "text": SPAIN}
        assert client.post("/api/continue", json=row["request"]).json() == row["response"]
    assert rows[0]["document"]["target"]["text"] == "spanish"
    offline = config(page)["offline"]
    assert offline["initial"]["clamps"] == rows[0]["request"]["interventions"]
    assert offline["initial"]["model"] == "lecture-lstm" and offline["initial"]["target"] == "spanish"
    assert "Offline copy" in page and "lstm-explainer serve" in page


def test_a_request_without_gradients_is_the_document_without_them() -> None:
    # The page answers the unclamped baseline (gradients: false) from the stored document; the server agrees.
    from app.nn import load_model

    model = load_model(shipped_models_dir() / "lecture-rnn")
    full = trace_document(model, "the clouds are in the", None, None, True)
    assert trace_document(model, "the clouds are in the", None, None, False) == {**full, "gradients": None}


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


def test_a_scene_stores_every_state_and_its_comparison(tmp_path: Path) -> None:
    scene = {
        "name": "test-scene",
        "title": "RNN against LSTM",
        "kind": "explorer",
        "states": [
            {"caption": "The LSTM reads it.", "state": {"model": "lecture-lstm", "text": SPAIN}},
            {"caption": "And its twin.", "state": {"model": "lecture-lstm", "text": SPAIN, "compare": "lecture-rnn"}},
            {"caption": "Shut the forget gate.", "state": {"text": "the clouds are in the", "clamps": [CLAMP]}},
        ],
    }  # fmt: skip
    out = export_page("lecture-lstm", "the cat", None, [], None, tmp_path / "scene.html", [], scene_doc=scene)
    html = out.read_text(encoding="utf-8")
    keys = [(r["request"]["model"], r["request"]["text"], len(r["request"]["interventions"])) for r in traces(html)]
    assert keys == [
        ("lecture-lstm", "the cat", 0),
        ("lecture-lstm", SPAIN, 0),
        ("lecture-rnn", SPAIN, 0),
        ("lecture-lstm", "the clouds are in the", 1),
        ("lecture-lstm", "the clouds are in the", 0),
    ]
    offline = config(html)["offline"]
    assert config(html)["scenes"]["test-scene"]["states"][2]["caption"] == "Shut the forget gate."
    assert offline["initial"]["scene"] == "test-scene" and offline["initial"]["page"] == 0
    assert {c["id"] for c in config(html)["models"]} == {"lecture-lstm", "lecture-rnn"}


def test_a_scene_alone_opens_on_its_first_state(tmp_path: Path) -> None:
    out = tmp_path / "gender.html"
    result = run("export", "--scene", "gender", "--out", str(out))
    assert result.returncode == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    scene_file = Path(__file__).resolve().parents[1] / "app" / "scenes" / "gender.json"
    first = json.loads(scene_file.read_text(encoding="utf-8"))["states"][0]["state"]
    initial = config(html)["offline"]["initial"]
    assert (initial["model"], initial["text"], initial["scene"]) == (first["model"], first["text"], "gender")


def test_a_scene_state_with_a_continuation_length_stores_that_length(tmp_path: Path) -> None:
    state = {"model": "lecture-lstm", "text": SPAIN, "panels": ["continuation"], "length": 5}
    scene = {"name": "short", "title": "t", "states": [{"caption": "c", "state": state}]}
    out = export_page("lecture-lstm", SPAIN, None, [], None, tmp_path / "s.html", [], scene_doc=scene)
    rows = config(out.read_text(encoding="utf-8"))["offline"]["continuations"]
    # The initial view's default length (asked for without `length`) and the state's five words.
    assert [r["request"] for r in rows] == [
        {"model": "lecture-lstm", "text": SPAIN},
        {**state_request(state), "length": 5},
    ]
    with TestClient(create_app(Settings(shipped_models=True))) as client:
        for row in rows:
            assert client.post("/api/continue", json=row["request"]).json() == row["response"]
    assert len(rows[1]["response"]["tokens"]) == 5


def state_request(state: dict[str, Any]) -> dict[str, Any]:
    return {"model": state["model"], "text": state["text"]}


def test_a_scene_with_a_bad_state_is_refused_with_where(tmp_path: Path) -> None:
    from app.nn import TraceInputError

    scene = {"name": "bad", "title": "t", "states": [{"caption": "c", "state": {"model": "nope", "text": "a"}}]}
    with pytest.raises(TraceInputError, match=r"scene 'bad', state 1: there is no model 'nope'"):
        export_page("lecture-lstm", "the cat", None, [], None, tmp_path / "bad.html", [], scene_doc=scene)


def test_the_float_codec_is_exact() -> None:
    values = [0.9034252, 1.0, 0.0, -0.0, 1e-05, -3.5e-18, 1e30, 2.5e20, 0.1, 123456.7, -9999999.0, 5e-324]
    doc = {"a": values, "b": [[0.5, 0.25, 0.125, 1.5], [1, 2, 3, 4]], "c": [0.1, 0.2], "d": ["x", 0.5, 0.5, 0.5]}
    pool = NumberPool()
    skeleton = pool.take(doc)
    assert skeleton["a"] == values  # -0.0, 1e30 and 5e-324 do not come back bit for bit: the list stays JSON
    assert skeleton["b"][0] == {"$f": [0, 4]} and skeleton["b"][1] == [1, 2, 3, 4] and skeleton["c"] == [0.1, 0.2]
    assert json.dumps(unpool(skeleton, pool.planes())) == json.dumps(doc)
    many = [float(f"{k * 0.7071067:.7g}e{e}") for k in range(1, 500) for e in (-9, -3, 0, 4)]
    pool = NumberPool()
    skeleton = pool.take({"m": many})
    assert "$f" in skeleton["m"] and unpool(skeleton, pool.planes())["m"] == many


def test_a_lab_scene_exports_the_lab_page(tmp_path: Path) -> None:
    # The gradient lab computes its curves in the page: no traces, no model needed.
    out = export_page("no-such-model", "", None, [], "vanishing-lab", tmp_path / "lab.html", [])
    html = out.read_text(encoding="utf-8")
    assert len(html.encode()) < MAX_BYTES and "offline-traces" not in html
    assert 'id="lab-plot"' in html and "Offline copy" in html
    offline = config(html)["offline"]
    assert offline["initial"] == {"scene": "vanishing-lab", "page": 0}
    assert config(html)["scenes"]["vanishing-lab"]["kind"] == "lab"
    importmap = json.loads(inline_scripts(html)[0])["imports"]
    assert "lstm/views/lab-plot.js" in importmap and "lstm/api.js" in importmap
