"""Security headers, the request-body limit, and the WebSocket's Origin check (pure ASGI middleware, so
they cost nothing on the WebSocket path and never buffer a response)."""

from __future__ import annotations

from urllib.parse import urlsplit

import orjson
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import ApiError, error_body
from app.config import Settings


def content_security_policy(settings: Settings) -> str:
    # Every page, the API docs included (Swagger UI is served from the installed package), runs only its
    # own scripts; styles may be inline because plotly and Swagger UI set them.
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "connect-src 'self' ws: wss:",
            "object-src 'none'",
            "base-uri 'self'",
            f"frame-ancestors {' '.join(settings.frame_ancestors)}",
        ]
    )


class SecurityHeadersMiddleware:
    """Adds CSP, nosniff and Referrer-Policy to every HTTP response."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        common = [
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ]
        self.headers = [("Content-Security-Policy", content_security_policy(settings)), *common]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


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
