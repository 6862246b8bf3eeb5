"""Finding models: the ones that ship in the package plus any directories the user names."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ModelFileError
from .files import load_model, model_dirs
from .model import Model

log = logging.getLogger(__name__)


def shipped_models_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "models"


@dataclass
class Zoo:
    models: dict[str, Model] = field(default_factory=dict)
    failed: list[dict[str, str]] = field(default_factory=list)  # [{"path", "error"}] for the UI to report


def load_zoo(extra_dirs: list[Path] | None = None, include_shipped: bool = True) -> Zoo:
    """Load every model found; a broken directory is reported in `failed`, never fatal."""
    roots = ([shipped_models_dir()] if include_shipped else []) + list(extra_dirs or [])
    zoo = Zoo()
    for root in roots:
        for path in model_dirs(Path(root)):
            try:
                model = load_model(path)
            except ModelFileError as e:
                log.warning("skipping model %s: %s", path, e)
                zoo.failed.append({"path": str(path), "error": str(e)})
                continue
            except Exception as e:  # a check we lack: still only this directory fails, never the server
                log.exception("skipping model %s", path)
                zoo.failed.append({"path": str(path), "error": f"could not be loaded ({type(e).__name__}: {e})"})
                continue
            zoo.models[model.id] = model  # later directories override shipped models of the same id
    return zoo


def discover_models(extra_dirs: list[Path] | None = None) -> dict[str, Model]:
    return load_zoo(extra_dirs).models
