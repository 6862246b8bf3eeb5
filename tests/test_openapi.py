"""The OpenAPI schema states what the running server enforces: a request the schema admits is answered 200,
one it refuses gets a 4xx (schemathesis's "schema-valid request rejected" and "schema-violating request
accepted", checked here on requests chosen at every limit)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from app.api.openapi import SCANNED, uppercase_of, whitespace
from app.config import Settings
from app.main import create_app
from app.nn import Model, random_model, save_model
from app.nn.tokenizer import Tokenizer


def validator(schema: dict[str, Any], name: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": schema["components"]})


def test_a_server_started_with_other_settings_publishes_those_limits(make_client: Any, models_root: Path) -> None:
    settings = Settings(
        model_dirs=[models_root], shipped_models=False, max_chars=77, max_word_tokens=9, max_interventions=5
    )
    client = make_client(settings)
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    for name in ("TraceRequest", "ContinueRequest"):
        props = components[name]["properties"]
        assert props["text"]["maxLength"] == 77
        assert "77 characters" in props["text"]["description"] and "9 word tokens" in props["text"]["description"]
        assert props["model"]["enum"] == ["tiny-char", "tiny-word"]
        assert [b["properties"]["model"]["const"] for b in components[name]["oneOf"]] == ["tiny-char", "tiny-word"]
    assert components["TraceRequest"]["properties"]["interventions"]["maxItems"] == 5
    (param,) = schema["paths"]["/api/models/{model_id}"]["get"]["parameters"]
    assert param["schema"]["enum"] == ["tiny-char", "tiny-word"]
    # What some loaded model takes: the LSTM's and the GRU's gates, tiny-char's two layers and 8 units.
    iv = components["Intervention"]["properties"]
    assert iv["gate"]["enum"] == ["candidate", "forget", "input", "output", "reset", "update"]
    assert (iv["value"]["minimum"], iv["value"]["maximum"], iv["layer"]["maximum"]) == (-1, 1, 1)
    assert iv["units"]["anyOf"][0]["items"]["maximum"] == 7
    assert client.app.openapi() is client.app.openapi()  # built once


def test_the_schema_is_right_for_the_settings_before_the_zoo_is_loaded(settings: Settings) -> None:
    app = create_app(settings)  # never started: no zoo yet
    schema = app.openapi()
    assert schema["components"]["schemas"]["TraceRequest"]["properties"]["text"]["maxLength"] == 300
    assert "oneOf" not in schema["components"]["schemas"]["TraceRequest"]
    assert app.openapi_schema is None  # not kept: the zoo's models and limits are still to come


def test_every_client_error_is_documented_in_the_one_error_shape(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            for status, response in op["responses"].items():
                if status.startswith("4"):
                    body = response["content"]["application/json"]["schema"]
                    assert body == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path, status)
                    assert response["description"], (method, path, status)


CHAR = {"model": "tiny-char", "text": "the cat"}  # LSTM, 2 layers of 8 units, a-z space . , (case kept)
WORD = {"model": "tiny-word", "text": "the cat sat"}  # GRU, 1 layer of 6 units, 14 words (lowercased)
NO_STEP = {"gate": "forget", "value": 0, "start": 99999, "stop": 0}


@pytest.mark.parametrize(
    "body",
    [
        CHAR,
        WORD,
        {**CHAR, "model": "tiny"},
        {**CHAR, "text": "x" * 300},
        {**CHAR, "text": "x" * 301},
        {**CHAR, "text": " "},
        {**CHAR, "text": "Ünïcode ☃"},  # unknown characters are tokens too
        {**WORD, "text": " \t\u3000\x1c"},  # whitespace only: no word token
        {**WORD, "text": "\ufeff"},  # not whitespace to Python (ECMAScript's \s says it is)
        *({**CHAR, "target": t} for t in ["", None, "a", " ", ".", "A", "ab", "<unk>", "é"]),
        *({**WORD, "target": t} for t in ["", "cabinet", " Cabinet\n", "CAT", "\u212a", "cats", "the cat", "."]),
        *({**WORD, "target": t} for t in ["   ", "<unk>", "unk", "table,", "\u3000table\x85"]),
        *({**CHAR, "interventions": [iv]} for iv in [NO_STEP, {"gate": "update", "value": 0.5}]),
        *({**CHAR, "interventions": [{"gate": "candidate", "value": v}]} for v in [-1, 1, -1.01]),
        *({**CHAR, "interventions": [{"gate": "input", "value": v}]} for v in [0, 1, -0.5, 1.5]),
        *({**CHAR, "interventions": [{"gate": "output", "value": 1, **f}]} for f in [{"layer": 1}, {"layer": 2}]),
        *({**CHAR, "interventions": [{"gate": "output", "value": 1, "units": u}]} for u in [[0, 7], [8], None]),
        *({**WORD, "interventions": [{"gate": g, "value": 1}]} for g in ["update", "reset", "forget"]),
        *({**WORD, "interventions": [{"gate": "update", "value": 1, **f}]} for f in [{"layer": 1}, {"units": [6]}]),
        {**WORD, "interventions": [{"gate": "reset", "value": 0, "units": [5], "start": 2, "stop": 2}]},
        {**CHAR, "interventions": [NO_STEP] * 3},
        {**CHAR, "interventions": [NO_STEP] * 4},
    ],
)
def test_a_trace_request_is_accepted_exactly_when_the_schema_admits_it(client: TestClient, body: dict) -> None:
    admitted = validator(client.get("/openapi.json").json(), "TraceRequest").is_valid(body)
    r = client.post("/api/trace", json={**body, "gradients": False})
    assert (r.status_code == 200) == admitted, (r.status_code, r.text)
    assert r.status_code in (200, 404, 422), r.text


@pytest.mark.parametrize("text", ["the", "the\u2028", "\u2028", "  ", "Zebras?"])
def test_a_continuation_is_asked_exactly_when_the_schema_admits_it(client: TestClient, text: str) -> None:
    body = {"model": "tiny-word", "text": text, "length": 2}
    admitted = validator(client.get("/openapi.json").json(), "ContinueRequest").is_valid(body)
    r = client.post("/api/continue", json=body)
    assert (r.status_code == 200) == admitted, (r.status_code, r.text)


def test_a_model_without_an_unknown_token_takes_only_its_characters(make_client: Any, tmp_path: Path) -> None:
    """An imported vocabulary may have no unknown token: a character outside it is a 422 unknown_token."""
    vocab = ["<unk>", "a", "b", "c", " "]  # "<unk>" here is a word no character text can spell
    loose = random_model("lstm", vocab=vocab)
    save_model(Model(loose.card, loose.params, Tokenizer("char", vocab, unk=None)), tmp_path / "strict")
    client = make_client(Settings(model_dirs=[tmp_path], shipped_models=False))
    check = validator(client.get("/openapi.json").json(), "TraceRequest")
    for text, target in [("abc a", "c"), ("abd", ""), ("ab", "d"), ("<unk>", None), ("ABC", "a")]:
        body = {"model": "random-lstm", "text": text, "target": target, "gradients": False}
        r = client.post("/api/trace", json=body)
        assert (r.status_code == 200) == check.is_valid(body), (body, r.text)
        assert r.status_code in (200, 422)


def test_the_word_token_limit_is_the_one_limit_the_schema_cannot_state(client: TestClient) -> None:
    """21 words fit in 300 characters; how many word tokens a text holds depends on how it splits, which
    no JSON Schema keyword can count. The 422 says which limit and is documented."""
    body = {**WORD, "text": " ".join(["cat"] * 21)}
    schema = client.get("/openapi.json").json()
    assert validator(schema, "TraceRequest").is_valid(body)
    r = client.post("/api/trace", json=body)
    assert r.status_code == 422 and r.json()["detail"]["code"] == "text_too_long"
    assert "20 word tokens" in schema["components"]["schemas"]["TraceRequest"]["properties"]["text"]["description"]


def test_no_character_past_the_scanned_range_is_whitespace_or_has_a_lower_case() -> None:
    rest = [chr(c) for c in range(SCANNED, sys.maxunicode + 1)]
    assert not [c for c in rest if c.isspace()]
    assert not [c for c in rest if c.lower() != c]
    assert "\u3000" in whitespace() and "\ufeff" not in whitespace()
    assert sorted(uppercase_of()["k"]) == ["K", "\u212a"]  # the Kelvin sign lowercases to k
