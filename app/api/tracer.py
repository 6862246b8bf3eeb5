"""The service that turns a request into a trace (or a continuation), shared by REST, the WebSocket and the
exporter: limits with messages that name the limit, then the CPU-bound work in a bounded pool of worker
threads. Routes (app/api/routes/) and the socket's streaming (app/api/streaming.py) only adapt it.

The WebSocket's traces are kept in a cache by request (a lecture hall tracing the same sentence costs one
trace) as arrays, not frames: frames are cut from the arrays as they are sent (app/nn/document.py Frames),
and gradient rows are computed when a client asks for them. Two byte budgets bound the memory traces take:
the cache's, least recently used out, and the pins': a socket pins its trace while it streams it, so a busy
cache never makes it trace the text twice, and lets it go when the stream ends (between streams a socket
keeps only the key). A pin the budget has no room for is refused; that socket then finds its trace in the
cache, or traces it again, as every socket did before pins.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
import orjson
from anyio import CapacityLimiter

from app.api.errors import ApiError
from app.api.schemas import TraceRequest
from app.config import Settings
from app.nn import Model, TraceInputError, Zoo
from app.nn import document as nn_document
from app.nn import trace as nn_trace
from app.nn.generate import GREEDY, Sampling, continue_text, join_tokens

T = TypeVar("T")
log = logging.getLogger(__name__)


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


def _run(
    checked: Checked, request: TraceRequest, gradients: bool, base: nn_trace.Trace | None = None, lean: bool = False
) -> nn_trace.Trace:
    interventions = [iv.model_dump() for iv in request.interventions]
    # Only the norms of ∂L/∂θ are shown: the arrays (V·(I + H) floats for the embedding and decoder) are let go.
    return nn_trace.run_trace(
        checked.model, request.text, request.target, interventions, gradients, base, lean, param_grads=False
    )


def document_for(checked: Checked, request: TraceRequest) -> dict[str, Any]:
    """The JSON document for a checked request: `POST /api/trace`, `lstm-explainer export`."""
    doc = nn_document.document(_run(checked, request, request.gradients and checked.gradients))
    if checked.notice:
        doc["notices"].append(checked.notice)
    return doc


async def run_document(checked: Checked, request: TraceRequest, pool: TracePool) -> dict[str, Any]:
    return await pool.run(partial(document_for, checked, request), checked.tokens)


def continuation_for(model: Model, text: str, length: int, sampling: Sampling = GREEDY) -> dict[str, Any]:
    """The answer of `POST /api/continue` (and of an exported page's continuation panel)."""
    tokens = continue_text(model, text, length, sampling)
    return {
        "model": model.id,
        "text": text,
        "continuation": join_tokens(model, tokens),
        "tokens": [{"text": t.text, "id": t.id, "unknown": t.unknown, "join": t.join} for t in tokens],
        "sampling": {
            "temperature": sampling.temperature,
            "top_k": sampling.top_k,
            "top_p": sampling.top_p,
            "seed": None if sampling.greedy else sampling.seed,
        },
    }


def dumps(data: Any) -> bytes:
    # orjson is several times faster than json on these float-heavy documents; NumPy scalars pass too.
    return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)


# ------------------------------------------------------------------------------------------ the cache
@dataclass(eq=False)
class Entry:
    """A computed trace and its frame cutter. `gradients` is whether rows may be computed for it."""

    key: bytes
    trace: nn_trace.Trace
    frames: nn_document.Frames
    gradients: bool
    notice: str | None
    size: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one backward sweep at a time per trace
    pins: int = 0  # sockets streaming it (TraceCache.pin)
    reserved: int = 0  # what its pin counts: its size with every gradient row, so a pinned trace never outgrows it


def trace_bytes(trace: nn_trace.Trace) -> int:
    """The memory a trace's arrays take (what the cache's budget counts)."""
    n = trace.ranked.nbytes + trace.ranked_p.nbytes + trace.losses.nbytes
    n += trace.forecast.nbytes if trace.forecast is not None else 0
    n += trace.tail_logp.nbytes if trace.tail_logp is not None else 0
    for c in [*trace.columns, *(trace.tail or [])]:
        n += sum(a.nbytes for a in c.arrays())
    tri = trace.triangle
    if tri is not None:
        n += tri.hidden.nbytes + (tri.cell.nbytes if tri.cell is not None else 0)
        n += tri.attribution.nbytes if tri.attribution is not None else 0
        if tri.params is not None:  # not kept by the server's traces (param_grads=False): only their norms
            n += sum(a.nbytes for a in tri.params.params.values())
    return n


def full_bytes(trace: nn_trace.Trace, gradients: bool) -> int:
    """`trace_bytes` once every gradient row (and the last loss's attribution) is in."""
    n = trace_bytes(trace)
    if gradients and trace.triangle is None:
        T, L = trace.steps, trace.model.layers
        R = sum(e is not None for e in trace.expected)
        n += L * R * T * 8 * (2 if trace.model.spec.has_cell else 1) + T * 8
    return n


def _rows_job(trace: nn_trace.Trace, steps: list[int]) -> None:
    nn_trace.gradient_triangle(trace, steps)


