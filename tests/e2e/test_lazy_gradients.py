"""Gradients when they are looked at, in Chromium against a real server: a page that does not show the
gradients panel (an embed in a slide, or the explorer with the panel closed) asks the socket for no
gradient rows, so the server does not compute the triangle for it; opening the panel asks for them and
draws them."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from .conftest import wait_ready

TEXT = "b3141592653589793238462643="
KIND_ROWS = 3


def url(server: str, path: str = "/", **params: Any) -> str:
    return f"{server}{path}?{urlencode(params)}"


def watch_socket(tab: Any) -> dict[str, list[Any]]:
    """The trace socket's traffic: the client's JSON messages, and the kinds of the binary frames it gets."""
    seen: dict[str, list[Any]] = {"sent": [], "kinds": []}

    def on_socket(ws: Any) -> None:
        if not ws.url.endswith("/ws/trace"):
            return
        ws.on("framesent", lambda payload: seen["sent"].append(json.loads(payload)))
        ws.on(
            "framereceived",
            lambda p: seen["kinds"].append(struct.unpack_from("<H", p, 8)[0]) if isinstance(p, bytes) else None,
        )

    tab.on("websocket", on_socket)
    return seen


def curve_points(tab: Any) -> int:
    return tab.evaluate("() => document.querySelector('#gradients .curve .plot')?.data?.[0]?.y?.length ?? 0")


def test_a_page_without_the_gradients_panel_asks_for_no_rows_until_it_opens(
    tab: Any, server: str, artifacts: Path
) -> None:
    seen = watch_socket(tab)
    tab.goto(url(server, model="recall-lstm", text=TEXT, target="b", panels="predictions,unrolled"))
    wait_ready(tab)
    traces = [m for m in seen["sent"] if m["type"] == "trace"]
    assert traces and all(m["view"]["rows"] == [] for m in traces)
    assert KIND_ROWS not in seen["kinds"]  # no gradient row came: none was computed for this page

    tab.locator("details[data-panel='gradients'] > summary").click()
    tab.wait_for_function("() => document.querySelector('#gradients .curve .plot')?.data?.[0]?.y?.length > 0")
    views = [m for m in seen["sent"] if m["type"] == "view"]
    assert views and views[-1]["rows"] == "all" and views[-1]["id"] == traces[-1]["id"]
    assert KIND_ROWS in seen["kinds"]
    assert curve_points(tab) == len(TEXT)
    assert tab.locator("#gradients .triangle .plot .hm, #gradients .triangle .plot .heatmaplayer").count() >= 1
    tab.locator("#gradients").screenshot(path=artifacts / "gradients-opened-later.png")

    # closed again: the next trace asks for none
    tab.locator("details[data-panel='gradients'] > summary").click()
    # a <details> reports its toggle in a task of its own: the state knows the panel is shut only then
    tab.wait_for_function("() => !window.lstmExplainer.getState().panels.includes('gradients')")
    after = len(seen["sent"])
    tab.evaluate("() => window.lstmExplainer.setState({ text: 'b2718281828=' })")
    tab.wait_for_function("(n) => window.lstmExplainer.getTrace()?.tokens?.length === n", arg=len("b2718281828="))
    assert [m["view"]["rows"] for m in seen["sent"][after:] if m["type"] == "trace"] == [[]]


def test_the_explorer_with_its_gradients_panel_asks_for_every_row(tab: Any, server: str) -> None:
    seen = watch_socket(tab)
    tab.goto(url(server, model="recall-lstm", text=TEXT, target="b"))  # the default panels show gradients
    wait_ready(tab)
    assert [m["view"]["rows"] for m in seen["sent"] if m["type"] == "trace"] == ["all"]
    assert KIND_ROWS in seen["kinds"]


def test_an_embed_asks_for_no_rows(tab: Any, server: str) -> None:
    seen = watch_socket(tab)
    tab.goto(url(server, "/embed", model="recall-lstm", text=TEXT))
    wait_ready(tab)
    assert [m["view"]["rows"] for m in seen["sent"] if m["type"] == "trace"] == [[]]
    assert KIND_ROWS not in seen["kinds"]


def test_compare_mode_asks_for_rows_without_the_gradients_panel(tab: Any, server: str) -> None:
    """Compare mode's curves are the two models' gradients: the main trace needs its rows too."""
    seen = watch_socket(tab)
    tab.goto(url(server, model="recall-lstm", text=TEXT, target="b", panels="predictions"))
    wait_ready(tab)
    assert [m["view"]["rows"] for m in seen["sent"] if m["type"] == "trace"] == [[]]
    tab.evaluate("() => window.lstmExplainer.setState({ compare: 'recall-rnn' })")
    tab.wait_for_function("() => document.querySelector('#compare .compare-curve .plot')?.data?.length === 2")
    assert any(m["type"] == "view" and m["rows"] == "all" for m in seen["sent"])
