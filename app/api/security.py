"""Security headers, the request-body limit, and the WebSocket's Origin check (pure ASGI middleware, so
they cost nothing on the WebSocket path and never buffer a response)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import orjson
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import ApiError, error_body
from app.config import Settings


def content_security_policy(settings: Settings, ws_origin: str | None = None) -> str:
    """Every page, the API docs included (Swagger UI is served from the installed package), runs only its
    own scripts; styles may be inline because plotly and Swagger UI set them. The socket may go to the
    app's own origin only (`ws_origin`, named because older browsers do not count ws: as 'self')."""
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        " ".join(["connect-src 'self'", *([ws_origin] if ws_origin else [])]),
        "object-src 'none'",
        "base-uri 'self'",
    ]
    # frame-ancestors * does not match file: or about: parents, so a deck opened from disk could not embed
    # the pages; when anyone may embed them, say nothing (the setting still restricts when it is narrower).
    if "*" not in settings.frame_ancestors:
        directives.append(f"frame-ancestors {' '.join(settings.frame_ancestors)}")
    return "; ".join(directives)


# A Host header that could break the CSP header (or smuggle a source into it) names no origin.
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def ws_origin(scope: Scope) -> str | None:
    host = Headers(scope=scope).get("host", "")
    if not _HOST.match(host):
        return None
    return f"{'wss' if scope.get('scheme') == 'https' else 'ws'}://{host}"


INTERNAL_ERROR = error_body("internal_error", "the server failed to answer this request; the error is logged")


class SecurityHeadersMiddleware:
    """Adds CSP, nosniff and Referrer-Policy to every HTTP response, and answers a request whose handler
    crashed with a JSON 500 that carries them too (Starlette's own 500 comes from outside every middleware)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.common = [
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = [("Content-Security-Policy", content_security_policy(self.settings, ws_origin(scope))), *self.common]
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                response_headers = MutableHeaders(scope=message)
                for name, value in headers:
                    response_headers.setdefault(name, value)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if not started:
                body = orjson.dumps(INTERNAL_ERROR)
                raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                await send_with_headers({"type": "http.response.start", "status": 500, "headers": raw})
                await send_with_headers({"type": "http.response.body", "body": body})
            raise  # for the server's log


def body_too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"the request body is over the limit of {limit:,} bytes")


class BodySizeLimitMiddleware:
    """Refuses request bodies over `max_bytes`: by Content-Length up front, and by counting what arrives
    (a chunked upload has no Content-Length)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            await self._reject(send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI re-raises an HTTPException from reading the body; the error handler answers.
                    raise body_too_large(self.max_bytes)
            return message

        await self.app(scope, counting_receive, send)

    async def _reject(self, send: Send) -> None:
        err = body_too_large(self.max_bytes)
        body = orjson.dumps(error_body(err.code, err.message))
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        # The client may still be sending; tell it the connection will not be reused.
        headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def origin_allowed(headers: Headers, allowed: list[str]) -> bool:
    """A browser's WebSocket may come from our own origin or a listed one; non-browser clients send no
    Origin and are let through (a cross-site page cannot omit it)."""
    origin = headers.get("origin")
    if origin is None or "*" in allowed or origin in allowed:
        return True
    host = headers.get("host")
    return host is not None and urlsplit(origin).netloc == host
