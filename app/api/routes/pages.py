"""The pages: the explorer, its embed, the scene gallery (/scenes), the gradient lab (/lab), and plotly.js
from vendor/ (no CDN: a lecture hall's network is not to be trusted)."""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from app.api.assets import asset_version, module_graph, plotly_response
from app.api.cards import default_model_id, public_card
from app.api.deps import ScenesDep, SettingsDep, TemplatesDep, TraceCacheDep, ZooDep
from app.api.errors import ApiError
from app.api.routes.models import offered
from app.api.schemas import TraceRequest
from app.api.tracer import TraceCache, check_request
from app.api.vocabulary import arch_vocabulary
from app.config import Settings
from app.nn import Zoo
from app.nn.generate import DEFAULT_LENGTH
from app.scenes import model_problems

router = APIRouter(tags=["pages"], include_in_schema=False)


def page_config(zoo: Zoo, settings: Settings, embed: bool) -> dict[str, Any]:
    """Everything main.js needs to start, handed over as JSON in <script type="application/json">."""
    return {
        "version": asset_version(),
        "wsPath": "/ws/trace",
        "apiBase": "/api",
        "models": [public_card(m) for m in zoo.models.values()],
        "defaultModel": default_model_id(zoo),
        "failed": zoo.failed,
        "limits": {
            "maxChars": settings.max_chars,
            "maxWordTokens": settings.max_word_tokens,
            "maxInterventions": settings.max_interventions,
        },
        "continuationLengths": DEFAULT_LENGTH,  # what POST /api/continue writes when not told a length
        "frameAncestors": settings.frame_ancestors,
        "embed": embed,
        "archs": arch_vocabulary(),  # gate names and ranges, the memory, scales: static/js/archs.js reads it
    }


def shows_gradients(request: Request, embed: bool) -> bool:
    """Whether the page opens showing gradients, so its socket asks for the rows at once
    (static/js/features/tracing.js syncGradientView): the gradients panel (state.js `panels`: the explorer's
    default list has it, an embed's has none) or compare mode, whose curves are gradients."""
    panels = request.query_params.get("panels")
    if request.query_params.get("compare"):
        return True
    return not embed if panels is None else "gradients" in panels.split(",")


def first_request(request: Request, zoo: Zoo, embed: bool = False) -> TraceRequest | None:
    """The trace the page will ask for first, as main.js builds it from the URL and the model's card (its
    example sentence and target); None when the page's own code decides (a scene, clamps, a starter).
    `gradients` says whether the page will ask for the gradient rows too (an open gradients panel)."""
    q = request.query_params
    if "scene" in q or "clamps" in q:
        return None
    model_id = q.get("model") or default_model_id(zoo)
    model = zoo.models.get(model_id or "")
    if model is None:
        return None
    if "text" in q:
        text, target = q["text"], q.get("target", "")
    elif model.card.get("example"):
        text, target = model.card["example"], q.get("target", model.card.get("example_target", ""))
    else:
        return None
    try:
        return TraceRequest(model=model.id, text=text, target=target or None, gradients=shows_gradients(request, embed))
    except ValueError:
        return None


def render(
    request: Request,
    templates: Jinja2Templates,
    zoo: Zoo,
    settings: Settings,
    embed: bool,
    cache: TraceCache | None = None,
) -> HTMLResponse:
    first = first_request(request, zoo, embed) if cache is not None else None
    if first is not None and cache is not None:
        with contextlib.suppress(ApiError):  # the page's own request will say what is wrong
            cache.prefetch(check_request(first, zoo, settings), first)  # computed while the page loads
    config = page_config(zoo, settings, embed)
    # The engine in the page, for the instant local forward (static/js/features/local-forward.js): the models
    # whose weights this server sends, from /api/models/{id}/ (routes/models.py).
    config["localForward"] = {
        "on": settings.local_forward,
        "models": [m.id for m in zoo.models.values() if offered(m, settings.local_forward_max_bytes)],
        "worker": f"/static/js/engine/worker.js?v={asset_version()}",
    }
    context = {
        "config": config,
        "version": asset_version(),
        "embed": embed,
        "preload_modules": module_graph("main.js"),
    }
    name = "embed.html" if embed else "index.html"
    # The page embeds the model list; revalidate so a restarted server's models show up.
    return templates.TemplateResponse(request, name, context, headers={"Cache-Control": "no-cache"})


@router.get("/", response_class=HTMLResponse)
async def index(
    request: Request, zoo: ZooDep, settings: SettingsDep, templates: TemplatesDep, cache: TraceCacheDep
) -> HTMLResponse:
    return render(request, templates, zoo, settings, embed=False, cache=cache)


@router.get("/embed", response_class=HTMLResponse)
async def embed(
    request: Request, zoo: ZooDep, settings: SettingsDep, templates: TemplatesDep, cache: TraceCacheDep
) -> HTMLResponse:
    return render(request, templates, zoo, settings, embed=True, cache=cache)


@router.get("/vendor/plotly.min.js")
async def plotly_js(request: Request) -> Response:
    return plotly_response(request)


def _page(request: Request, templates: Jinja2Templates, name: str, context: dict[str, Any]) -> HTMLResponse:
    config = {"version": asset_version(), "apiBase": "/api", **context.pop("config", {})}
    context = {"config": config, "version": asset_version(), "embed": False, **context}
    return templates.TemplateResponse(request, name, context, headers={"Cache-Control": "no-cache"})


@router.get("/scenes", response_class=HTMLResponse)
async def gallery(request: Request, scenes: ScenesDep, zoo: ZooDep, templates: TemplatesDep) -> HTMLResponse:
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


@router.get("/lab", response_class=HTMLResponse)
async def lab(request: Request, templates: TemplatesDep, embed: bool = False) -> HTMLResponse:
    return _page(request, templates, "lab.html", {"config": {"embed": embed}, "lab_embed": embed})
