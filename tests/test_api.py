"""REST endpoints, pages, static files and headers, through TestClient: every route and every error path."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient
from safetensors.numpy import load

from app.api.assets import LONG_CACHE, PLOTLY_JS, STATIC_DIR
from app.api.cards import default_model_id
from app.api.schemas import TraceDocument
from app.config import Settings
from app.nn import Zoo, random_model, trace_document
from app.nn.files import weights_file


def assert_error(response: Any, status: int, code: str, *words: str) -> str:
    """The one error shape, with the expected status and code; returns the message."""
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert detail["code"] == code, detail
    for word in words:
        assert word in detail["message"], (word, detail["message"])
    return detail["message"]


def page_config(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="app-config">(.*?)</script>', html, re.S)
    assert match, "the page must hand its configuration over in the app-config script tag"
    return json.loads(match.group(1))


# -- health and models ---------------------------------------------------------------------------------------


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["models"] == 2
    assert body["failed"] == []


def test_healthz_without_models_is_unhealthy(make_client: Any, tmp_path: Path) -> None:
    client = make_client(Settings(model_dirs=[tmp_path], shipped_models=False))
    r = client.get("/healthz")
    assert r.status_code == 503
    assert r.json()["status"] == "no_models"


def test_broken_model_is_reported_and_the_rest_served(make_client: Any, models_root: Path, broken_root: Path) -> None:
    client = make_client(Settings(model_dirs=[models_root, broken_root], shipped_models=False))
    for path in ("/healthz", "/api/models"):
        failed = client.get(path).json()["failed"]
        assert len(failed) == 1
        assert failed[0]["path"].endswith("broken")
        assert "weights.safetensors" in failed[0]["error"]
    assert {m["id"] for m in client.get("/api/models").json()["models"]} == {"tiny-char", "tiny-word"}
    assert page_config(client.get("/").text)["failed"] == failed


def test_list_models(client: TestClient) -> None:
    body = client.get("/api/models").json()
    cards = {m["id"]: m for m in body["models"]}
    assert set(cards) == {"tiny-char", "tiny-word"}
    assert body["default"] == "tiny-char"
    char, word = cards["tiny-char"], cards["tiny-word"]
    assert char["tokenizer"] == "char" and word["tokenizer"] == "word"
    assert (char["arch"], char["layers"], char["hidden_size"]) == ("lstm", 2, 8)
    assert list(char["gates"]) == ["input", "forget", "candidate", "output"]
    assert char["gates"]["candidate"] == [-1.0, 1.0]
    assert list(word["gates"]) == ["update", "reset", "candidate"]
    for card in cards.values():
        assert "vocab" not in card
        assert {"title", "task", "description", "metrics", "vocab_size", "input_size"} <= set(card)


def test_default_model_prefers_the_lecture_model() -> None:
    models = {k: random_model(model_id=k) for k in ("a", "lecture-gru", "b")}
    assert default_model_id(Zoo(models)) == "lecture-gru"
    assert default_model_id(Zoo({"b": models["b"]})) == "b"
    assert default_model_id(Zoo()) is None


def test_get_model_includes_vocabulary(client: TestClient) -> None:
    vocab = client.app.state.zoo.models["tiny-word"].vocab  # type: ignore[attr-defined]
    body = client.get("/api/models/tiny-word").json()
    assert body["id"] == "tiny-word"
    assert body["vocab"] == vocab
    assert body["vocab_size"] == len(vocab)
    assert client.get("/api/models/tiny-char").json()["vocab"][0] == "<unk>"


def test_get_unknown_model(client: TestClient) -> None:
    assert_error(client.get("/api/models/nope"), 404, "unknown_model", "'nope'")


# -- a model's files, for the engine in the page ---------------------------------------------------------------


def test_a_model_is_served_as_its_directory_with_the_numbers_the_server_traces_with(
    client: TestClient, models_root: Path
) -> None:
    model = client.app.state.zoo.models["tiny-char"]  # type: ignore[attr-defined]
    card = client.get("/api/models/tiny-char/model.json")
    assert card.headers["content-type"] == "application/json"
    assert card.json() == json.loads((models_root / "tiny-char" / "model.json").read_text())
    weights = client.get("/api/models/tiny-char/weights.safetensors")
    assert weights.headers["content-type"] == "application/octet-stream"
    assert weights.content == (models_root / "tiny-char" / "weights.safetensors").read_bytes()  # saved as float32
    served = load(weights.content)
    assert set(served) == set(model.params)
    for name, value in model.params.items():
        assert served[name].dtype == np.float32 and np.array_equal(served[name].astype(np.float64), value), name
    # unchanged: a 304, on each load of the page
    etag = weights.headers["etag"]
    assert weights.headers["cache-control"] == "no-cache"
    assert client.get("/api/models/tiny-char/weights.safetensors", headers={"If-None-Match": etag}).status_code == 304
    assert_error(client.get("/api/models/nope/weights.safetensors"), 404, "unknown_model", "'nope'")
    assert_error(client.get("/api/models/nope/model.json"), 404, "unknown_model", "'nope'")


def test_weights_that_need_float64_are_served_in_float64() -> None:
    model = random_model("gru", hidden_size=4, seed=5)  # float64 parameters no float32 holds
    served = load(weights_file(model))
    assert all(v.dtype == np.float64 and np.array_equal(v, model.params[k]) for k, v in served.items())


def test_weights_over_the_cap_are_refused_and_not_offered_to_the_page(make_client: Any, models_root: Path) -> None:
    sizes = {m: (models_root / m / "weights.safetensors").stat().st_size for m in ("tiny-char", "tiny-word")}
    cap = sizes["tiny-word"]  # the word GRU is the smaller one, and just fits
    assert sizes["tiny-char"] > cap
    client = make_client(Settings(model_dirs=[models_root], shipped_models=False, local_forward_max_bytes=cap))
    assert_error(client.get("/api/models/tiny-char/weights.safetensors"), 403, "too_large", f"{cap:,} bytes")
    assert client.get("/api/models/tiny-word/weights.safetensors").status_code == 200
    local = page_config(client.get("/").text)["localForward"]
    assert local["models"] == ["tiny-word"] and local["on"] is False
    assert local["worker"].startswith("/static/js/engine/worker.js?v=")
    on = make_client(Settings(model_dirs=[models_root], shipped_models=False, local_forward=True))
    assert page_config(on.get("/").text)["localForward"]["on"] is True


# -- trace ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def char_model(client: TestClient) -> Any:
    return client.app.state.zoo.models["tiny-char"]  # type: ignore[attr-defined]


def test_trace_is_exactly_the_document(client: TestClient, char_model: Any) -> None:
    interventions = [{"gate": "forget", "value": 1.0, "layer": 1, "units": [0, 3], "start": 1, "stop": 3}]
    request = {"model": "tiny-char", "text": "the cat sat", "target": "a", "interventions": interventions}
    r = client.post("/api/trace", json=request)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    expected = trace_document(char_model, "the cat sat", target="a", interventions=interventions)
    assert r.json() == orjson.loads(orjson.dumps(expected))
    document = TraceDocument.model_validate(r.json())  # the documented schema describes what is served
    assert len(document.steps) == 11
    assert document.gradients is not None
    assert document.steps[2].layers[1].clamped == {"forget": [0, 3]}


def test_trace_without_gradients(client: TestClient) -> None:
    r = client.post("/api/trace", json={"model": "tiny-word", "text": "The cat sat.", "gradients": False})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["gradients"] is None
    assert [t["text"] for t in body["tokens"]] == ["the", "cat", "sat", "."]


def test_gradients_past_the_length_limit_come_with_a_notice(make_client: Any, settings: Settings) -> None:
    # tiny-char is H=8, 2 layers: a work limit of 8²·2·10² allows 10 tokens
    capped = make_client(settings.model_copy(update={"gradient_work_limit": 8**2 * 2 * 10**2}))
    short = capped.post("/api/trace", json={"model": "tiny-char", "text": "abcdefghij"}).json()
    assert short["gradients"] is not None and short["notices"] == []
    long = capped.post("/api/trace", json={"model": "tiny-char", "text": "abcdefghijk"}).json()
    assert long["gradients"] is None
    assert long["notices"] == [
        "gradients through time are computed for texts of up to 10 tokens on this model (the cost grows with "
        "the square of the length); this text has 11"
    ]
    assert len(long["steps"]) == 11  # the trace itself is whole


@pytest.mark.parametrize(
    ("request_body", "status", "code", "words"),
    [
        ({"model": "nope", "text": "hi"}, 404, "unknown_model", ("'nope'", "tiny-char")),
        ({"model": "tiny-char", "text": "x" * 301}, 422, "text_too_long", ("301 characters", "300 char")),
        (
            {"model": "tiny-word", "text": "the cat " * 11},
            422,
            "text_too_long",
            ("22 word tokens", "20 word"),
        ),
        ({"model": "tiny-char", "text": ""}, 422, "invalid_request", ("text: must not be empty",)),
        ({"model": "tiny-char", "text": "hi", "target": "zz"}, 422, "bad_target", ("'zz'",)),
        (
            {"model": "tiny-char", "text": "hi", "interventions": [{"gate": "update", "value": 0.5}]},
            422,
            "bad_intervention",
            ("update",),
        ),
        (
            {"model": "tiny-char", "text": "hi", "interventions": [{"gate": "forget", "value": 0.0}] * 4},
            422,
            "too_many_interventions",
            ("4 interventions", "limit is 3"),
        ),
        ({"model": "tiny-char"}, 422, "invalid_request", ("text: is required",)),
        ({"model": "tiny-char", "text": "hi", "gradients": "yes"}, 422, "invalid_request", ("gradients",)),
        ({"model": "tiny-char", "text": "hi", "colour": "red"}, 422, "invalid_request", ("colour",)),
        (
            {"model": "tiny-char", "text": "hi", "interventions": [{"gate": "forget", "value": True}]},
            422,
            "invalid_request",
            ("interventions.0.value",),
        ),
        ([1, 2], 422, "invalid_request", ()),
    ],
)
def test_trace_errors(client: TestClient, request_body: Any, status: int, code: str, words: tuple[str, ...]) -> None:
    assert_error(client.post("/api/trace", json=request_body), status, code, *words)


@pytest.mark.parametrize("path", ["/api/trace", "/api/continue"])
def test_malformed_json_is_a_400_bad_body_as_the_readme_says(client: TestClient, path: str) -> None:
    r = client.post(path, content=b'{"model": ', headers={"content-type": "application/json"})
    assert_error(r, 400, "bad_body", "not readable JSON")


def test_trace_text_with_a_lone_surrogate(client: TestClient) -> None:
    body = rb'{"model": "tiny-char", "text": "ab\ud800c"}'  # valid JSON, but not encodable text
    r = client.post("/api/trace", content=body, headers={"content-type": "application/json"})
    assert_error(r, 422, "invalid_request", "surrogate")


def test_body_too_large_by_content_length(client: TestClient) -> None:
    r = client.post("/api/trace", json={"model": "tiny-char", "text": "x" * 5000})
    assert_error(r, 413, "body_too_large", "4,096 bytes")
    assert r.headers["x-content-type-options"] == "nosniff"


def test_body_too_large_without_content_length(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # a generator body is sent chunked, with no Content-Length
        yield b'{"model": "tiny-char", "text": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    r = client.post("/api/trace", content=chunks(), headers={"content-type": "application/json"})
    assert_error(r, 413, "body_too_large")


def test_framework_errors_have_the_same_shape(client: TestClient) -> None:
    assert_error(client.get("/api/nothing-here"), 404, "http_404")
    assert_error(client.get("/api/trace"), 405, "http_405")


def test_openapi_documents_the_api(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/api/models", "/api/models/{model_id}", "/api/trace", "/healthz"} <= set(schema["paths"])
    assert "TraceDocument" in schema["components"]["schemas"]
    assert "/" not in schema["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    # Swagger UI from the installed package, under the same CSP as every page: no CDN, no inline script.
    assert docs.headers["content-security-policy"] == client.get("/").headers["content-security-policy"]
    assert "script-src 'self';" in docs.headers["content-security-policy"]
    assert "http" not in docs.text and "<script>" not in docs.text
    for asset in re.findall(r'(?:src|href)="(/vendor/swagger-ui/[^"]+)"', docs.text):
        r = client.get(asset)
        assert r.status_code == 200 and r.headers["cache-control"] == LONG_CACHE, asset
    assert client.get("/redoc").status_code == 404  # it would need a CDN


@pytest.mark.parametrize("path", ["/api/trace", "/api/continue"])
def test_a_body_that_is_not_text_is_a_400_that_says_so(client: TestClient, path: str) -> None:
    r = client.post(path, content=b"\xd9\x92\xff{", headers={"content-type": "application/json"})
    assert_error(r, 400, "bad_body", "JSON", '"model"')
    assert "400" in client.get("/openapi.json").json()["paths"][path]["post"]["responses"]


def test_a_clamp_that_covers_no_step_is_applied_to_nothing_with_a_notice(client: TestClient) -> None:
    iv = {"gate": "forget", "value": 1, "start": 99999, "stop": 0}
    r = client.post("/api/trace", json={"model": "tiny-char", "text": "hi", "interventions": [iv]})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["notices"] == [
        "intervention 0 (forget gate) clamps nothing: its stop (step 0) is not after its start (step 99999)"
    ]
    assert all(not layer["clamped"] for step in doc["steps"] for layer in step["layers"])


def test_an_empty_unit_list_is_refused_by_the_schema(client: TestClient) -> None:
    body = {"model": "tiny-char", "text": "hi", "interventions": [{"gate": "forget", "value": 1, "units": []}]}
    assert_error(client.post("/api/trace", json=body), 422, "invalid_request", "interventions.0.units")
    body["interventions"][0]["units"] = [-1]
    assert_error(client.post("/api/trace", json=body), 422, "invalid_request", "interventions.0.units.0")


# -- pages, static files, headers ----------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "embed"), [("/", False), ("/embed", True)])
def test_pages_hand_config_to_js(client: TestClient, path: str, embed: bool) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    config = page_config(r.text)
    assert config["embed"] is embed
    assert config["wsPath"] == "/ws/trace" and config["apiBase"] == "/api"
    assert config["defaultModel"] == "tiny-char"
    assert [m["id"] for m in config["models"]] == ["tiny-char", "tiny-word"]
    assert all("vocab" not in m for m in config["models"])
    assert config["limits"] == {"maxChars": 300, "maxWordTokens": 20, "maxInterventions": 3}
    assert config["frameAncestors"] == ["*"]
    assert f'src="/static/js/main.js?v={config["version"]}"' in r.text


def test_config_cannot_break_out_of_its_script_tag(make_client: Any, settings: Settings) -> None:
    client = make_client(settings)
    card = client.app.state.zoo.models["tiny-char"].card
    card["title"] = "</script><script>alert(1)</script>"
    html = client.get("/").text
    assert "<script>alert(1)" not in html
    assert page_config(html)["models"][0]["title"] == card["title"]


def test_security_headers_everywhere(client: TestClient) -> None:
    for r in (
        client.get("/"),
        client.get("/api/models"),
        client.get("/healthz"),
        client.get("/api/models/nope"),
        client.get("/vendor/plotly.min.js", headers={"if-none-match": "*"}),
    ):
        csp = r.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "unsafe-eval" not in csp
        assert "frame-ancestors" not in csp  # any ancestor, a deck opened from file:// included
        assert "connect-src 'self' ws://testserver;" in csp  # the app's own socket, no other host
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_frame_ancestors_from_settings(make_client: Any, settings: Settings) -> None:
    restricted = settings.model_copy(update={"frame_ancestors": ["'self'", "https://slides.example.org"]})
    r = make_client(restricted).get("/embed")
    assert r.headers["content-security-policy"].endswith("frame-ancestors 'self' https://slides.example.org")


def test_static_cache_lifetimes(client: TestClient) -> None:
    asset = next(p for p in STATIC_DIR.rglob("*.js"))
    url = "/static/" + asset.relative_to(STATIC_DIR).as_posix()
    plain = client.get(url)
    assert plain.status_code == 200
    assert plain.headers["cache-control"] == "no-cache"
    assert client.get(url, headers={"if-none-match": plain.headers["etag"]}).status_code == 304
    assert client.get(url + "?v=1").headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get("/static/no-such-file.js").status_code == 404


def test_plotly_is_served_locally_and_precompressed(client: TestClient) -> None:
    r = client.get("/vendor/plotly.min.js?v=3", headers={"accept-encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.content == PLOTLY_JS.read_bytes()  # the client decompressed it
    raw = client.get("/vendor/plotly.min.js", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert int(raw.headers["content-length"]) == PLOTLY_JS.stat().st_size
    cached = client.get("/vendor/plotly.min.js", headers={"if-none-match": r.headers["etag"]})
    assert cached.status_code == 304


def test_responses_are_compressed(client: TestClient) -> None:
    r = client.post("/api/trace", json={"model": "tiny-char", "text": "the cat sat on the mat"})
    assert r.headers["content-encoding"] == "gzip"
    raw = client.post(
        "/api/trace",
        json={"model": "tiny-char", "text": "the cat sat on the mat"},
        headers={"accept-encoding": "identity"},
    )
    assert "content-encoding" not in raw.headers
    assert raw.json() == r.json()


# -- settings ------------------------------------------------------------------------------------------------


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LSTM_EXPLAINER_MODELS", os.pathsep.join(["/srv/a", "/srv/b"]))
    monkeypatch.setenv("LSTM_EXPLAINER_FRAME_ANCESTORS", "'self' https://slides.example.org")
    monkeypatch.setenv("LSTM_EXPLAINER_ALLOWED_ORIGINS", '["https://a.example", "https://b.example"]')
    monkeypatch.setenv("LSTM_EXPLAINER_MAX_CHARS", "100")
    s = Settings()
    assert s.model_dirs == [Path("/srv/a"), Path("/srv/b")]
    assert s.frame_ancestors == ["'self'", "https://slides.example.org"]
    assert s.allowed_origins == ["https://a.example", "https://b.example"]
    assert s.max_chars == 100


@pytest.mark.parametrize("bad", ["https://a.example; script-src *", "https://a.example\r\nX-Evil: 1", "'unsafe"])
def test_settings_refuse_sources_that_would_break_the_header(bad: str) -> None:
    with pytest.raises(ValueError, match="not an origin or CSP source"):
        Settings(frame_ancestors=[bad])


def test_pages_preload_every_module_their_script_imports(client: TestClient) -> None:
    from app.api.assets import module_graph

    html = client.get("/").text
    preloaded = re.findall(r'<link rel="modulepreload" href="/static/js/([^"]+)">', html)
    assert preloaded == list(module_graph("main.js"))
    assert "trace-doc.js" in preloaded and "api.js" in preloaded and "main.js" not in preloaded
    for module in preloaded:  # every hint names a module the server has
        assert client.get(f"/static/js/{module}").status_code == 200


def test_the_pages_first_trace_is_computed_while_it_loads(client: TestClient) -> None:
    import time

    cache = client.app.state.trace_cache  # type: ignore[attr-defined]
    model = client.app.state.zoo.models["tiny-char"]  # type: ignore[attr-defined]
    from app.api.schemas import TraceRequest

    key = cache.key(model, TraceRequest(model="tiny-char", text="prefetched text", target="a"))
    assert cache.peek(key) is None
    assert client.get("/", params={"model": "tiny-char", "text": "prefetched text", "target": "a"}).status_code == 200
    deadline = time.monotonic() + 10
    while (entry := cache.peek(key)) is None or not entry.trace.triangle or not entry.trace.triangle.complete:
        assert time.monotonic() < deadline, "the page's first trace was not prefetched"
        time.sleep(0.02)
    # a page whose state its own code decides is not guessed at
    client.get("/", params={"model": "tiny-char", "text": "not this one", "clamps": "x"})
    assert cache.peek(cache.key(model, TraceRequest(model="tiny-char", text="not this one"))) is None


def test_a_page_that_shows_no_gradients_has_only_its_forward_prefetched(client: TestClient) -> None:
    """An embed (no panels) or an explorer link without the gradients panel: the triangle is not computed
    for a page that will not ask for it."""
    import time

    from app.api.schemas import TraceRequest

    cache = client.app.state.trace_cache  # type: ignore[attr-defined]
    model = client.app.state.zoo.models["tiny-char"]  # type: ignore[attr-defined]
    for path, params in (("/embed", {}), ("/", {"panels": "predictions,memory"})):
        text = f"prefetched for {path}"
        key = cache.key(model, TraceRequest(model="tiny-char", text=text))
        assert client.get(path, params={"model": "tiny-char", "text": text, **params}).status_code == 200
        deadline = time.monotonic() + 10
        while cache.peek(key) is None or cache._prefetching:
            assert time.monotonic() < deadline, "the page's first trace was not prefetched"
            time.sleep(0.02)
        entry = cache.peek(key)
        assert entry is not None and entry.trace.triangle is None, path


def test_the_allocator_is_tuned_where_it_is_glibc() -> None:
    import platform

    from app import allocator

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc only")
    assert allocator.tune()
