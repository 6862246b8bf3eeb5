"""Every router of the app: the REST resources under one /api prefix, and beside them the pages, /docs,
/healthz and the trace socket (whose URLs predate the prefix and stay)."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.routes import continuation, docs, health, models, pages, scenes, socket, trace

api_router = APIRouter(prefix="/api")
for resource in (models, trace, continuation, scenes):
    api_router.include_router(resource.router)

routers = (pages.router, docs.router, health.router, socket.router, api_router)
