"""The HTTP API on a classifier and a forecaster: their documents, their targets, and a client's mistakes
(letters to a forecaster, a label the classifier lacks, a continuation of a model that writes no text) as
4xx answers that say what was wrong."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.nn import random_model, save_model


@pytest.fixture(scope="module")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root: Path = tmp_path_factory.mktemp("kinds")
    vocab = ["<unk>", "the", "film", "was", "not", "good", "bad", "but", "."]
    save_model(random_model("lstm", vocab, tokenizer="word", hidden_size=5, model_id="tiny-classifier",
                            kind="classifier"), root / "tiny-classifier")  # fmt: skip
    save_model(random_model("gru", hidden_size=5, model_id="tiny-forecaster", kind="forecaster",
                            normalisation=(50.0, 30.0)), root / "tiny-forecaster")  # fmt: skip
    with TestClient(create_app(Settings(model_dirs=[root], shipped_models=False))) as client:
        yield client


def test_a_classifier_document(kinds: TestClient) -> None:
    r = kinds.post(
        "/api/trace", json={"model": "tiny-classifier", "text": "the film was not good", "target": "positive"}
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["model"]["task_kind"] == "classifier" and doc["model"]["classes"] == ["negative", "positive"]
    assert {c["label"] for c in doc["steps"][0]["classes"]} == {"negative", "positive"}
    assert doc["steps"][-1]["expected"]["token"] == "positive" and doc["steps"][-1]["loss"] > 0
    assert len(doc["gradients"]["params"]["attribution"]) == 5
    card = kinds.get("/api/models/tiny-classifier").json()
    assert card["task_kind"] == "classifier"


def test_a_forecaster_document(kinds: TestClient) -> None:
    r = kinds.post("/api/trace", json={"model": "tiny-forecaster", "text": "10, 20 30", "target": "40"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert [s["forecast"]["expected"] for s in doc["steps"]] == [20.0, 30.0, 40.0]
    assert [t["value"] for t in doc["tokens"]] == [10.0, 20.0, 30.0]
    assert doc["gradients"]["params"]["embedding"] is None


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"model": "tiny-forecaster", "text": "10, 20, thirty"}, "not_a_number", "'thirty' (item 3) is not a number"),
        ({"model": "tiny-forecaster", "text": "10 20", "target": "up"}, "not_a_number", "'up' (item 1)"),
        ({"model": "tiny-forecaster", "text": "10 20", "target": "1 2"}, "bad_target", "one number"),
        ({"model": "tiny-forecaster", "text": ", ,"}, "empty_text", "nothing to trace"),
        ({"model": "tiny-classifier", "text": "the film", "target": "good"}, "bad_target", "['negative', 'positive']"),
    ],
)
def test_a_clients_mistake_is_a_422_that_says_what(kinds: TestClient, body: dict, code: str, words: str) -> None:
    r = kinds.post("/api/trace", json=body)
    assert r.status_code == 422, r.text
    error = r.json()["detail"]
    assert error["code"] == code and words in error["message"]


@pytest.mark.parametrize("model", ["tiny-classifier", "tiny-forecaster"])
def test_a_model_that_writes_no_text_is_not_continued(kinds: TestClient, model: str) -> None:
    r = kinds.post("/api/continue", json={"model": model, "text": "10 20" if "fore" in model else "the film"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"]["code"] == "not_a_language_model"


def test_the_schema_states_each_kinds_targets(kinds: TestClient) -> None:
    schema = kinds.get("/openapi.json").json()
    assert r"positive" in str(schema) and "numbers separated by commas" in str(schema)


def test_the_listing_and_documents_of_every_kind_match_their_schemas(kinds: TestClient) -> None:
    """The response models describe what is served for every kind: a forecaster's numbers tokenizer, a
    classifier's readings (a 500 here once: the card's tokenizer was 'char' | 'word' only)."""
    from app.api.schemas import ModelList, TraceDocument

    listing = kinds.get("/api/models")
    assert listing.status_code == 200, listing.text
    assert {m["tokenizer"] for m in ModelList.model_validate(listing.json()).model_dump()["models"]} >= {"numbers"}
    for model, text, target in [("tiny-classifier", "the film was not good", "negative"),
                                ("tiny-forecaster", "20, 35, 48", "40")]:  # fmt: skip
        assert kinds.get(f"/api/models/{model}").status_code == 200
        r = kinds.post("/api/trace", json={"model": model, "text": text, "target": target})
        assert r.status_code == 200, r.text
        TraceDocument.model_validate(r.json())


def test_every_shipped_model_is_listed_and_traced_as_its_schema_says() -> None:
    from app.api.schemas import ModelList, TraceDocument

    with TestClient(create_app(Settings(model_dirs=[], shipped_models=True))) as client:
        listing = client.get("/api/models")
        assert listing.status_code == 200, listing.text
        cards = ModelList.model_validate(listing.json()).models
        assert {"sentiment-lstm", "series-lstm", "lecture-lstm"} <= {c.id for c in cards}
        for card in cards:
            assert client.get(f"/api/models/{card.id}").status_code == 200, card.id
            example = card.model_extra.get("example") if card.model_extra else None
            text = " ".join(str(example or "the cat sat").split()[:6])[:40]
            r = client.post("/api/trace", json={"model": card.id, "text": text})
            assert r.status_code == 200, f"{card.id}: {r.text}"
            TraceDocument.model_validate(r.json())
