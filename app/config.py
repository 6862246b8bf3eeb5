"""Server settings, read from the environment (prefix ``LSTM_EXPLAINER_``).

Every field can be set as ``LSTM_EXPLAINER_<FIELD>``; list fields also accept a plain string:
``LSTM_EXPLAINER_MODELS`` (or ``..._MODEL_DIRS``) is split on ``os.pathsep`` like ``PATH``, and the
origin lists are split on spaces or commas, so no JSON quoting is needed in a shell.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The most characters LSTM_EXPLAINER_MAX_CHARS may allow, and what the API schema promises: 5,000 characters
# fit the default 64 KiB body however they are escaped (an astral character is 12 bytes of JSON).
MAX_TEXT = 5000

# A CSP source or an origin: no whitespace, separators or stray quotes that could break the header.
_SOURCE = re.compile(r"^('self'|'none'|[^\s;,'\"]+)$")


def _split(value: Any, separators: str) -> Any:
    """Accept a JSON list or a separated string (an unset list stays as given)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        return json.loads(text)
    return [part for part in re.split(f"[{re.escape(separators)}]", text) if part.strip()]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LSTM_EXPLAINER_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    # Serve the models that ship in the package; off to serve only `model_dirs`.
    shipped_models: bool = True
    # Extra model directories, searched after the shipped models (a later id replaces an earlier one).
    model_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("model_dirs", "LSTM_EXPLAINER_MODEL_DIRS", "LSTM_EXPLAINER_MODELS"),
    )
    # Lecturers' own scene directories (*.json, docs/scenes.md), after the shipped scenes; same name replaces.
    scene_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("scene_dirs", "LSTM_EXPLAINER_SCENE_DIRS", "LSTM_EXPLAINER_SCENES"),
    )
    max_chars: int = Field(2000, ge=1, le=MAX_TEXT)
    max_word_tokens: int = Field(500, ge=1)
    max_interventions: int = Field(32, ge=0)
    # Gradients through time cost T²·H²·layers; past this the trace comes without them, with a notice.
    # 1.1e10 is about 400 tokens on a one-layer H=256 model (a few seconds of one core).
    gradient_work_limit: float = Field(1.1e10, gt=0)
    # A trace request is a few hundred bytes; 64 KiB leaves room for 2,000 characters of any script
    # plus the largest allowed list of interventions.
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    max_ws_message_bytes: int = Field(64 * 1024, ge=1024)
    # permessage-deflate on the WebSocket: frames about half the size, for 6x the server CPU per frame.
    # Off, because CPU is what runs out first with a lecture hall on a laptop; turn on for a slow network.
    ws_compression: bool = False
    # Who may put the pages in an <iframe> (CSP frame-ancestors); "*" lets any slide deck embed them.
    frame_ancestors: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["*"])
    # Browser origins whose pages may open the WebSocket, besides the app's own origin.
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["*"])
    # Traces computed at once, across all sockets and requests; more would only fight over the cores.
    trace_concurrency: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    # Memory for streamed traces kept for the next socket that asks for the same one (0 turns it off).
    trace_cache_bytes: int = Field(64 * 1024 * 1024, ge=0)
    # Memory for the traces sockets are streaming, kept whatever the cache lets go (0 turns pins off): with a
    # room of different sentences the cache would otherwise let a trace go before its rows were sent.
    trace_pin_bytes: int = Field(128 * 1024 * 1024, ge=0)
    # WebSockets one client address may hold open at once (a lecture hall behind one NAT shares an address:
    # raise it there). More are closed with 1008.
    ws_max_per_client: int = Field(32, ge=1)
    # The page's instant local forward (static/js/features/local-forward.js): on a keystroke the engine in
    # the page paints the forward pass at once and the server's trace replaces it when it arrives. Off by
    # default: measured, it takes a tenth or less off a keystroke's repaint on loopback, for a weights
    # download per page and the server's numbers 20-45 ms later (README, "Without a server"). A page's
    # `?local=1` or `?local=0` overrides it. Models whose weights file is larger than
    # `local_forward_max_bytes` are never sent to a page (GET /api/models/{id}/weights.safetensors).
    local_forward: bool = False
    local_forward_max_bytes: int = Field(4_000_000, ge=0)
    # Seconds a frame may wait for a client that does not read it; then the socket is closed with 1013
    # and everything it held is let go. (A socket never queues more than one frame of its own.)
    ws_send_timeout: float = Field(10.0, gt=0)

    @field_validator("model_dirs", "scene_dirs", mode="before")
    @classmethod
    def _split_paths(cls, value: Any) -> Any:
        return _split(value, os.pathsep)

    @field_validator("frame_ancestors", "allowed_origins", mode="before")
    @classmethod
    def _split_sources(cls, value: Any) -> Any:
        return _split(value, " ,")

    @field_validator("frame_ancestors", "allowed_origins")
    @classmethod
    def _check_sources(cls, value: list[str]) -> list[str]:
        for source in value:
            if not _SOURCE.match(source):
                raise ValueError(f"{source!r} is not an origin or CSP source (e.g. https://slides.example.org)")
        if not value:
            raise ValueError("give at least one source; use 'none' to forbid all")
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
