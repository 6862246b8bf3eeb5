"""Shared fixtures: tiny random models on disk, settings that point at them, and a client for the app."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.nn import random_model, save_model

WORD_VOCAB = [
    *["<unk>", "the", "keys", "to", "cabinet", "is", "are", "on", "table"],
    *["a", "cat", "sat", ".", ","],
]


@pytest.fixture(scope="session", autouse=True)
def clean_environment() -> Iterator[None]:
    """No LSTM_EXPLAINER_* variable from the developer's shell may change what the tests see."""
    with pytest.MonkeyPatch.context() as mp:
        for name in [k for k in os.environ if k.startswith("LSTM_EXPLAINER_")]:
            mp.delenv(name)
        yield


@pytest.fixture(scope="session")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two small models: a two-layer char LSTM and a word GRU."""
    root = tmp_path_factory.mktemp("models")
    char = random_model("lstm", layers=2, hidden_size=8, model_id="tiny-char", seed=1)
    word = random_model("gru", vocab=WORD_VOCAB, tokenizer="word", hidden_size=6, model_id="tiny-word", seed=2)
    save_model(char, root / "tiny-char")
    save_model(word, root / "tiny-word")
    return root


@pytest.fixture(scope="session")
def broken_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory whose weights file is not a weights file."""
    root = tmp_path_factory.mktemp("broken")
    save_model(random_model("lstm", model_id="broken"), root / "broken")
    (root / "broken" / "weights.safetensors").write_bytes(b"not safetensors")
    return root


@pytest.fixture(scope="session")
def settings(models_root: Path) -> Settings:
    # Small limits so every limit is cheap to hit.
    return Settings(
        model_dirs=[models_root],
        shipped_models=False,
        max_chars=300,
        max_word_tokens=20,
        max_interventions=3,
        max_body_bytes=4096,
        max_ws_message_bytes=4096,
        trace_concurrency=2,
    )


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    """One running app per test module (start-up loads the zoo)."""
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def make_client() -> Iterator[object]:
    """Build a client with other settings: `make_client(settings)`; closed after the test."""
    clients: list[TestClient] = []

    def make(settings: Settings, **kwargs: object) -> TestClient:
        client = TestClient(create_app(settings), **kwargs)  # type: ignore[arg-type]
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
