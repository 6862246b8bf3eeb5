"""The server page's instant local forward (static/js/features/local-forward.js, `?local=1`): a keystroke's
forward pass is computed in the page and painted at once, the server's trace replaces it when it arrives
and equals it to float32 precision, a late local answer never paints over the server's, and a page whose
weights cannot be loaded traces as it always did. The socket is held back with Playwright's WebSocket
route, the engine's answers with a worker script that delays them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from .conftest import wait_ready, watch_errors
from .test_explorer import url

MODEL = "e2e-deep"  # two LSTM layers (tests/e2e/harness.py make_test_models)
TEXT = "hello wor"

LOCAL_READY = "(m) => (document.body.dataset.localModels || '').split(' ').includes(m)"
SHOWN = """([shown, n]) => document.body.dataset.shown === shown &&
  window.lstmExplainer.getTrace()?.tokens.length === n"""
# The numbers a trace on screen holds, as plain lists (a server trace's are Float32Array views).
NUMBERS = """() => {
  const t = window.lstmExplainer.getTrace();
  const a = (v) => Array.from(v ?? []);
  return {
    provisional: Boolean(t.provisional),
    tokens: t.tokens.map((x) => x.text),
    steps: t.steps.map((s) => ({
      layers: s.layers.map((L) => ({
        gates: Object.fromEntries(Object.entries(L.gates).map(([k, v]) => [k, a(v)])),
        cell: a(L.cell), hidden: a(L.hidden),
      })),
      top: s.top.map((x) => x.p),
      loss: s.loss,
    })),
  };
}"""

# The engine's worker with every answer posted `delay` ms late (the page asks for worker.js?v=…; the
# real one is imported without the query, so this route does not catch it).
WORKER = re.compile(r".*/static/js/engine/worker\.js\?v=.*")
SLOW_WORKER = """const DELAY = %d;
const post = self.postMessage.bind(self);
self.postMessage = (message, transfer) => setTimeout(() => post(message, transfer), DELAY);
const early = [];
self.onmessage = (ev) => early.push(ev.data);
await import('./worker.js');
for (const data of early) self.onmessage({ data });
"""


class HeldSocket:
    """The page's trace socket through Playwright's route: while `hold` is on, what the server sends waits."""

    def __init__(self, tab: Any) -> None:
        self.hold = False
        self.held: list[Any] = []
        self.page_side: Any = None
        tab.route_web_socket(re.compile(r".*/ws/trace$"), self.route)

    def route(self, ws: Any) -> None:
        self.page_side = ws
        ws.connect_to_server().on_message(self.down)

    def down(self, message: Any) -> None:
        if self.hold:
            self.held.append(message)
        else:
            self.page_side.send(message)

    def release(self) -> None:
        self.hold = False
        for message in self.held:
            self.page_side.send(message)
        self.held.clear()


@pytest.fixture
def held(tab: Any) -> HeldSocket:
    return HeldSocket(tab)


def open_page(tab: Any, server: str) -> None:
    tab.goto(url(server, model=MODEL, text=TEXT, local=1))
    wait_ready(tab)
    tab.wait_for_function(LOCAL_READY, arg=MODEL, timeout=30_000)
    tab.locator("#text-input").click()
    tab.locator("#text-input").press("End")


def assert_same_numbers(local: dict[str, Any], served: dict[str, Any]) -> None:
    assert local["tokens"] == served["tokens"]
    assert len(local["steps"]) == len(served["steps"])
    for t, (a, b) in enumerate(zip(local["steps"], served["steps"], strict=True)):
        for layer, (x, y) in enumerate(zip(a["layers"], b["layers"], strict=True)):
            for key in ("cell", "hidden"):
                np.testing.assert_allclose(
                    x[key], y[key], rtol=1e-6, atol=1e-7, err_msg=f"step {t} layer {layer} {key}"
                )
            assert set(x["gates"]) == set(y["gates"])
            for gate in x["gates"]:
                np.testing.assert_allclose(x["gates"][gate], y["gates"][gate], rtol=1e-6, atol=1e-7,
                                           err_msg=f"step {t} layer {layer} {gate}")  # fmt: skip
        np.testing.assert_allclose(a["top"], b["top"], rtol=1e-6, atol=1e-7, err_msg=f"step {t} top")
        if b["loss"] is None:
            assert a["loss"] is None
        else:
            np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-6, err_msg=f"step {t} loss")


def test_the_local_forward_paints_first_and_the_servers_trace_replaces_it(
    tab: Any, server: str, held: HeldSocket
) -> None:
    open_page(tab, server)
    n = len(TEXT) + 1
    held.hold = True
    tab.keyboard.press("l")
    tab.wait_for_function(SHOWN, arg=["local", n])
    # The local paint comes before the debounce sends the request: wait until the server has answered
    # (and its answer is held back), then the page must still show the local forward.
    for _ in range(200):
        if held.held:
            break
        tab.wait_for_timeout(50)
    assert held.held, "the server answered nothing within 10 s"
    assert tab.evaluate("document.body.dataset.ready") == "0"  # the server's answer is still held back
    tab.wait_for_function(SHOWN, arg=["local", n])
    local = tab.evaluate(NUMBERS)
    assert local["provisional"]
    assert f"of {n}:" in (tab.locator(".diagram-title").text_content() or "")

    held.release()
    wait_ready(tab)
    tab.wait_for_function(SHOWN, arg=["server", n])
    served = tab.evaluate(NUMBERS)
    assert not served["provisional"]
    assert_same_numbers(local, served)


def test_a_late_local_answer_never_paints_over_the_servers(tab: Any, server: str, held: HeldSocket) -> None:
    delay = 700
    tab.route(WORKER, lambda r: r.fulfill(body=SLOW_WORKER % delay, content_type="text/javascript"))
    open_page(tab, server)
    # held back, the server loses to the slow engine: its answer is painted first (the engine works here)
    held.hold = True
    tab.keyboard.press("l")
    tab.wait_for_function(SHOWN, arg=["local", len(TEXT) + 1])
    held.release()
    last = wait_ready(tab)
    # not held, the server answers long before the engine: the engine's answer, arriving later, is dropped
    seen = tab.evaluate_handle("""() => {
      const seen = [];
      new MutationObserver(() => seen.push(document.body.dataset.shown))
        .observe(document.body, { attributes: true, attributeFilter: ['data-shown'] });
      return seen;
    }""")
    tab.keyboard.press("x")
    wait_ready(tab, last)
    tab.wait_for_function(SHOWN, arg=["server", len(TEXT) + 2])
    tab.wait_for_timeout(3 * delay)  # the engine's answer has arrived by now
    assert tab.evaluate("(seen) => seen.includes('local')", seen) is False
    assert tab.evaluate(NUMBERS)["provisional"] is False
    assert tab.evaluate("document.body.dataset.shown") == "server"


def test_a_local_answer_to_an_older_keystroke_is_never_painted(tab: Any, server: str, held: HeldSocket) -> None:
    delay = 700
    tab.route(WORKER, lambda r: r.fulfill(body=SLOW_WORKER % delay, content_type="text/javascript"))
    open_page(tab, server)
    lengths = tab.evaluate_handle("""() => {
      const lengths = [];
      const title = document.querySelector('.diagram-title');
      new MutationObserver(() => lengths.push(Number(/of (\\d+):/.exec(title.textContent)?.[1])))
        .observe(title, { childList: true, characterData: true, subtree: true });
      return lengths;
    }""")
    held.hold = True
    tab.keyboard.press("l")  # its forward pass comes back 0.7 s later: after the next keystroke
    tab.wait_for_timeout(200)
    tab.keyboard.press("d")
    n = len(TEXT) + 2
    tab.wait_for_function(SHOWN, arg=["local", n])
    tab.wait_for_timeout(delay)
    held.release()
    wait_ready(tab)
    tab.wait_for_function(SHOWN, arg=["server", n])
    shown = tab.evaluate("(lengths) => [...new Set(lengths)]", lengths)
    assert shown == [n], f"the diagram showed {shown} tokens; only the newest text ({n}) should ever be painted"


@pytest.fixture
def weightless_tab(chromium: Any) -> Iterator[Any]:
    """A page whose weights requests fail (the browser logs each failed request: only those may be in its
    console)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 720}, reduced_motion="reduce")
    asked: list[str] = []

    def refuse(route: Any) -> None:
        asked.append(route.request.url)
        route.fulfill(status=503, body="")

    context.route(re.compile(r".*/api/models/[^/]+/weights\.safetensors$"), refuse)
    pg = context.new_page()
    errors = watch_errors(pg)
    pg.asked = asked
    yield pg
    context.close()
    unexpected = [e for e in errors if "status of 503" not in e]
    assert not unexpected, "\n".join(unexpected)


