"""A client's mistake is a 4xx whose message names the field and the rule in words; a crash is a JSON 500
with the same security headers as every page; bad files in the model directory are reported, not served."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_api import assert_error

from app.api.routes.docs import SWAGGER_UI_ASSETS, SWAGGER_UI_PATH
from app.config import Settings
from app.nn import random_model, save_model

TRACE = {"model": "tiny-char", "text": "hi"}


def clamp(**fields: Any) -> dict[str, Any]:
    return {**TRACE, "interventions": [{"gate": "forget", "value": 0.5, **fields}]}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (clamp(stop=18446744073709551616), "interventions.0.stop: must be at most 100000"),
        (clamp(start=-(2**70)), "interventions.0.start: must be at least 0"),
        (clamp(layer=4), "interventions.0.layer: must be at most 3"),
        (clamp(units=[2**64]), "interventions.0.units.0: must be at most 65535"),
        (clamp(units=[1.5]), "interventions.0.units.0: must be an integer"),
        (clamp(value="0.5"), "interventions.0.value: must be a number"),
        ({**TRACE, "model": "m" * 300}, "model: must have at most 200 characters"),
        ({**TRACE, "text": ""}, "text: must not be empty"),
        ({"text": "hi"}, "model: is required"),
        ({**TRACE, "colour": 1}, "colour: is not a field of this request"),
    ],
)
def test_rest_validation_names_the_field_and_the_rule(client: TestClient, body: dict, words: str) -> None:
    message = assert_error(client.post("/api/trace", json=body), 422, "invalid_request", words)
    assert "<" not in message and "Input should" not in message, message


def test_whole_floats_are_integers_as_the_schema_says(client: TestClient) -> None:
    """JSON Schema counts 3.0 as an integer; a client generating from the schema may send it."""
    r = client.post("/api/trace", json=clamp(units=[1.0, 3.0], layer=1.0, start=0.0, stop=2.0))
    assert r.status_code == 200, r.text
    assert r.json()["interventions"][0]["units"] == [1, 3]
    r = client.post("/api/continue", json={**TRACE, "length": 5.0})
    assert r.status_code == 200 and len(r.json()["tokens"]) == 5


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ({"type": "trace", "id": "x" * 200, **TRACE}, "id: must have at most 128 characters or must be an integer"),
        ({"type": "trace", "id": 2**60, **TRACE}, "id: must be a string or must be at most 9007199254740991"),
        ({"type": "trace", "id": 1, "model": "tiny-char", "text": 5}, "text: must be a string"),
        ({"type": "trace", "id": 1, **clamp(stop=2**64)}, "interventions.0.stop: must be at most 100000"),
    ],
)
def test_websocket_validation_messages_are_words_not_reprs(client: TestClient, message: dict, words: str) -> None:
    with client.websocket_connect("/ws/trace") as ws:
        ws.send_text(json.dumps(message))
        reply = ws.receive_json()
        assert reply["type"] == "error" and reply["code"] == "invalid_message", reply
        assert reply["message"] == words, reply["message"]
        assert "functools" not in reply["message"] and "0x" not in reply["message"]
        ws.send_text(json.dumps({"type": "trace", "id": 2, **TRACE}))  # the socket still serves
        assert ws.receive_json()["type"] == "meta"


def test_a_crash_is_a_json_500_with_the_security_headers(make_client: Any, settings: Settings) -> None:
    client = make_client(settings, raise_server_exceptions=False)

    async def boom() -> None:
        raise RuntimeError("a bug")

    client.app.add_api_route("/api/boom", boom)
    r = client.get("/api/boom")
    assert_error(r, 500, "internal_error", "the error is logged")
    assert "a bug" not in r.text
    page = client.get("/")
    for header in ("content-security-policy", "x-content-type-options", "referrer-policy"):
        assert r.headers[header] == page.headers[header], header
    assert client.get("/healthz").status_code == 200  # and the next request is served


def test_csp_names_the_apps_own_socket_and_lets_any_page_embed(client: TestClient) -> None:
    csp = client.get("/embed", headers={"host": "lecture.example:8000"}).headers["content-security-policy"]
    assert "connect-src 'self' ws://lecture.example:8000;" in csp
    assert "ws:" not in csp.replace("ws://lecture.example:8000", "") and "wss:" not in csp
    assert "frame-ancestors" not in csp  # '*' would not match a deck opened from file://
    hostile = client.get("/", headers={"host": "x; script-src *"}).headers["content-security-policy"]
    assert "script-src *" not in hostile and "connect-src 'self';" in hostile


@pytest.mark.parametrize("restricted", [["'self'"], ["'none'"], ["https://slides.example.org", "'self'"]])
def test_a_restricting_frame_ancestors_setting_is_sent(make_client: Any, settings: Settings, restricted) -> None:
    csp = make_client(settings.model_copy(update={"frame_ancestors": restricted})).get("/embed").headers
    assert csp["content-security-policy"].endswith(f"frame-ancestors {' '.join(restricted)}")


def test_vendor_serves_only_what_the_docs_page_loads(client: TestClient) -> None:
    for name in SWAGGER_UI_ASSETS:
        assert client.get(f"{SWAGGER_UI_PATH}/{name}").status_code == 200, name
    for name in ("index.html", "swagger-ui-bundle.js.map", "swagger-ui.css.map", "swagger-initializer.js", ""):
        r = client.get(f"{SWAGGER_UI_PATH}/{name}")
        assert_error(r, 404, "http_404")
        assert r.headers["x-content-type-options"] == "nosniff"


def test_a_card_that_broke_the_model_list_is_reported_instead(make_client: Any, tmp_path: Path) -> None:
    """`"title": 5` used to load and then make GET /api/models a 500 for every user."""
    save_model(random_model("lstm", model_id="good"), tmp_path / "good")
    bad = save_model(random_model("lstm", model_id="bad"), tmp_path / "bad")
    card = json.loads((bad / "model.json").read_text())
    (bad / "model.json").write_text(json.dumps({**card, "title": 5}))
    client = make_client(Settings(model_dirs=[tmp_path], shipped_models=False))
    body = client.get("/api/models").json()
    assert [m["id"] for m in body["models"]] == ["good"]
    assert body["failed"] == [{"path": str(bad), "error": "model.json: 'title' must be a string, not an integer"}]
    assert client.get("/").status_code == 200
