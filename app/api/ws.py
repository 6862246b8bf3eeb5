"""WebSocket /ws/trace: a trace streamed as typed envelopes, one step per frame.

client → server   {"type": "trace", "id", "model", "text", "target"?, "interventions"?, "gradients"?}
server → client   {"type": "meta", "id", "model", "tokens", "target", "interventions"}
                  {"type": "step", "id", "t", "layers", "top", "expected", "loss"}     one per token
                  {"type": "gradients", "id", "layers", "params"}                     if gradients requested
                  {"type": "done", "id", "ms"}
                  {"type": "error", "id", "code", "message"}                          the socket stays open

Every trace message supersedes the one before it on the same socket: the older stream stops at the next
frame, and requests that arrive while a trace computes collapse to the newest. A client can therefore
re-trace on every keystroke. Protocol abuse closes the socket: a binary frame with 1003, a message over
the size limit with 1009, a page from a foreign Origin with 1008.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import anyio
import orjson
from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from starlette import status
from starlette.websockets import WebSocketDisconnect

from app.api.deps import SettingsDep, TraceCacheDep, ZooDep
from app.api.errors import ApiError, describe_validation_errors
from app.api.schemas import TraceMessage
from app.api.security import origin_allowed
from app.api.tracing import Checked, TraceCache, check_request, dumps, envelope
from app.config import Settings
from app.nn import TraceInputError, Zoo

log = logging.getLogger(__name__)
router = APIRouter()

MessageId = str | int | None


@dataclass
class Job:
    generation: int
    request: TraceMessage
    checked: Checked
    started: float  # perf_counter() when the message arrived; "done" reports the time since


class TraceSession:
    """One socket: a reader that validates every message at once, and a streamer that runs the newest
    request. Two tasks, so a new request is seen (and the old stream stopped) while frames are going out."""

    def __init__(self, websocket: WebSocket, zoo: Zoo, settings: Settings, cache: TraceCache) -> None:
        self.websocket = websocket
        self.zoo = zoo
        self.settings = settings
        self.cache = cache
        self.generation = 0  # bumped by every trace message; a stream whose job is older stops
        self.pending: Job | None = None  # the newest valid request not yet started
        self.wakeup = asyncio.Event()
        self.send_lock = asyncio.Lock()  # the reader's errors and the streamer's frames share the socket
        self.closed = False

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._stream)
            await self._read()
            tg.cancel_scope.cancel()

    # -- reading ---------------------------------------------------------------------------------------------

    async def _read(self) -> None:
        limit = self.settings.max_ws_message_bytes
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await self._close(status.WS_1003_UNSUPPORTED_DATA, "binary frames are not supported; send JSON text")
                return
            # uvicorn enforces this limit (ws_max_size) before we see the message; this covers other servers.
            if len(text.encode("utf-8", "surrogatepass")) > limit:
                await self._close(status.WS_1009_MESSAGE_TOO_BIG, f"messages are limited to {limit} bytes")
                return
            await self._handle(text)

    async def _handle(self, text: str) -> None:
        try:
            raw = orjson.loads(text)
        except orjson.JSONDecodeError:
            await self._error(None, "bad_json", 'the message is not JSON; send {"type": "trace", ...}')
            return
        if not isinstance(raw, dict):
            await self._error(None, "bad_message", 'a message is a JSON object like {"type": "trace", ...}')
            return
        rid = raw.get("id")
        rid = rid if isinstance(rid, str | int) and not isinstance(rid, bool) else None
        if raw.get("type") != "trace":
            await self._error(rid, "unknown_type", f"unknown message type {raw.get('type')!r}; expected 'trace'")
            return
        # Any trace message, valid or not, means the client has moved on: stop the older stream now.
        self.generation += 1
        self.pending = None
        try:
            request = TraceMessage.model_validate(raw)
            checked = check_request(request, self.zoo, self.settings)
        except ValidationError as e:
            await self._error(rid, "invalid_message", describe_validation_errors(e.errors()))
            return
        except ApiError as e:
            await self._error(rid, e.code, e.message)
            return
        self.pending = Job(self.generation, request, checked, time.perf_counter())
        self.wakeup.set()

    # -- streaming -------------------------------------------------------------------------------------------

    async def _stream(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            job, self.pending = self.pending, None
            if job is not None:
                await self._run(job)

    async def _run(self, job: Job) -> None:
        rid = job.request.id
        try:
            trace = await self.cache.get(job.checked, job.request)
        except TraceInputError as e:
            if job.generation == self.generation:
                await self._error(rid, e.code, e.message)
            return
        except Exception:  # a bug, not the client's fault: say so and keep the socket for the next request
            log.exception("trace failed for model %s", job.checked.model.id)
            await self._error(rid, "internal_error", "the server failed to trace this text; the error is logged")
            return
        rid_json = dumps(rid)
        for kind, body in trace.frames:
            # A send to a fast client never suspends, so yield once per frame: the reader gets to see a
            # newer request and other sockets get their turn even when the trace came from the cache.
            await asyncio.sleep(0)
            if job.generation != self.generation:
                return  # superseded: drop the rest
            await self._send(envelope(kind, rid_json, body))
        # The steps are out (the page has painted them); the gradients may still be computing. A newer
        # request stops the wait: the gradients go on for the cache, this socket moves on.
        if not trace.gradients.done():
            newer = asyncio.ensure_future(self.wakeup.wait())
            try:
                await asyncio.wait({trace.gradients, newer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                newer.cancel()
        if job.generation != self.generation or trace.gradients.cancelled():
            return
        try:
            gradients = trace.gradients.result()
        except Exception:
            log.exception("gradients failed for model %s", job.checked.model.id)
            if job.generation == self.generation:
                await self._error(
                    rid, "internal_error", "the server failed to compute the gradients; the error is logged"
                )
            return
        if gradients is not None:
            await self._send(envelope("gradients", rid_json, gradients))
        ms = round((time.perf_counter() - job.started) * 1000, 1)
        await self._send_json({"type": "done", "id": rid, "ms": ms})

    # -- sending ---------------------------------------------------------------------------------------------

    async def _send(self, text: str) -> None:
        # Awaiting each send is the backpressure: a slow client slows its own stream, nothing piles up.
        async with self.send_lock:
            if not self.closed:
                await self.websocket.send_text(text)

    async def _send_json(self, frame: dict[str, Any]) -> None:
        await self._send(dumps(frame).decode())

    async def _error(self, rid: MessageId, code: str, message: str) -> None:
        await self._send_json({"type": "error", "id": rid, "code": code, "message": message})

    async def _close(self, code: int, reason: str) -> None:
        async with self.send_lock:
            self.closed = True
            await self.websocket.close(code, reason)


@router.websocket("/ws/trace")
async def trace_socket(websocket: WebSocket, zoo: ZooDep, settings: SettingsDep, cache: TraceCacheDep) -> None:
    # Accept before refusing: a browser reports a close code (1008) but hides why a handshake failed.
    await websocket.accept()
    if not origin_allowed(websocket.headers, settings.allowed_origins):
        await websocket.close(status.WS_1008_POLICY_VIOLATION, "this page's origin may not open the socket")
        return
    try:
        await TraceSession(websocket, zoo, settings, cache).run()
    except* WebSocketDisconnect:
        pass  # the client left mid-send; nothing to clean up
