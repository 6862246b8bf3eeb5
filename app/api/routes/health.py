"""GET /healthz: for the container's HEALTHCHECK and for a lecturer checking the room's server."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.assets import package_version
from app.api.deps import ZooDep
from app.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, responses={503: {"model": Health, "description": "no model loaded"}})
async def healthz(zoo: ZooDep) -> JSONResponse:
    # With no model the page is useless, so report unhealthy; a partial failure is listed but still "ok".
    health = Health(
        status="ok" if zoo.models else "no_models",
        version=package_version(),
        models=len(zoo.models),
        failed=zoo.failed,
    )
    return JSONResponse(health.model_dump(), status_code=200 if zoo.models else 503)