class TraceCache:
    """Computed traces by request: computed once however many sockets ask at the same moment (300 students
    opening the page all trace its default sentence) and kept, least recently used first out, up to
    `max_bytes`. A trace larger than the whole budget is not kept: the socket that asked streams it and
    lets it go."""

    def __init__(self, max_bytes: int, pool: TracePool, pin_bytes: int = 0) -> None:
        self.max_bytes = max_bytes
        self.pool = pool
        self.size = 0
        self.pin_bytes = pin_bytes
        self.pinned = 0  # bytes reserved by the pinned entries (in the cache or not)
        self._pinned: dict[bytes, Entry] = {}
        self._done: OrderedDict[bytes, Entry] = OrderedDict()
        self._running: dict[bytes, asyncio.Task[Entry]] = {}
        self._prefetching: set[asyncio.Task[None]] = set()  # held here: the loop keeps only weak references

    @staticmethod
    def key(model: Model, request: TraceRequest) -> bytes:
        # Not `gradients`: the forward is the same, and rows are computed when someone asks.
        return dumps([model.id, request.model_dump(include={"text", "target", "interventions"})])

    def peek(self, key: bytes) -> Entry | None:
        entry = self._done.get(key)
        if entry is not None:
            self._done.move_to_end(key)
            return entry
        entry = self._pinned.get(key)  # let go by the cache while a socket streams it: still here
        if entry is not None:
            self._keep(entry)  # asked for again, so recently used
        return entry

    def pin(self, entry: Entry) -> bool:
        """Keep `entry` while a socket streams it, whatever the cache lets go, if the pins' budget has room for
        its whole size with every gradient row. Each successful pin is matched by one `unpin`."""
        held = self._pinned.get(entry.key)
        if held is not None:
            if held is not entry:
                return False  # an older trace of the same request, pinned by others
            entry.pins += 1
            return True
        reserved = max(entry.size, full_bytes(entry.trace, entry.gradients))
        if self.pinned + reserved > self.pin_bytes:
            return False
        entry.pins, entry.reserved = 1, reserved
        self._pinned[entry.key] = entry
        self.pinned += reserved
        return True

    def unpin(self, entry: Entry) -> None:
        if self._pinned.get(entry.key) is not entry:
            return
        entry.pins -= 1
        if not entry.pins:
            del self._pinned[entry.key]
            self.pinned -= entry.reserved

    async def get(self, checked: Checked, request: TraceRequest, base: Entry | None = None) -> Entry:
        """The trace with its forward done, extended from `base` when that is an earlier trace of the model."""
        key = self.key(checked.model, request)
        if (hit := self.peek(key)) is not None:
            return hit
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(self._compute(key, checked, request, base))
            self._running[key] = task
            task.add_done_callback(partial(self._finished, key))
        # Shielded: a socket that leaves or is superseded must not cancel a trace others are waiting for.
        return await asyncio.shield(task)

    async def _compute(self, key: bytes, checked: Checked, request: TraceRequest, base: Entry | None) -> Entry:
        base_trace = base.trace if base is not None and base.trace.model is checked.model else None
        # A text past the gradient limit never has gradients: its shown quantities are kept in float32.
        job = partial(_run, checked, request, False, base_trace, not checked.gradients)
        trace = await self.pool.run(job, checked.tokens)
        entry = Entry(key, trace, nn_document.Frames(trace), checked.gradients, checked.notice)
        entry.size = trace_bytes(trace)
        self._keep(entry)
        return entry

    def prefetch(self, checked: Checked, request: TraceRequest) -> None:
        """Start a trace that a page being loaded is about to ask for, and all its gradient rows when the
        page will show them (`request.gradients`): the socket's request then finds it computed (or
        computing) instead of starting it."""
        key = self.key(checked.model, request)
        if key in self._done or key in self._running:
            return
        task = asyncio.ensure_future(self._prefetch(checked, request))
        self._prefetching.add(task)
        task.add_done_callback(self._prefetching.discard)

    async def _prefetch(self, checked: Checked, request: TraceRequest) -> None:
        try:
            entry = await self.get(checked, request)
            if request.gradients and entry.gradients:
                await self.rows(entry, range(entry.trace.steps))
        except TraceInputError:
            pass  # the page's own request gets the error, with its id
        except Exception:
            log.exception("prefetching a trace for model %s failed", checked.model.id)

    async def rows(self, entry: Entry, steps: Iterable[int]) -> None:
        """Compute the gradient rows of the losses at `steps` that are not computed yet."""
        wanted = list(steps)
        async with entry.lock:
            tri = entry.trace.triangle
            if tri is not None:
                wanted = [t for t in wanted if (r := tri.row_of(t)) is not None and not tri.computed[r]]
            if not wanted:
                return
            await self.pool.run(partial(_rows_job, entry.trace, wanted), entry.trace.steps)
        self._resize(entry)

    def _resize(self, entry: Entry) -> None:
        size = trace_bytes(entry.trace)
        if self._done.get(entry.key) is entry:
            self.size += size - entry.size
            entry.size = size
            if entry.size > self.max_bytes:
                self.size -= self._done.pop(entry.key).size
            self._evict()
        else:
            entry.size = size

    def _keep(self, entry: Entry) -> None:
        if entry.size <= self.max_bytes:
            old = self._done.pop(entry.key, None)
            if old is not None:
                self.size -= old.size
            self._done[entry.key] = entry
            self.size += entry.size
            self._evict()

    def _evict(self) -> None:
        while self.size > self.max_bytes and self._done:
            self.size -= self._done.popitem(last=False)[1].size

    def _finished(self, key: bytes, task: asyncio.Task[Entry]) -> None:
        del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so an error nobody waited for is not reported as lost