def test_a_page_whose_weights_fail_to_load_traces_as_before(weightless_tab: Any, server: str) -> None:
    tab = weightless_tab
    tab.goto(url(server, model=MODEL, text=TEXT, local=1))
    last = wait_ready(tab)
    for _ in range(100):  # the page asks for them after its first paint
        if tab.asked:
            break
        tab.wait_for_timeout(100)
    assert tab.asked, "the page never asked for the weights"
    tab.locator("#text-input").click()
    tab.locator("#text-input").press("End")
    for key in "ld":
        tab.keyboard.press(key)
        last = wait_ready(tab, last)
    tab.wait_for_function(SHOWN, arg=["server", len(TEXT) + 2])
    assert tab.evaluate("document.body.dataset.localModels") is None
    assert tab.evaluate(NUMBERS)["tokens"][-2:] == ["l", "d"]


def test_without_the_flag_the_page_never_asks_for_weights(tab: Any, server: str) -> None:
    asked: list[str] = []
    tab.on("request", lambda r: asked.append(r.url) if "/api/models/" in r.url else None)
    tab.goto(url(server, model=MODEL, text=TEXT))  # the server's default: LSTM_EXPLAINER_LOCAL_FORWARD off
    last = wait_ready(tab)
    tab.locator("#text-input").click()
    tab.locator("#text-input").press("End")
    tab.keyboard.press("l")
    wait_ready(tab, last)
    assert tab.evaluate("document.body.dataset.shown") == "server"
    assert asked == []
