"""GET /api/scenes and /api/scenes/{name}: the scenes' data (their pages, /scenes and /lab, are in
pages.py). A bad scene file is reported (log, gallery, 422 for its name), never a crash."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.deps import ScenesDep, ZooDep
from app.api.errors import ApiError
from app.api.schemas import ErrorResponse, SceneDocument, SceneSummary
from app.scenes import SceneError, find_scene, model_problems

router = APIRouter(prefix="/scenes", tags=["scenes"])


@router.get("", response_model=list[SceneSummary], summary="List the scenes")
async def list_scenes(scenes: ScenesDep) -> list[dict[str, Any]]:
    return [scene.summary_row() for scene in scenes.values()]


@router.get(
    "/{name}",
    response_model=SceneDocument,
    response_model_exclude_none=True,
    summary="One scene: its states, captions and checkable claims",
    responses={
        404: {"model": ErrorResponse, "description": "no scene with this name"},
        422: {"model": ErrorResponse, "description": "the scene's file is not valid"},
    },
)
async def read_scene(name: str, scenes: ScenesDep, zoo: ZooDep) -> dict[str, Any]:
    try:
        scene = find_scene(scenes, name)
    except SceneError as e:
        raise ApiError(422, "invalid_scene", f"the scene file {e.path} is not valid: {e.message}") from e
    except KeyError:
        raise ApiError(404, "unknown_scene", f"there is no scene {name!r}; see GET /api/scenes") from None
    doc = scene.model_dump(mode="json", exclude_none=True)
    doc["problems"] = model_problems(scene, zoo.models)
    return doc
