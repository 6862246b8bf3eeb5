"""The explorer page, the embed page, and plotly.js from the installed package (no CDN: a lecture hall's
network is not to be trusted)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from app.api.assets import asset_version, plotly_response
from app.api.cards import default_model_id, public_card
from app.api.deps import SettingsDep, TemplatesDep, ZooDep
from app.config import Settings
from app.nn import Zoo
from app.nn.generate import DEFAULT_LENGTH

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
    }


def render(request: Request, templates: Jinja2Templates, zoo: Zoo, settings: Settings, embed: bool) -> HTMLResponse:
    context = {"config": page_config(zoo, settings, embed), "version": asset_version(), "embed": embed}
    name = "embed.html" if embed else "index.html"
    # The page embeds the model list; revalidate so a restarted server's models show up.
    return templates.TemplateResponse(request, name, context, headers={"Cache-Control": "no-cache"})


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, zoo: ZooDep, settings: SettingsDep, templates: TemplatesDep) -> HTMLResponse:
    return render(request, templates, zoo, settings, embed=False)


@router.get("/embed", response_class=HTMLResponse)
async def embed(request: Request, zoo: ZooDep, settings: SettingsDep, templates: TemplatesDep) -> HTMLResponse:
    return render(request, templates, zoo, settings, embed=True)


@router.get("/vendor/plotly.min.js")
async def plotly_js(request: Request) -> Response:
    return plotly_response(request)
