"""Browser tests: a real uvicorn server on a free port, a headless Chromium (the system's, never a
downloaded one), and helpers to wait for the page deterministically.

The page sets `data-ready="1"` and `data-trace-id` on <body> when a trace has painted, and exposes
`window.lstmExplainer` (getState / setState / getTrace); the tests wait on those, never on sleeps.
The page's CSP forbids eval, so every `wait_for_function` is given a function ("() => ..."), never a
bare expression.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from .harness import CHROMIUM_ARGS, find_chromium, free_port, make_test_models, start_server, stop_server, wait_healthy

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    models = make_test_models(tmp_path_factory.mktemp("e2e-models"))
    port = free_port()
    proc = start_server(models, port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        stop_server(proc)


# Named `chromium` and `tab`, not `browser` and `page`: those belong to pytest-playwright, which would
# also try to launch a browser of its own. Package scope: Playwright's sync API keeps an event loop
# running in this thread while it is open, which would break the asyncio tests that run after these.
@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    executable = find_chromium()
    if executable is None:
        pytest.skip("no Chromium found (install Debian's `chromium`, or set CHROMIUM=/path/to/chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


class PageErrors(list[str]):
    """Uncaught exceptions and console errors seen by the page; a test fails if any appear."""


def watch_errors(pg: Any) -> PageErrors:
    """The page's uncaught exceptions and console errors, collected as they happen."""
    errors = PageErrors()
    pg.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    pg.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    return errors


@pytest.fixture
def tab(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1500, "height": 1000}, reduced_motion="reduce")
    pg = context.new_page()
    errors = watch_errors(pg)
    pg.errors = errors
    yield pg
    context.close()
    unexpected = [e for e in errors if "status of 422" not in e]  # a rejected request is logged by Chromium
    assert not unexpected, "\n".join(unexpected)


@contextmanager
def offline_page(chromium: Any, allowed: tuple[str, ...], width: int = 1280, height: int = 720) -> Iterator[Any]:
    """A page whose every request (and socket) is recorded in `page.requested` and aborted unless its URL
    starts with one of `allowed`. On leaving: no page or console error, and nothing but `allowed` asked for."""
    context = chromium.new_context(viewport={"width": width, "height": height}, reduced_motion="reduce")
    requested: list[str] = []

    def route(r: Any) -> None:
        requested.append(r.request.url)
        r.continue_() if r.request.url.startswith(allowed) else r.abort()

    context.route("**/*", route)
    pg = context.new_page()
    errors = watch_errors(pg)
    pg.on("websocket", lambda ws: requested.append(ws.url))
    pg.requested = requested
    try:
        yield pg
    finally:
        context.close()
    assert not errors, "\n".join(errors)
    assert requested, "the route saw no request at all"
    assert all(u.startswith(allowed) for u in requested), [u for u in requested if not u.startswith(allowed)]


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# ------------------------------------------------------------------------------------------------ helpers
def wait_ready(page: Any, after: int | None = None, timeout: float = 10_000) -> int:
    """Wait until a trace newer than `after` has painted; return its id."""
    page.wait_for_function(
        "(after) => document.body.dataset.ready === '1' && !document.body.dataset.error &&"
        " Number(document.body.dataset.traceId || 0) > after",
        arg=after or 0,
        timeout=timeout,
    )
    return int(page.evaluate("document.body.dataset.traceId"))


def wait_plots(page: Any, trace_id: int, timeout: float = 15_000) -> None:
    """Wait until plotly has drawn the panels for trace `trace_id`."""
    page.wait_for_function("(id) => Number(document.body.dataset.plotsReady || 0) >= id", arg=trace_id, timeout=timeout)


def state(page: Any) -> dict[str, Any]:
    return page.evaluate("window.lstmExplainer.getState()")


def trace(page: Any) -> dict[str, Any]:
    return page.evaluate("window.lstmExplainer.getTrace()")
