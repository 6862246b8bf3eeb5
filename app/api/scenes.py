"""Scenes: GET /api/scenes and /api/scenes/{name} (the data), /scenes (the gallery) and /lab (the
vanishing/exploding-gradient mini-lab). Scene files are read on each request, so a lecturer's edit shows
up on reload; a bad file is reported (log, gallery, 422 for its name), never a crash."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from app.api.assets import asset_version
from app.api.deps import SettingsDep, TemplatesDep, ZooDep
from app.api.errors import ApiError
from app.api.schemas import ErrorResponse
from app.config import Settings
from app.scenes import SceneLibrary, load_scenes, model_problems, scene_dirs

router = APIRouter(tags=["scenes"])
log = logging.getLogger("uvicorn.error")


class SceneSummary(BaseModel):
    name: str
    title: str
    summary: str
    kind: str
    count: int = Field(description="how many states (pages) the scene has")


class SceneDocument(BaseModel):
    name: str
    title: str
    summary: str
    kind: str
    order: int
    states: list[dict[str, Any]] = Field(description="each: caption, state (partial front-end state), expect")
    problems: list[str] = Field(default_factory=list, description="what this server cannot show, e.g. a model")


def library(settings: Settings) -> SceneLibrary:
    scenes = load_scenes(scene_dirs(settings.scene_dirs))
    for failure in scenes.failed:
        log.warning("scene not loaded: %(path)s: %(error)s", failure)
    return scenes


@router.get("/api/scenes", response_model=list[SceneSummary], summary="List the scenes")
async def list_scenes(settings: SettingsDep) -> list[dict[str, Any]]:
    return [scene.summary_row() for scene in library(settings).values()]


@router.get(
    "/api/scenes/{name}",
    response_model=SceneDocument,
    response_model_exclude_none=True,
    summary="One scene: its states, captions and checkable claims",
    responses={
        404: {"model": ErrorResponse, "description": "no scene with this name"},
        422: {"model": ErrorResponse, "description": "the scene's file is not valid"},
    },
)
async def get_scene(name: str, settings: SettingsDep, zoo: ZooDep) -> dict[str, Any]:
    scenes = library(settings)
    scene = scenes.get(name)
    if scene is None:
        bad = next((f for f in scenes.failed if f["name"] == name), None)
        if bad:
            raise ApiError(422, "invalid_scene", f"the scene file {bad['path']} is not valid: {bad['error']}")
        raise ApiError(404, "unknown_scene", f"there is no scene {name!r}; see GET /api/scenes")
    doc = scene.model_dump(mode="json", exclude_none=True)
    doc["problems"] = model_problems(scene, zoo.models)
    return doc


def _page(request: Request, templates: Jinja2Templates, name: str, context: dict[str, Any]) -> HTMLResponse:
    config = {"version": asset_version(), "apiBase": "/api", **context.pop("config", {})}
    context = {"config": config, "version": asset_version(), "embed": False, **context}
    return templates.TemplateResponse(request, name, context, headers={"Cache-Control": "no-cache"})


@router.get("/scenes", response_class=HTMLResponse, include_in_schema=False)
async def gallery(request: Request, settings: SettingsDep, zoo: ZooDep, templates: TemplatesDep) -> HTMLResponse:
    scenes = library(settings)
    origin = str(request.base_url).rstrip("/")  # the embed URL is for another page: make it absolute
    cards = []
    for scene in scenes.values():
        base = "/lab" if scene.kind == "lab" else "/"
        embed = f"/lab?scene={scene.name}&embed=1" if scene.kind == "lab" else f"/embed?scene={scene.name}"
        cards.append(
            {
                **scene.summary_row(),
                "href": f"{base}?scene={scene.name}",
                "embed": embed,
                "embed_url": origin + embed,
                "problems": model_problems(scene, zoo.models),
            }
        )
    return _page(request, templates, "scenes.html", {"cards": cards, "failed": scenes.failed})


@router.get("/lab", response_class=HTMLResponse, include_in_schema=False)
async def lab(request: Request, templates: TemplatesDep, embed: bool = False) -> HTMLResponse:
    return _page(request, templates, "lab.html", {"config": {"embed": embed}, "lab_embed": embed})
