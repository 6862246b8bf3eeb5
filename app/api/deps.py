"""Dependencies as Annotated aliases: a route says `zoo: ZooDep` and gets the shared model zoo."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends
from fastapi.templating import Jinja2Templates
from starlette.requests import HTTPConnection

from app.api.streaming import SocketLimit
from app.api.tracer import TraceCache, TracePool
from app.config import Settings, get_settings
from app.nn import Zoo
from app.scenes import SceneLibrary, load_scenes, scene_dirs

log = logging.getLogger("uvicorn.error")


# HTTPConnection, not Request, so the same dependencies serve WebSocket routes.
def get_zoo(conn: HTTPConnection) -> Zoo:
    return conn.app.state.zoo


def get_trace_pool(conn: HTTPConnection) -> TracePool:
    return conn.app.state.trace_pool


def get_trace_cache(conn: HTTPConnection) -> TraceCache:
    return conn.app.state.trace_cache


def get_socket_limit(conn: HTTPConnection) -> SocketLimit:
    return conn.app.state.socket_limit


def get_templates(conn: HTTPConnection) -> Jinja2Templates:
    return conn.app.state.templates


def get_scenes(settings: Annotated[Settings, Depends(get_settings)]) -> SceneLibrary:
    """The scenes, read on each request so a lecturer's edit shows on reload; a bad file is logged and
    listed in `.failed`, never a crash."""
    scenes = load_scenes(scene_dirs(settings.scene_dirs))
    for failure in scenes.failed:
        log.warning("scene not loaded: %(path)s: %(error)s", failure)
    return scenes


SettingsDep = Annotated[Settings, Depends(get_settings)]
ZooDep = Annotated[Zoo, Depends(get_zoo)]
TracePoolDep = Annotated[TracePool, Depends(get_trace_pool)]
TraceCacheDep = Annotated[TraceCache, Depends(get_trace_cache)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]
SocketLimitDep = Annotated[SocketLimit, Depends(get_socket_limit)]
ScenesDep = Annotated[SceneLibrary, Depends(get_scenes)]
