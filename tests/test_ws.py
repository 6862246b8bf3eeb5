"""The WebSocket protocol through TestClient: envelopes, errors that keep the socket, superseding, closes."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
import orjson
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from app.api import tracing
from app.api.schemas import TraceMessage, TraceRequest
from app.api.tracing import LONG_TRACE_TOKENS, Checked, TraceCache, TracePool
from app.config import Settings
from app.nn import TraceInputError, random_model, trace_document

TEXT = "the keys to the cabinet are"
CLAMP = {"gate": "forget", "value": 1}


def trace(id: Any = 1, model: str = "tiny-char", text: str = TEXT, **extra: Any) -> dict[str, Any]:
    return {"type": "trace", "id": id, "model": model, "text": text, **extra}


def receive_until_done(ws: WebSocketTestSession, rid: Any) -> list[dict[str, Any]]:
    """Frames up to and including `done` (or an `error`) for request `rid`; other ids are collected too."""
    frames = []
    for _ in range(1000):
        frame = ws.receive_json()
        frames.append(frame)
        if frame["id"] == rid and frame["type"] in ("done", "error"):
            return frames
    raise AssertionError("no done frame")


def only(frames: list[dict[str, Any]], rid: Any) -> list[dict[str, Any]]:
    return [f for f in frames if f["id"] == rid]


def test_stream_matches_the_document(client: TestClient) -> None:
    model = client.app.state.zoo.models["tiny-char"]  # type: ignore[attr-defined]
    request = trace("a1", target="a", interventions=[{"gate": "output", "value": 0.0, "units": [1]}])
    with client.websocket_connect("/ws/trace") as ws:
        ws.send_json(request)
        frames = receive_until_done(ws, "a1")
    doc = orjson.loads(orjson.dumps(trace_document(model, TEXT, "a", request["interventions"])))
    T = len(doc["tokens"])
    assert [f["type"] for f in frames] == ["meta"] + ["step"] * T + ["gradients", "done"]
    assert all(f["id"] == "a1" for f in frames)
    meta, steps, gradients, done = frames[0], frames[1 : T + 1], frames[T + 1], frames[-1]
    assert meta == {
        "type": "meta",
        "id": "a1",
        "model": doc["model"],
        "tokens": doc["tokens"],
        "target": doc["target"],
        "interventions": doc["interventions"],
        "notices": [],
    }
    for t, (frame, step) in enumerate(zip(steps, doc["steps"], strict=True)):
        assert frame == {"type": "step", "id": "a1", "t": t, **step}
        assert set(frame) == {"type", "id", "t", "layers", "top", "expected", "loss"}
    assert gradients == {"type": "gradients", "id": "a1", **doc["gradients"]}
    assert done["ms"] > 0


def test_no_gradients_frame_when_not_asked(client: TestClient) -> None:
    with client.websocket_connect("/ws/trace") as ws:
        ws.send_json(trace(7, model="tiny-word", text="The cat sat.", gradients=False))
        types = [f["type"] for f in receive_until_done(ws, 7)]
    assert types == ["meta", "step", "step", "step", "step", "done"]


@pytest.mark.parametrize(
    ("message", "rid", "code", "words"),
    [
        ("{not json", None, "bad_json", ("JSON",)),
        ("[1, 2]", None, "bad_message", ("object",)),
        (json.dumps({"type": "hello", "id": 3}), 3, "unknown_type", ("'hello'", "'trace'")),
        (json.dumps({"id": 4}), 4, "unknown_type", ("None",)),
        (json.dumps({"type": "trace", "id": 5, "model": "tiny-char"}), 5, "invalid_message", ("text",)),
        (json.dumps(trace(6, gradients="yes")), 6, "invalid_message", ("gradients",)),
        (json.dumps(trace(True)), None, "invalid_message", ("id",)),
        (json.dumps(trace(8, model="nope")), 8, "unknown_model", ("'nope'",)),
        (json.dumps(trace(9, text="x" * 301)), 9, "text_too_long", ("301 characters", "300 characters")),
        (json.dumps(trace(10, model="tiny-word", text="a cat " * 11)), 10, "text_too_long", ("word tokens",)),
        (json.dumps(trace(11, interventions=[CLAMP] * 4)), 11, "too_many_interventions", ("limit is 3",)),
        (json.dumps(trace(12, interventions=[{**CLAMP, "value": 2}])), 12, "bad_intervention", ("[0, 1]",)),
        (json.dumps(trace(13, text="")), 13, "empty_text", ()),
        (json.dumps(trace(14, target="zz")), 14, "bad_target", ()),
    ],
)
def test_client_errors_keep_the_socket_open(
    client: TestClient, message: str, rid: Any, code: str, words: tuple[str, ...]
) -> None:
    with client.websocket_connect("/ws/trace") as ws:
        ws.send_text(message)
        error = ws.receive_json()
        assert error["type"] == "error"
        assert (error["id"], error["code"]) == (rid, code), error
        for word in words:
            assert word in error["message"], (word, error["message"])
        ws.send_json(trace("after", text="ok"))
        assert receive_until_done(ws, "after")[-1]["type"] == "done"


def test_newer_request_supersedes_older_stream(client: TestClient) -> None:
    with client.websocket_connect("/ws/trace") as ws:
        ws.send_json(trace(1, text="a long sentence that takes a while " * 8))
        ws.send_json(trace(2, text="short"))
        frames = receive_until_done(ws, 2)
    assert not any(f["type"] == "done" for f in only(frames, 1))
    assert [f["type"] for f in only(frames, 2)] == ["meta"] + ["step"] * 5 + ["gradients", "done"]
    # once the newer request's frames start, none of the older one's follow
    first_new = next(k for k, f in enumerate(frames) if f["id"] == 2)
    assert all(f["id"] == 2 for f in frames[first_new:])


def test_bursts_of_requests_collapse_to_the_newest(client: TestClient) -> None:
    with client.websocket_connect("/ws/trace") as ws:
        for k in range(10):
            ws.send_json(trace(k, text="typing a sentence " * 6 + "x" * k))
        frames = receive_until_done(ws, 9)
    assert [f["id"] for f in frames if f["type"] == "done"] == [9]


def test_invalid_request_also_supersedes(client: TestClient) -> None:
    with client.websocket_connect("/ws/trace") as ws:
        ws.send_json(trace(1, text="another sentence that takes a while " * 8))
        ws.send_json(trace(2, model="nope"))
        ws.send_json(trace(3, text="ok"))
        frames = receive_until_done(ws, 3)
    assert not any(f["type"] == "done" for f in only(frames, 1))
    assert [f["code"] for f in only(frames, 2)] == ["unknown_model"]


def test_binary_frame_closes_with_1003(client: TestClient) -> None:
    with client.websocket_connect("/ws/trace") as ws:
        ws.send_bytes(b'{"type": "trace"}')
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1003


def test_oversize_message_closes_with_1009(client: TestClient) -> None:
    with client.websocket_connect("/ws/trace") as ws:
        ws.send_text(json.dumps(trace(1, text="ü" * 2100)))  # 2,100 characters but over 4,096 bytes
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1009


def test_disconnect_mid_stream_is_clean(client: TestClient) -> None:
    with client.websocket_connect("/ws/trace") as ws:
        ws.send_json(trace(1, text="a long sentence " * 10))
        assert ws.receive_json()["type"] == "meta"
    # leaving the block disconnects; the app must finish without raising (TestClient would re-raise)


@pytest.fixture
def restricted(make_client: Any, settings: Settings) -> TestClient:
    return make_client(settings.model_copy(update={"allowed_origins": ["https://slides.example.org"]}))


@pytest.mark.parametrize(
    "headers",
    [{"origin": "https://slides.example.org"}, {"origin": "http://testserver"}, {}],
    ids=["listed", "same-origin", "no-origin"],
)
def test_allowed_origins(restricted: TestClient, headers: dict[str, str]) -> None:
    with restricted.websocket_connect("/ws/trace", headers=headers) as ws:
        ws.send_json(trace(1, text="hi"))
        assert receive_until_done(ws, 1)[-1]["type"] == "done"


def test_foreign_origin_closes_with_1008(restricted: TestClient) -> None:
    headers = {"origin": "https://evil.example"}
    with (
        restricted.websocket_connect("/ws/trace", headers=headers) as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_json()
    assert closed.value.code == 1008


def test_any_origin_by_default(client: TestClient) -> None:
    with client.websocket_connect("/ws/trace", headers={"origin": "https://anywhere.example"}) as ws:
        ws.send_json(trace(1, text="hi"))
        assert receive_until_done(ws, 1)[-1]["type"] == "done"


# -- the trace cache behind the socket -----------------------------------------------------------------------


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records the text of every forward run the cache actually computes."""
    calls: list[str] = []
    run_trace = tracing.nn_trace.run_trace

    def counting(model: Any, text: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(text)
        return run_trace(model, text, *args, **kwargs)

    monkeypatch.setattr(tracing.nn_trace, "run_trace", counting)
    return calls


def cache_request(text: str) -> TraceRequest:
    return TraceMessage(type="trace", id=1, model="m", text=text)  # what the socket hands the cache


def test_concurrent_identical_requests_are_traced_once(counted: list[str]) -> None:
    checked = Checked(random_model(), tokens=4)

    async def main() -> None:
        cache = TraceCache(10**7, TracePool(2))
        results = await asyncio.gather(*(cache.get(checked, cache_request("abc")) for _ in range(5)))
        assert all(r is results[0] for r in results)
        assert await cache.get(checked, cache_request("abc")) is results[0]
        await cache.get(checked, TraceRequest(model="m", text="abc", gradients=False))

    anyio.run(main)
    assert counted == ["abc", "abc"]  # once with gradients, once without


def test_cache_keeps_to_its_budget(counted: list[str]) -> None:
    checked = Checked(random_model(), tokens=4)

    async def main() -> None:
        async def whole(cache: TraceCache, text: str) -> int:
            streamed = await cache.get(checked, cache_request(text))
            await streamed.gradients  # the size is whole (and the budget applied) once the gradients are in
            return streamed.size

        one = await whole(TraceCache(10**7, TracePool(1)), "abcd")
        counted.clear()
        cache = TraceCache(int(one * 1.5), TracePool(1))
        await whole(cache, "abcd")
        await whole(cache, "dcba")  # evicts "abcd"
        assert cache.size <= cache.max_bytes
        await whole(cache, "abcd")
        await whole(cache, "abcd" * 10)  # bigger than the whole budget: not kept
        assert cache.size <= cache.max_bytes

    anyio.run(main)
    assert counted == ["abcd", "dcba", "abcd", "abcd" * 10]


def test_cache_shares_errors_but_does_not_keep_them(counted: list[str]) -> None:
    checked = Checked(random_model(), tokens=4)

    async def main() -> None:
        cache = TraceCache(10**7, TracePool(1))
        results = await asyncio.gather(
            *(cache.get(checked, cache_request("")) for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, TraceInputError) and r.code == "empty_text" for r in results)
        with pytest.raises(TraceInputError):
            await cache.get(checked, cache_request(""))

    anyio.run(main)
    assert counted == ["", ""]


def test_a_waiter_leaving_does_not_cancel_the_trace(counted: list[str]) -> None:
    checked = Checked(random_model(), tokens=4)

    async def main() -> None:
        cache = TraceCache(10**7, TracePool(1))
        leaver = asyncio.ensure_future(cache.get(checked, cache_request("abc")))
        stayer = asyncio.ensure_future(cache.get(checked, cache_request("abc")))
        await asyncio.sleep(0)
        leaver.cancel()
        streamed = await stayer
        assert len(streamed.frames) == 1 + 3  # meta and the steps; the gradients come separately
        assert leaver.cancelled()
        assert (await streamed.gradients) is not None

    anyio.run(main)
    assert counted == ["abc"]


def test_long_traces_leave_threads_for_short_ones() -> None:
    spans: dict[str, tuple[float, float]] = {}

    def job(name: str) -> Callable[[], None]:
        def run() -> None:
            start = time.perf_counter()
            time.sleep(0.2)
            spans[name] = (start, time.perf_counter())

        return run

    async def main() -> None:
        pool = TracePool(2)
        long_tokens = LONG_TRACE_TOKENS + 1
        async with anyio.create_task_group() as tg:
            tg.start_soon(pool.run, job("long 1"), long_tokens)
            tg.start_soon(pool.run, job("long 2"), long_tokens)
            await anyio.sleep(0.02)
            tg.start_soon(pool.run, job("short"), 5)

    anyio.run(main)
    first, second = sorted([spans["long 1"], spans["long 2"]])
    assert second[0] >= first[1]  # the long ones took turns
    assert spans["short"][0] < first[1]  # the short one did not wait behind them


HELD = "a sentence held in the backward sweep"
FLAKY = "gradients fail once for this one"


@pytest.fixture
def held_backward(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The backward sweep of HELD (a text no other test traces) waits for the returned event (at most 10 s)."""
    release = threading.Event()
    backward = tracing._backward

    def held(trace: Any) -> bytes:
        if len(trace.tokens) in (len(HELD), len(HELD) + 1):
            release.wait(10)
        return backward(trace)

    monkeypatch.setattr(tracing, "_backward", held)
    return release


def test_steps_are_sent_before_the_gradients_are_computed(client: TestClient, held_backward: threading.Event) -> None:
    with client.websocket_connect("/ws/trace") as ws:
        ws.send_json(trace(1, text=HELD))
        head = [ws.receive_json() for _ in range(1 + len(HELD))]
        assert not held_backward.is_set()  # every step arrived while the backward sweep was still held
        assert [f["type"] for f in head] == ["meta"] + ["step"] * len(HELD)
        held_backward.set()
        assert [f["type"] for f in receive_until_done(ws, 1)] == ["gradients", "done"]


def test_a_newer_request_does_not_wait_for_older_gradients(client: TestClient, held_backward: threading.Event) -> None:
    with client.websocket_connect("/ws/trace") as ws:
        ws.send_json(trace(1, text=HELD + "!"))
        for _ in range(1 + len(HELD) + 1):
            ws.receive_json()
        ws.send_json(trace(2, text="short"))
        frames = receive_until_done(ws, 2)
        assert not held_backward.is_set()
        assert only(frames, 1) == []  # the older trace's gradients and done are dropped
        assert [f["type"] for f in frames] == ["meta"] + ["step"] * 5 + ["gradients", "done"]
        held_backward.set()
        ws.send_json(
            trace(3, text=HELD + "!")
        )  # the held trace finished for the cache: served from it, gradients included
        assert [f["type"] for f in receive_until_done(ws, 3)][-2:] == ["gradients", "done"]


def test_failed_gradients_are_an_error_frame_and_not_cached(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures = [RuntimeError("boom")]
    backward = tracing._backward

    def flaky(trace: Any) -> bytes:
        if failures:
            raise failures.pop()
        return backward(trace)

    monkeypatch.setattr(tracing, "_backward", flaky)
    with client.websocket_connect("/ws/trace") as ws:
        ws.send_json(trace(1, text=FLAKY))
        frames = receive_until_done(ws, 1)
        assert [f["type"] for f in frames] == ["meta"] + ["step"] * len(FLAKY) + ["error"]
        assert frames[-1]["code"] == "internal_error"
        ws.send_json(trace(2, text=FLAKY))  # the same request again: recomputed, and this time it succeeds
        assert [f["type"] for f in receive_until_done(ws, 2)][-2:] == ["gradients", "done"]
