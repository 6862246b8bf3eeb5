"""WebSocket /ws/trace: a trace streamed as JSON control messages and binary frames of numbers.

The protocol is specified in docs/protocol.md:

client → server   {"type": "trace", "id", "model", "text", "target"?, "interventions"?, "gradients"?,
                   "base"?, "view"?}                       supersedes any earlier request
                  {"type": "view", "id", "rows"?, "pre"?}   more of the current trace
server → client   {"type": "meta", "id", "stream", ...}    then binary frames (steps, pre-activations,
                  {"type": "params", "id", "params"}        gradient rows), the weight-gradient norms,
                  {"type": "done", "id", "ms", "complete"}  and done; or
                  {"type": "error", "id", "code", "message"}  after which the socket stays open

Every trace message supersedes the one before it on the same socket: the older stream stops at the next
frame, and requests that arrive while a trace computes collapse to the newest. A client can therefore
re-trace on every keystroke, and with `base` only the steps after the change are computed and sent.
Protocol abuse closes the socket: a binary frame with 1003, a message over the size limit with 1009, a
page from a foreign Origin with 1008.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import anyio
import orjson
from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from starlette import status
from starlette.websockets import WebSocketDisconnect

from app.api.deps import SettingsDep, TraceCacheDep, ZooDep
from app.api.errors import ApiError, describe_validation_errors
from app.api.schemas import TraceMessage, View, ViewMessage
from app.api.security import origin_allowed
from app.api.tracing import Checked, Entry, TraceCache, check_request, dumps
from app.config import Settings
from app.nn import TraceInputError, Zoo
from app.nn.trace import ROW_BLOCK, kept_steps

log = logging.getLogger(__name__)
router = APIRouter()

MessageId = str | int | None
FRAME_BYTES = 64 * 1024  # steps per binary frame: as many as fit in about this much


@dataclass
class Job:
    generation: int
    request: TraceMessage
    checked: Checked
    started: float  # perf_counter() when the message arrived; "done" reports the time since


@dataclass
class Held:
    """What the client holds of a trace: the steps 0 … steps−1, these pre-activations and gradient rows."""

    steps: int = 0
    pre: set[int] = field(default_factory=set)
    rows: set[int] = field(default_factory=set)
    params: bool = False


@dataclass
class Sent:
    """The newest trace this socket sent a meta for: what an incremental request may build on."""

    rid: MessageId
    stream: int
    key: bytes
    model: str
    held: Held
    gradients: bool
    view: View
    started: float


def _steps(which: Any, T: int) -> list[int]:
    return list(range(T)) if which == "all" else sorted({t for t in which if t < T})


def _runs(steps: list[int]) -> list[tuple[int, int]]:
    """Ascending steps as (first, count) runs of consecutive steps."""
    runs: list[tuple[int, int]] = []
    for t in steps:
        if runs and runs[-1][0] + runs[-1][1] == t:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((t, 1))
    return runs


class TraceSession:
    """One socket: a reader that validates every message at once, and a streamer that serves the newest
    request. Two tasks, so a new request is seen (and the old stream stopped) while frames are going out."""

    def __init__(self, websocket: WebSocket, zoo: Zoo, settings: Settings, cache: TraceCache) -> None:
        self.websocket = websocket
        self.zoo = zoo
        self.settings = settings
        self.cache = cache
        self.generation = 0  # bumped by every trace message; a stream whose job is older stops
        self.pending: Job | None = None  # the newest valid request not yet started
        self.sent: Sent | None = None  # the newest trace whose meta went out
        self.streams = 0
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
            await self._refuse(None, "bad_json", 'the message is not JSON; send {"type": "trace", ...}')
            return
        if not isinstance(raw, dict):
            await self._refuse(None, "bad_message", 'a message is a JSON object like {"type": "trace", ...}')
            return
        rid = raw.get("id")
        rid = rid if isinstance(rid, str | int) and not isinstance(rid, bool) else None
        kind = raw.get("type")
        if kind == "view":
            await self._view(raw, rid)
            return
        if kind != "trace":
            await self._refuse(rid, "unknown_type", f"unknown message type {kind!r}; expected 'trace' or 'view'")
            return
        # Any trace message, valid or not, means the client has moved on: stop the older stream now.
        self.generation += 1
        self.pending = None
        try:
            request = TraceMessage.model_validate(raw)
            checked = check_request(request, self.zoo, self.settings)
        except ValidationError as e:
            await self._refuse(rid, "invalid_message", describe_validation_errors(e.errors()))
            return
        except ApiError as e:
            await self._refuse(rid, e.code, e.message)
            return
        self.pending = Job(self.generation, request, checked, time.perf_counter())
        self.wakeup.set()

    async def _view(self, raw: dict[str, Any], rid: MessageId) -> None:
        try:
            message = ViewMessage.model_validate(raw)
        except ValidationError as e:
            await self._refuse(rid, "invalid_message", describe_validation_errors(e.errors()))
            return
        sent = self.sent
        if sent is None or sent.rid != message.id or self.pending is not None:
            return  # it crossed a newer request on the wire
        fields = message.model_fields_set
        rows = message.rows if "rows" in fields else sent.view.rows
        pre = message.pre if "pre" in fields else sent.view.pre
        sent.view = View(rows=rows, pre=pre)
        sent.started = time.perf_counter()
        self.wakeup.set()

    # -- streaming -------------------------------------------------------------------------------------------

    async def _stream(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            job, self.pending = self.pending, None
            if job is not None:
                await self._run(job)
            elif self.sent is not None:
                await self._more(self.sent, self.generation)

    async def _run(self, job: Job) -> None:
        rid, request = job.request.id, job.request
        sent = self.sent
        base: Entry | None = None
        if request.base is not None and sent is not None and (sent.rid, sent.model) == (request.base, request.model):
            base = self.cache.peek(sent.key)
        try:
            entry = await self.cache.get(job.checked, request, base)
        except TraceInputError as e:
            if job.generation == self.generation:
                await self._refuse(rid, e.code, e.message)
            return
        except Exception:  # a bug, not the client's fault: say so and keep the socket for the next request
            log.exception("trace failed for model %s", job.checked.model.id)
            await self._refuse(rid, "internal_error", "the server failed to trace this text; the error is logged")
            return
        if job.generation != self.generation:
            return  # superseded while it computed
        keep = 0
        held = Held()
        if base is not None and sent is not None:
            keep = min(kept_steps(base.trace, entry.trace), sent.held.steps)
            held = Held(keep, {t for t in sent.held.pre if t < keep}, {t for t in sent.held.rows if t < keep})
        self.streams = (self.streams + 1) % 2**32
        gradients = request.gradients and entry.gradients
        meta = entry.frames.meta()
        if entry.notice:
            meta["notices"] = [*meta["notices"], entry.notice]
        self.sent = Sent(rid, self.streams, entry.key, request.model, held, gradients, request.view, job.started)
        await self._send_json({
            "type": "meta", "id": rid, "stream": self.streams, **meta, "gradients": gradients,
            "base": request.base if base is not None else None, "keep": keep,
        })  # fmt: skip
        trace, T = entry.trace, entry.trace.steps
        per_frame = max(1, FRAME_BYTES // (4 * entry.frames.layout.step_size))
        for first in range(keep, T, per_frame):
            count = min(per_frame, T - first)
            if not await self._frame(job.generation, entry.frames.steps(self.streams, first, count)):
                return
            held.steps = first + count
        if trace.steps == held.steps:
            await self._more(self.sent, job.generation, entry)

    async def _more(self, sent: Sent, generation: int, entry: Entry | None = None) -> None:
        """Send what the view asks for and the client does not hold yet, then `done`."""
        entry = entry or self.cache.peek(sent.key)
        if entry is None:
            await self._refuse(sent.rid, "trace_expired", "the server no longer holds this trace; trace it again")
            return
        held, T = sent.held, entry.trace.steps
        missing = [t for t in _steps(sent.view.pre, T) if t not in held.pre]
        per_frame = max(1, FRAME_BYTES // (4 * max(1, entry.frames.layout.pre_size)))
        for first, count in _runs(missing):
            for a in range(first, first + count, per_frame):
                n = min(per_frame, first + count - a)
                if not await self._frame(generation, entry.frames.pre(sent.stream, a, n)):
                    return
                held.pre.update(range(a, a + n))
        if sent.gradients and not await self._rows(sent, generation, entry):
            return
        complete = len(held.pre) == T and (not sent.gradients or self._all_rows(entry, held))
        ms = round((time.perf_counter() - sent.started) * 1000, 1)
        if generation == self.generation:
            await self._send_json({"type": "done", "id": sent.rid, "ms": ms, "complete": complete})

    @staticmethod
    def _all_rows(entry: Entry, held: Held) -> bool:
        losses = [t for t, e in enumerate(entry.trace.expected) if e is not None]
        return all(t in held.rows for t in losses) and (held.params or not losses)

    async def _rows(self, sent: Sent, generation: int, entry: Entry) -> bool:
        """The gradient rows the view asks for, block by block (the newest losses first for "all")."""
        trace, held = entry.trace, sent.held
        losses = [t for t, e in enumerate(trace.expected) if e is not None]
        wanted = losses[::-1] if sent.view.rows == "all" else [t for t in _steps(sent.view.rows, trace.steps)]
        wanted = [t for t in wanted if t not in held.rows and trace.expected[t] is not None]
        blocks: dict[int, list[int]] = {}
        for t in wanted:
            blocks.setdefault(t // ROW_BLOCK, []).append(t)
        last = losses[-1] if losses else None
        for steps in blocks.values():
            try:
                await self.cache.rows(entry, steps)
            except Exception:
                log.exception("gradients failed for model %s", trace.model.id)
                if generation == self.generation:
                    await self._refuse(
                        sent.rid, "internal_error", "the server failed to compute the gradients; the error is logged"
                    )
                return False
            if generation != self.generation:
                return False
            for first, count in _runs(sorted(steps)):
                if not await self._frame(generation, entry.frames.rows(sent.stream, first, count)):
                    return False
                held.rows.update(range(first, first + count))
            tri = trace.triangle
            if last in held.rows and not held.params and tri is not None and tri.params is not None:
                params = entry.frames.params()
                await self._send_json({"type": "params", "id": sent.rid, "params": params})
                held.params = True
        return True

    async def _frame(self, generation: int, data: bytes) -> bool:
        # A send to a fast client never suspends, so yield once per frame: the reader gets to see a
        # newer request and other sockets get their turn even when the trace came from the cache.
        await asyncio.sleep(0)
        if generation != self.generation:
            return False  # superseded: drop the rest
        async with self.send_lock:
            if self.closed:
                return False
            await self.websocket.send_bytes(data)
        return True

    # -- sending ---------------------------------------------------------------------------------------------

    async def _send_json(self, frame: dict[str, Any]) -> None:
        # Awaiting each send is the backpressure: a slow client slows its own stream, nothing piles up.
        async with self.send_lock:
            if not self.closed:
                await self.websocket.send_text(dumps(frame).decode())

    async def _refuse(self, rid: MessageId, code: str, message: str) -> None:
        """An error frame; the server also forgets what the client holds, so the next trace is whole."""
        self.sent = None
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
