"""The one path from a trace request to a trace, shared by REST and the WebSocket: limits with messages
that name the limit, then the CPU-bound trace in a worker thread. The WebSocket's traces are also cut
into frames once and cached, so a lecture hall tracing the same sentence costs one trace."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio.to_thread
import orjson
from anyio import CapacityLimiter

from app.api.errors import ApiError
from app.api.schemas import TraceRequest
from app.config import Settings
from app.nn import Model, TraceInputError, Zoo, trace_document


def check_request(request: TraceRequest, zoo: Zoo, settings: Settings) -> Model:
    """The model to trace with, or an ApiError saying which limit was exceeded and what the limit is."""
    model = zoo.models.get(request.model)
    if model is None:
        known = ", ".join(sorted(zoo.models)) or "none are loaded"
        raise ApiError(404, "unknown_model", f"there is no model {request.model!r}; available: {known}")
    n_chars, limit = len(request.text), settings.max_chars
    if n_chars > limit:
        raise ApiError(
            422, "text_too_long", f"the text has {n_chars:,} characters; the limit is {limit:,} characters"
        )
    if model.tokenizer.kind == "word":
        try:
            n_tokens, limit = len(model.tokenizer.tokenize(request.text)), settings.max_word_tokens
        except TraceInputError as e:
            raise ApiError(422, e.code, e.message) from e
        if n_tokens > limit:
            message = f"the text has {n_tokens:,} word tokens; the limit is {limit:,} word tokens"
            raise ApiError(422, "text_too_long", message)
    n_interventions, limit = len(request.interventions), settings.max_interventions
    if n_interventions > limit:
        message = f"{n_interventions} interventions; the limit is {limit} per request"
        raise ApiError(422, "too_many_interventions", message)
    return model


async def run_trace(model: Model, request: TraceRequest, limiter: CapacityLimiter) -> dict[str, Any]:
    """trace_document in a worker thread; the limiter queues traces beyond the cores instead of letting
    hundreds of threads fight over them while the event loop starves."""
    job = partial(
        trace_document,
        model,
        request.text,
        target=request.target,
        interventions=[iv.model_dump() for iv in request.interventions],
        gradients=request.gradients,
    )
    return await anyio.to_thread.run_sync(job, limiter=limiter)


def dumps(data: Any) -> bytes:
    # orjson is several times faster than json on these float-heavy documents; NumPy scalars pass too.
    return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)


def envelope(kind: str, rid: bytes, body: bytes) -> str:
    """`{"type": kind, "id": rid, ...body}` from a body serialised once: only the id differs per socket."""
    return b"".join((b'{"type":"', kind.encode(), b'","id":', rid, b",", body[1:])).decode()


@dataclass(frozen=True)
class StreamedTrace:
    """A trace document cut into WebSocket frame bodies (objects without "type" and "id"), serialised."""

    frames: list[tuple[str, bytes]]  # (type, body): meta, one step per token, gradients when asked
    size: int  # bytes, for the cache's budget

    @classmethod
    def cut(cls, document: dict[str, Any]) -> StreamedTrace:
        meta = {k: document[k] for k in ("model", "tokens", "target", "interventions")}
        frames = [("meta", dumps(meta))]
        frames += [("step", dumps({"t": t, **step})) for t, step in enumerate(document["steps"])]
        if document["gradients"] is not None:
            frames.append(("gradients", dumps(document["gradients"])))
        return cls(frames, sum(len(body) for _, body in frames))


def _streamed(model: Model, request: TraceRequest) -> StreamedTrace:
    interventions = [iv.model_dump() for iv in request.interventions]
    document = trace_document(model, request.text, request.target, interventions, request.gradients)
    return StreamedTrace.cut(document)


class TraceCache:
    """Streamed traces by request: computed once however many sockets ask at the same moment (300
    students opening the page all trace its default sentence) and kept, least recently used first out,
    up to `max_bytes`."""

    def __init__(self, max_bytes: int, limiter: CapacityLimiter) -> None:
        self.max_bytes = max_bytes
        self.limiter = limiter
        self.size = 0
        self._done: OrderedDict[bytes, StreamedTrace] = OrderedDict()
        self._running: dict[bytes, asyncio.Task[StreamedTrace]] = {}

    @staticmethod
    def key(model: Model, request: TraceRequest) -> bytes:
        fields = request.model_dump(include={"text", "target", "interventions", "gradients"})
        return dumps([model.id, fields])

    async def get(self, model: Model, request: TraceRequest) -> StreamedTrace:
        key = self.key(model, request)
        if (hit := self._done.get(key)) is not None:
            self._done.move_to_end(key)
            return hit
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(self._compute(key, model, request))
            self._running[key] = task
            task.add_done_callback(partial(self._finished, key))
        # Shielded: a socket that leaves or is superseded must not cancel a trace others are waiting for.
        return await asyncio.shield(task)

    async def _compute(self, key: bytes, model: Model, request: TraceRequest) -> StreamedTrace:
        trace = await anyio.to_thread.run_sync(partial(_streamed, model, request), limiter=self.limiter)
        if trace.size <= self.max_bytes:
            self._done[key] = trace
            self.size += trace.size
            while self.size > self.max_bytes:
                self.size -= self._done.popitem(last=False)[1].size
        return trace

    def _finished(self, key: bytes, task: asyncio.Task[StreamedTrace]) -> None:
        del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so an error nobody waited for is not reported as lost
