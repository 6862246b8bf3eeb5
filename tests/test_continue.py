"""POST /api/continue through TestClient: the continuation, its defaults, the OpenAPI entry, and every error
path answered with the one error shape (never a 500)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.cards import vocab_signature
from app.nn import load_model, random_model
from app.nn.generate import Sampling, continue_text, join_tokens


def assert_error(response: Any, status: int, code: str, *words: str) -> None:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert detail["code"] == code, detail
    for word in words:
        assert word in detail["message"], (word, detail["message"])


def test_continue_a_char_model(client: TestClient, models_root: Any) -> None:
    r = client.post("/api/continue", json={"model": "tiny-char", "text": "the cat", "length": 30})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"model", "text", "continuation", "tokens", "sampling"}
    assert body["sampling"] == {"temperature": 0.0, "top_k": 0, "top_p": 1.0, "seed": None}  # greedy
    assert body["model"] == "tiny-char" and body["text"] == "the cat"
    assert len(body["tokens"]) == 30
    assert body["continuation"] == "".join(t["text"] for t in body["tokens"])
    model = load_model(models_root / "tiny-char")
    assert body["continuation"] == join_tokens(model, continue_text(model, "the cat", 30))
    # Deterministic: asked again, the same answer.
    assert client.post("/api/continue", json={"model": "tiny-char", "text": "the cat", "length": 30}).json() == body


def test_a_sample_is_written_again_by_its_seed(client: TestClient, models_root: Any) -> None:
    ask = {"model": "tiny-char", "text": "the cat", "length": 40, "temperature": 1.2, "top_k": 5, "top_p": 0.9}
    first = client.post("/api/continue", json=ask).json()  # no seed: the server picks one and says which
    seed = first["sampling"]["seed"]
    assert isinstance(seed, int) and first["sampling"]["temperature"] == 1.2
    again = client.post("/api/continue", json={**ask, "seed": seed}).json()
    assert again == first
    model = load_model(models_root / "tiny-char")
    want = join_tokens(model, continue_text(model, "the cat", 40, Sampling(1.2, 5, 0.9, seed)))
    assert first["continuation"] == want
    other = client.post("/api/continue", json={**ask, "seed": (seed + 1) % 2**32}).json()
    assert other["continuation"] != first["continuation"]


def test_default_lengths_are_200_characters_and_20_words(client: TestClient) -> None:
    char = client.post("/api/continue", json={"model": "tiny-char", "text": "ab"}).json()
    assert len(char["tokens"]) == 200 and len(char["continuation"]) == 200
    word = client.post("/api/continue", json={"model": "tiny-word", "text": "the keys to the"}).json()
    assert len(word["tokens"]) == 20
    assert word["continuation"] == "".join(f" {t['text']}" for t in word["tokens"])


def test_unknown_characters_in_the_text_are_fine(client: TestClient) -> None:
    r = client.post("/api/continue", json={"model": "tiny-char", "text": "ÆØ€ 漢字", "length": 5})
    assert r.status_code == 200, r.text
    assert all(not t["unknown"] for t in r.json()["tokens"])


def test_unknown_model_is_404_with_the_list(client: TestClient) -> None:
    r = client.post("/api/continue", json={"model": "nope", "text": "abc"})
    assert_error(r, 404, "unknown_model", "'nope'", "tiny-char")


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"model": "tiny-char", "text": "abc", "length": 0}, "invalid_request", ["length"]),
        ({"model": "tiny-char", "text": "abc", "length": 401}, "invalid_request", ["length", "400"]),
        ({"model": "tiny-char", "text": "abc", "length": "5"}, "invalid_request", ["length"]),
        ({"model": "tiny-char", "text": "abc", "length": 2.5}, "invalid_request", ["length"]),
        ({"model": "tiny-char", "text": "abc", "temperature": 2.5}, "invalid_request", ["temperature"]),
        ({"model": "tiny-char", "text": "abc", "temperature": -1}, "invalid_request", ["temperature"]),
        ({"model": "tiny-char", "text": "abc", "top_k": -1}, "invalid_request", ["top_k"]),
        ({"model": "tiny-char", "text": "abc", "top_p": 0}, "invalid_request", ["top_p"]),
        ({"model": "tiny-char", "text": "abc", "seed": -1}, "invalid_request", ["seed"]),
        ({"model": "tiny-char", "text": "abc", "seed": 2**32}, "invalid_request", ["seed"]),
        ({"model": "tiny-char", "text": "abc", "temprature": 1}, "invalid_request", ["temprature"]),
        ({"model": "tiny-char"}, "invalid_request", ["text"]),
        ({"text": "abc"}, "invalid_request", ["model"]),
        ({"model": "", "text": "abc"}, "invalid_request", ["model"]),
        ({"model": "tiny-char", "text": ""}, "invalid_request", ["text: must not be empty"]),
        ({"model": "tiny-char", "text": "x" * 301}, "text_too_long", ["301", "300"]),
        ({"model": "tiny-word", "text": "the " * 21}, "text_too_long", ["21 word tokens", "20"]),
    ],
)
def test_bad_requests_are_422_with_a_message(
    client: TestClient, body: dict[str, Any], code: str, words: list[str]
) -> None:
    assert_error(client.post("/api/continue", json=body), 422, code, *words)


def test_not_json_is_400_and_an_unpaired_surrogate_422(client: TestClient) -> None:
    r = client.post("/api/continue", content=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(r, 400, "bad_body")
    r = client.post(
        "/api/continue",
        content=b'{"model": "tiny-char", "text": "a\\ud800b"}',
        headers={"Content-Type": "application/json"},
    )
    assert_error(r, 422, "invalid_request", "surrogate")


def test_a_huge_body_is_413(client: TestClient) -> None:
    r = client.post("/api/continue", json={"model": "tiny-char", "text": "a" * 5000})
    assert r.status_code == 413


def test_get_is_405_in_the_error_shape(client: TestClient) -> None:
    assert_error(client.get("/api/continue"), 405, "http_405")


def test_openapi_documents_the_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/api/continue"]["post"]
    assert "Greedy" in op["description"] and "seed" in op["description"]
    assert {"200", "404", "422"} <= set(op["responses"])
    schemas = spec["components"]["schemas"]
    assert set(schemas["ContinueResponse"]["properties"]) == {"model", "text", "continuation", "tokens", "sampling"}
    assert {"temperature", "top_k", "top_p", "seed"} <= set(schemas["ContinueRequest"]["properties"])
    length = schemas["ContinueRequest"]["properties"]["length"]
    assert "200 for character models" in length["description"]


def test_cards_carry_a_vocabulary_signature_for_compare_mode(client: TestClient) -> None:
    """Compare mode pairs only models that read text into the same tokens; the card says which those are."""
    cards = {c["id"]: c for c in client.get("/api/models").json()["models"]}
    assert cards["tiny-char"]["vocab_signature"] != cards["tiny-word"]["vocab_signature"]
    a, b = random_model("lstm", seed=1), random_model("rnn", seed=2)  # the same default vocabulary
    assert vocab_signature(a) == vocab_signature(b)
    assert vocab_signature(a) != vocab_signature(random_model("lstm", vocab=["<unk>", "a", "b"]))
