"""GET /docs: the interactive API reference (Swagger UI), served from the installed `swagger-ui-bundle-v2`
package (as plotly.js is from vendor/), so it works in a lecture hall with no internet and under the same strict CSP as
every other page (no CDN, no inline script)."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.types import Scope

from app.api.assets import CachedStaticFiles, asset_version
from app.api.deps import TemplatesDep
from app.api.errors import ApiError

SWAGGER_UI_DIR = Path(swagger_ui_bundle.swagger_ui_path)
SWAGGER_UI_PATH = "/vendor/swagger-ui"

router = APIRouter(tags=["pages"], include_in_schema=False)


# Only what /docs loads: the package also holds Swagger UI's own index.html (which would fetch the Petstore
# example from the internet) and source maps, which nobody here needs.
SWAGGER_UI_ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js"})


class SwaggerUiFiles(CachedStaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in SWAGGER_UI_ASSETS:
            raise ApiError(404, "http_404", "Not Found")
        return await super().get_response(path, scope)


def swagger_ui_files() -> CachedStaticFiles:
    return SwaggerUiFiles(directory=SWAGGER_UI_DIR, check_dir=False)


@router.get("/docs", response_class=HTMLResponse)
async def api_docs(request: Request, templates: TemplatesDep) -> HTMLResponse:
    context = {
        "version": asset_version(),
        "swagger": SWAGGER_UI_PATH,
        "swagger_version": SWAGGER_UI_DIR.name.removeprefix("swagger-ui-"),
        "openapi_url": request.app.openapi_url,
        "title": request.app.title,
    }
    return templates.TemplateResponse(request, "docs.html", context)
