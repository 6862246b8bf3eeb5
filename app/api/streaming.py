"""Streaming a trace over a WebSocket (the route is app/api/routes/socket.py): JSON control messages and
binary frames of numbers, cut from the cached trace (app/api/tracer.py) as they are sent.

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
from fastapi import WebSocket
from pydantic import ValidationError
from starlette import status

from app.api.errors import ApiError, describe_validation_errors
from app.api.schemas import TraceMessage, View, ViewMessage
from app.api.tracer import Checked, Entry, TraceCache, check_request, dumps
from app.config import Settings
from app.nn import TraceInputError, Zoo
from app.nn.trace import ROW_BLOCK, kept_rows, kept_steps

log = logging.getLogger(__name__)

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
    """The newest trace this socket sent a meta for: what an incremental request may build on. Between
    streams only its cache key is kept, not its arrays (the cache's budget bounds those), unless the trace
    was too big for the cache (`own`); while it streams, the session pins it (TraceCache.pin)."""

    rid: MessageId
    stream: int
    key: bytes
    checked: Checked
    request: TraceMessage
    held: Held
    gradients: bool
    view: View
    started: float
    own: Entry | None = None


class Stalled(Exception):
    """The client has not taken a frame for `ws_send_timeout` seconds."""


class SocketLimit:
    """Open sockets per client address, so one address cannot hold every socket (and its memory)."""

    def __init__(self, per_client: int) -> None:
        self.per_client = per_client
        self.open: dict[str, int] = {}

    def acquire(self, address: str) -> bool:
        if self.open.get(address, 0) >= self.per_client:
            return False
        self.open[address] = self.open.get(address, 0) + 1
        return True

    def release(self, address: str) -> None:
        left = self.open.get(address, 1) - 1
        if left:
            self.open[address] = left
        else:
            self.open.pop(address, None)


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
        self.pinned: Entry | None = None  # the trace being streamed, kept by the cache until the stream ends
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
            try:
                if job is not None:
                    await self._run(job)
                elif self.sent is not None:
                    await self._more(self.sent, self.generation)
            finally:  # the stream ended, was superseded, or the socket went: its trace is the cache's again
                self._unpin()

    def _pin(self, entry: Entry) -> None:
        if self.pinned is None and self.cache.pin(entry):
            self.pinned = entry

    def _unpin(self) -> None:
        if self.pinned is not None:
            self.cache.unpin(self.pinned)
            self.pinned = None

    async def _run(self, job: Job) -> None:
        rid, request = job.request.id, job.request
        sent = self.sent
        base: Entry | None = None
        if (
            request.base is not None
            and sent is not None
            and (sent.rid, sent.request.model) == (request.base, request.model)
        ):
            base = self.cache.peek(sent.key) or sent.own
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
        self._pin(entry)
        keep = rows = 0
        held = Held()
        if base is not None and sent is not None:
            keep = min(kept_steps(base.trace, entry.trace), sent.held.steps)
            rows = min(kept_rows(base.trace, entry.trace), keep)  # a partial last block's rows come again
            held = Held(keep, {t for t in sent.held.pre if t < keep}, {t for t in sent.held.rows if t < rows})
        based = base is not None
        del base
        self.streams = (self.streams + 1) % 2**32
        gradients = request.gradients and entry.gradients
        meta = entry.frames.meta()
        if entry.notice:
            meta["notices"] = [*meta["notices"], entry.notice]
        own = None if self.cache.peek(entry.key) is entry else entry
        self.sent = Sent(rid, self.streams, entry.key, job.checked, request, held, gradients, request.view,
                         job.started, own)  # fmt: skip
        T, step_size = entry.trace.steps, entry.frames.layout.step_size
        del entry  # from here on looked up for every frame: the pin, or the cache when it had no room
        await self._send_json({
            "type": "meta", "id": rid, "stream": self.streams, **meta, "gradients": gradients,
            "base": request.base if based else None, "keep": keep, "keep_rows": rows,
        })  # fmt: skip
        sent = self.sent
        per_frame = max(1, FRAME_BYTES // (4 * step_size))
        for first in range(keep, T, per_frame):
            count = min(per_frame, T - first)
            data = (await self._entry(sent)).frames.steps(sent.stream, first, count)
            if not await self._frame(job.generation, data):
                return
            held.steps = first + count
        if held.steps == T:
            await self._more(sent, job.generation)

    async def _entry(self, sent: Sent) -> Entry:
        """The trace `sent` describes: pinned, from the cache, or this socket's own, or traced again (to the
        same numbers) when the cache let it go and the pins had no room for it."""
        if self.pinned is not None and self.pinned.key == sent.key:
            return self.pinned
        entry = self.cache.peek(sent.key) or sent.own
        if entry is None:
            entry = await self.cache.get(sent.checked, sent.request)
            if self.cache.peek(sent.key) is not entry:
                sent.own = entry
            self._pin(entry)
        return entry

    async def _more(self, sent: Sent, generation: int) -> None:
        """Send what the view asks for and the client does not hold yet, then `done`."""
        entry = await self._entry(sent)
        self._pin(entry)
        held, T, pre_size = sent.held, entry.trace.steps, max(1, entry.frames.layout.pre_size)
        del entry
        missing = [t for t in _steps(sent.view.pre, T) if t not in held.pre]
        per_frame = max(1, FRAME_BYTES // (4 * pre_size))
        for first, count in _runs(missing):
            for a in range(first, first + count, per_frame):
                n = min(per_frame, first + count - a)
                data = (await self._entry(sent)).frames.pre(sent.stream, a, n)
                if not await self._frame(generation, data):
                    return
                held.pre.update(range(a, a + n))
        if sent.gradients and not await self._rows(sent, generation):
            return
        complete = len(held.pre) == T and (not sent.gradients or self._all_rows(await self._entry(sent), held))
        ms = round((time.perf_counter() - sent.started) * 1000, 1)
        if generation == self.generation:
            await self._send_json({"type": "done", "id": sent.rid, "ms": ms, "complete": complete})

    @staticmethod
    def _all_rows(entry: Entry, held: Held) -> bool:
        losses = [t for t, e in enumerate(entry.trace.expected) if e is not None]
        return all(t in held.rows for t in losses) and (held.params or not losses)

    async def _rows(self, sent: Sent, generation: int) -> bool:
        """The gradient rows the view asks for, block by block (the newest losses first for "all")."""
        held = sent.held
        entry = await self._entry(sent)
        expected, T = entry.trace.expected, entry.trace.steps
        del entry
        losses = [t for t, e in enumerate(expected) if e is not None]
        wanted = losses[::-1] if sent.view.rows == "all" else _steps(sent.view.rows, T)
        wanted = [t for t in wanted if t not in held.rows and expected[t] is not None]
        blocks: dict[int, list[int]] = {}
        for t in wanted:
            blocks.setdefault(t // ROW_BLOCK, []).append(t)
        last = losses[-1] if losses else None
        for steps in blocks.values():
            try:
                await self.cache.rows(await self._entry(sent), steps)
            except Exception:
                log.exception("gradients failed for model %s", sent.checked.model.id)
                if generation == self.generation:
                    await self._refuse(
                        sent.rid, "internal_error", "the server failed to compute the gradients; the error is logged"
                    )
                return False
            if generation != self.generation:
                return False
            for first, count in _runs(sorted(steps)):
                entry = await self._entry(sent)
                await self.cache.rows(entry, range(first, first + count))  # at once unless traced again meanwhile
                data = entry.frames.rows(sent.stream, first, count)
                del entry
                if not await self._frame(generation, data):
                    return False
                held.rows.update(range(first, first + count))
            if last in held.rows and not held.params:
                params = (await self._entry(sent)).frames.params()
                if params is not None:
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
            await self._timed(self.websocket.send_bytes(data))
        return True

    # -- sending ---------------------------------------------------------------------------------------------

    async def _send_json(self, frame: dict[str, Any]) -> None:
        # Awaiting each send is the backpressure: a slow client slows its own stream, nothing piles up.
        async with self.send_lock:
            if not self.closed:
                await self._timed(self.websocket.send_text(dumps(frame).decode()))

    async def _timed(self, send: Any) -> None:
        """A send, or Stalled when the client has not taken it in `ws_send_timeout` seconds."""
        try:
            with anyio.fail_after(self.settings.ws_send_timeout):
                await send
        except TimeoutError:
            raise Stalled from None

    async def _refuse(self, rid: MessageId, code: str, message: str) -> None:
        """An error frame; the server also forgets what the client holds, so the next trace is whole."""
        self.sent = None
        await self._send_json({"type": "error", "id": rid, "code": code, "message": message})

    async def _close(self, code: int, reason: str) -> None:
        async with self.send_lock:
            self.closed = True
            await self.websocket.close(code, reason)
