"""Dependencies as Annotated aliases: a route says `zoo: ZooDep` and gets the shared model zoo."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends
from fastapi.templating import Jinja2Templates
from starlette.requests import HTTPConnection

from app.api.tracing import TraceCache, TracePool
from app.config import Settings, get_settings
from app.nn import Zoo

if TYPE_CHECKING:
    from app.api.ws import SocketLimit


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


SettingsDep = Annotated[Settings, Depends(get_settings)]
ZooDep = Annotated[Zoo, Depends(get_zoo)]
TracePoolDep = Annotated[TracePool, Depends(get_trace_pool)]
TraceCacheDep = Annotated[TraceCache, Depends(get_trace_cache)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]
SocketLimitDep = Annotated["SocketLimit", Depends(get_socket_limit)]
