"""create_app(): assembles settings, the model zoo, middleware, routers, static files and templates."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.templating import Jinja2Templates
from starlette.middleware.gzip import GZipMiddleware
from threadpoolctl import threadpool_limits

from app import allocator
from app.api.assets import STATIC_DIR, CachedStaticFiles, package_version, plotly_gzipped, template_environment
from app.api.errors import install_error_handlers
from app.api.main import routers
from app.api.openapi import install_openapi
from app.api.routes import docs
from app.api.security import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from app.api.streaming import SocketLimit
from app.api.tracer import TraceCache, TracePool
from app.config import Settings, get_settings
from app.nn import load_zoo

# uvicorn configures its own loggers only; this one shows start-up news beside its "Started server" lines.
log = logging.getLogger("uvicorn.error")

API_DESCRIPTION = """
Trace text through small recurrent language models and get every intermediate: gates, cell and hidden
states, next-token probabilities, and gradient norms through time.

Errors have one shape, `{"detail": {"code": "...", "message": "..."}}`. The WebSocket `/ws/trace` streams
the same trace one step per frame; see the README for its protocol.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application. Pass `settings` to run with other than the environment's (tests, embedding)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        allocator.tune()  # before the zoo and the first trace allocate (app/allocator.py says why)
        # Loaded once per process and shared read-only by every request and socket.
        zoo = await anyio.to_thread.run_sync(load_zoo, settings.model_dirs, settings.shipped_models)
        for failure in zoo.failed:
            log.warning("model not loaded: %(path)s: %(error)s", failure)
        log.info("serving %d model(s): %s", len(zoo.models), ", ".join(zoo.models) or "none")
        app.state.zoo = zoo
        app.state.trace_pool = pool = TracePool(settings.trace_concurrency)
        app.state.trace_cache = TraceCache(settings.trace_cache_bytes, pool, settings.trace_pin_bytes)
        app.state.socket_limit = SocketLimit(settings.ws_max_per_client)
        await anyio.to_thread.run_sync(plotly_gzipped)  # warm the cache before the first student asks
        # Concurrency comes from the trace threads and workers; BLAS threads on top of them spin against
        # each other over matrices this small (measured: 5x slower with 20 concurrent traces on 2 cores).
        with threadpool_limits(limits=1, user_api="blas"):
            yield

    app = FastAPI(
        title="LSTM Explainer",
        version=package_version(),
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # app/api/routes/docs.py serves /docs without a CDN
        redoc_url=None,
    )
    # Routes take settings by Depends(get_settings); point them at this app's settings so they agree with
    # the middleware and the zoo built from the same object.
    app.dependency_overrides[get_settings] = lambda: settings
    app.state.templates = Jinja2Templates(env=template_environment())

    install_error_handlers(app)
    install_openapi(app, settings)  # the schema states this server's limits and models
    # Outermost last: security headers wrap everything, including a 413 from the body limit.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)

    for router in routers:
        app.include_router(router)
    app.mount("/static", CachedStaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    app.mount(docs.SWAGGER_UI_PATH, docs.swagger_ui_files(), name="swagger-ui")
    return app
