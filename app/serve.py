"""Run the server under uvicorn: what `lstm-explainer serve` calls."""

from __future__ import annotations

import os
from pathlib import Path

import uvicorn

from app.config import get_settings


def serve(host: str, port: int, model_dirs: list[Path], workers: int) -> None:
    """Serve the shipped models plus `model_dirs` (added to any from the environment) until interrupted.

    Each worker is its own process that builds the app from the environment, so the model directories
    travel there, in LSTM_EXPLAINER_MODEL_DIRS.
    """
    missing = [d for d in model_dirs if not Path(d).is_dir()]
    if missing:
        raise SystemExit(f"lstm-explainer serve: {missing[0]} is not a directory (--models takes a directory)")
    settings = get_settings()
    dirs = [*settings.model_dirs, *(Path(d).resolve() for d in model_dirs)]
    os.environ["LSTM_EXPLAINER_MODEL_DIRS"] = os.pathsep.join(str(d) for d in dirs)
    os.environ.pop("LSTM_EXPLAINER_MODELS", None)  # now folded into MODEL_DIRS; read it once, not twice
    get_settings.cache_clear()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # Refuse oversize frames in the protocol layer (close 1009) before they are buffered for the app.
        ws_max_size=settings.max_ws_message_bytes,
        ws_per_message_deflate=settings.ws_compression,
        # Open sockets would otherwise hold Ctrl-C for as long as a lecture lasts.
        timeout_graceful_shutdown=5,
    )
