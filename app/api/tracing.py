"""The one path from a trace request to a trace, shared by REST and the WebSocket: limits with messages
that name the limit, then the CPU-bound trace in a worker thread. The WebSocket's traces are also cut
into frames once and cached, so a lecture hall tracing the same sentence costs one trace."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
import orjson
from anyio import CapacityLimiter

from app.api.errors import ApiError
from app.api.schemas import TraceRequest
from app.config import Settings
from app.nn import Model, TraceInputError, Zoo
from app.nn import trace as nn_trace

T = TypeVar("T")


# A trace costs about T² (every loss against every earlier step); texts longer than this count as long.
LONG_TRACE_TOKENS = 200


@dataclass(frozen=True)
class Checked:
    model: Model
    tokens: int
    gradients: bool = True  # False when the text is past the model's gradient limit
    notice: str | None = None


def gradient_token_limit(model: Model, settings: Settings) -> int:
    """Tokens up to which gradients through time are computed: the triangle costs T²·H²·layers."""
    return int((settings.gradient_work_limit / (model.hidden_size**2 * model.layers)) ** 0.5)


def check_request(request: TraceRequest, zoo: Zoo, settings: Settings) -> Checked:
    """The model and the token count, or an ApiError saying which limit was exceeded and what the limit is."""
    model = zoo.models.get(request.model)
    if model is None:
        known = ", ".join(sorted(zoo.models)) or "none are loaded"
        raise ApiError(404, "unknown_model", f"there is no model {request.model!r}; available: {known}")
    n_chars, limit = len(request.text), settings.max_chars
    if n_chars > limit:
        raise ApiError(422, "text_too_long", f"the text has {n_chars:,} characters; the limit is {limit:,} characters")
    try:
        n_tokens = len(model.tokenizer.tokenize(request.text))
    except TraceInputError as e:
        raise ApiError(422, e.code, e.message) from e
    limit = settings.max_word_tokens
    if model.tokenizer.kind == "word" and n_tokens > limit:
        message = f"the text has {n_tokens:,} word tokens; the limit is {limit:,} word tokens"
        raise ApiError(422, "text_too_long", message)
    n_interventions, limit = len(request.interventions), settings.max_interventions
    if n_interventions > limit:
        message = f"{n_interventions} interventions; the limit is {limit} per request"
        raise ApiError(422, "too_many_interventions", message)
    limit = gradient_token_limit(model, settings)
    if request.gradients and n_tokens > limit:
        notice = (f"gradients through time are computed for texts of up to {limit:,} tokens on this model "
                  f"(the cost grows with the square of the length); this text has {n_tokens:,}")  # fmt: skip
        return Checked(model, n_tokens, gradients=False, notice=notice)
    return Checked(model, n_tokens)


class TracePool:
    """Worker threads for traces. The thread limit queues traces beyond the cores instead of letting
    hundreds of threads fight over them; long traces also take turns in a lane of half the threads, so a
    pasted essay never holds every thread while a room of short sentences waits."""

    def __init__(self, threads: int) -> None:
        self.threads = CapacityLimiter(threads)
        self.long_lane = CapacityLimiter(max(1, threads // 2))

    async def run(self, job: Callable[[], T], tokens: int) -> T:
        if tokens <= LONG_TRACE_TOKENS:
            return await anyio.to_thread.run_sync(job, limiter=self.threads)
        async with self.long_lane:
            return await anyio.to_thread.run_sync(job, limiter=self.threads)


def _traced(checked: Checked, request: TraceRequest, gradients: bool) -> tuple[nn_trace.Trace, dict[str, Any]]:
    interventions = [iv.model_dump() for iv in request.interventions]
    trace = nn_trace.run_trace(checked.model, request.text, request.target, interventions, gradients)
    doc = nn_trace.document(trace)
    if checked.notice:
        doc["notices"].append(checked.notice)
    return trace, doc


def _document(checked: Checked, request: TraceRequest) -> dict[str, Any]:
    return _traced(checked, request, request.gradients and checked.gradients)[1]


async def run_trace(checked: Checked, request: TraceRequest, pool: TracePool) -> dict[str, Any]:
    return await pool.run(partial(_document, checked, request), checked.tokens)


def dumps(data: Any) -> bytes:
    # orjson is several times faster than json on these float-heavy documents; NumPy scalars pass too.
    return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)


def envelope(kind: str, rid: bytes, body: bytes) -> str:
    """`{"type": kind, "id": rid, ...body}` from a body serialised once: only the id differs per socket."""
    return b"".join((b'{"type":"', kind.encode(), b'","id":', rid, b",", body[1:])).decode()


@dataclass
class StreamedTrace:
    """A trace cut into WebSocket frame bodies (objects without "type" and "id"), serialised once.

    The steps are ready first and the gradients follow: the backward sweep costs several times the forward
    (T² norms), so a socket sends the steps — and the page paints the diagram — while it runs."""

    frames: list[tuple[str, bytes]]  # (type, body): meta, then one step per token
    gradients: asyncio.Future[bytes | None]  # the gradients frame's body; None when none were asked for
    size: int  # bytes, for the cache's budget (the gradients are added when they arrive)


def _head_frames(document: dict[str, Any]) -> list[tuple[str, bytes]]:
    meta = {k: document[k] for k in ("model", "tokens", "target", "interventions", "notices")}
    return [("meta", dumps(meta)), *(("step", dumps({"t": t, **step})) for t, step in enumerate(document["steps"]))]


def _forward(checked: Checked, request: TraceRequest) -> tuple[nn_trace.Trace, list[tuple[str, bytes]]]:
    trace, head = _traced(checked, request, gradients=False)
    return trace, _head_frames(head)


def _backward(trace: nn_trace.Trace) -> bytes:
    trace.triangle = nn_trace.gradient_triangle(trace)
    return dumps(nn_trace.gradients_record(trace))


class TraceCache:
    """Streamed traces by request: computed once however many sockets ask at the same moment (300
    students opening the page all trace its default sentence) and kept, least recently used first out,
    up to `max_bytes`."""

    def __init__(self, max_bytes: int, pool: TracePool) -> None:
        self.max_bytes = max_bytes
        self.pool = pool
        self.size = 0
        self._done: OrderedDict[bytes, StreamedTrace] = OrderedDict()
        self._running: dict[bytes, asyncio.Task[StreamedTrace]] = {}
        self._backward: set[asyncio.Task[None]] = set()  # held here: the loop keeps only weak references

    @staticmethod
    def key(model: Model, request: TraceRequest) -> bytes:
        fields = request.model_dump(include={"text", "target", "interventions", "gradients"})
        return dumps([model.id, fields])

    async def get(self, checked: Checked, request: TraceRequest) -> StreamedTrace:
        """The trace once its steps are ready; its `gradients` future resolves later."""
        key = self.key(checked.model, request)
        if (hit := self._done.get(key)) is not None:
            self._done.move_to_end(key)
            return hit
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(self._compute(key, checked, request))
            self._running[key] = task
            task.add_done_callback(partial(self._finished, key))
        # Shielded: a socket that leaves or is superseded must not cancel a trace others are waiting for.
        return await asyncio.shield(task)

    async def _compute(self, key: bytes, checked: Checked, request: TraceRequest) -> StreamedTrace:
        trace, head = await self.pool.run(partial(_forward, checked, request), checked.tokens)
        streamed = StreamedTrace(head, asyncio.get_running_loop().create_future(), sum(len(b) for _, b in head))
        if request.gradients and checked.gradients:
            job = asyncio.ensure_future(self._gradients(key, streamed, trace, checked.tokens))
            self._backward.add(job)
            job.add_done_callback(self._backward.discard)
        else:
            streamed.gradients.set_result(None)
        self._keep(key, streamed)
        return streamed

    async def _gradients(self, key: bytes, streamed: StreamedTrace, trace: nn_trace.Trace, tokens: int) -> None:
        try:
            body = await self.pool.run(partial(_backward, trace), tokens)
        except BaseException as e:
            # Not kept, so the next request retries; every socket waiting hears of it.
            if self._done.get(key) is streamed:
                self.size -= self._done.pop(key).size
            if isinstance(e, asyncio.CancelledError):  # shutting down
                streamed.gradients.cancel()
                raise
            streamed.gradients.set_exception(e)
            streamed.gradients.exception()  # retrieved, so an error nobody waited for is not reported as lost
            return
        streamed.gradients.set_result(body)
        streamed.size += len(body)
        if self._done.get(key) is streamed:
            self.size += len(body)
            self._evict()

    def _keep(self, key: bytes, streamed: StreamedTrace) -> None:
        if streamed.size <= self.max_bytes:
            self._done[key] = streamed
            self.size += streamed.size
            self._evict()

    def _evict(self) -> None:
        while self.size > self.max_bytes and self._done:
            self.size -= self._done.popitem(last=False)[1].size

    def _finished(self, key: bytes, task: asyncio.Task[StreamedTrace]) -> None:
        del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so an error nobody waited for is not reported as lost
