"""Embedding in a real browser: a host page on another origin drives /embed only by postMessage and hears
its events; an origin the settings do not allow is ignored; URL flags hide controls; the iframe fills its
box; "Embed this view" writes the snippet; the diagram downloads as SVG and PNG; presenter mode and the
keyboard help. Screenshots land in tests/e2e/artifacts/."""

from __future__ import annotations

import json
import struct
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from .conftest import state, wait_ready
from .harness import free_port, make_test_models, start_server, stop_server, wait_healthy
from .test_explorer import url

RECALL = "b31415926="
SVG_NS = "{http://www.w3.org/2000/svg}"

# The host page: an iframe of /embed, a log of every message it hears, and call(method, ...args), which
# posts a request and resolves with the matching reply.
HOST = """<!doctype html>
<html><head><meta charset="utf-8"><title>a slide deck</title><link rel="icon" href="data:,"></head>
<body>
<input id="deck-focus" autofocus>
<iframe id="lstm" src="{src}" width="{w}" height="{h}" style="border:0"></iframe>
{extra}
<script>
window.messages = [];
addEventListener('message', (ev) => window.messages.push({{ origin: ev.origin, data: ev.data }}));
let next = 1;
window.call = (method, ...args) => new Promise((resolve) => {{
  const id = `req-${{next++}}`;
  const on = (ev) => {{
    if (ev.data && ev.data.namespace === 'lstm-explainer' && ev.data.id === id) {{
      removeEventListener('message', on);
      resolve(ev.data);
    }}
  }};
  addEventListener('message', on);
  document.getElementById('lstm').contentWindow.postMessage(
    {{ namespace: 'lstm-explainer', id, method, args }}, '*');
}});
window.events = (name) => window.messages.filter((m) => m.data && m.data.event === name);
window.raw = (data) => document.getElementById('lstm').contentWindow.postMessage(data, '*');
</script>
</body></html>"""

# A page from another origin, framed beside the embed, that tries to drive it.
EVIL_PAGE = """<!doctype html><html><head><link rel="icon" href="data:,"></head><body><script>
window.replies = [];
addEventListener('message', (ev) => window.replies.push(ev.data));
window.attack = () => parent.frames[0].postMessage(
  { namespace: 'lstm-explainer', id: 'evil', method: 'seek', args: [0] }, '*');
</script></body></html>"""


class Site:
    """A second (and third) local web server: another origin for the host page. Local, like the app:
    Chromium refuses to let a page from a public origin frame a loopback address."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?")[0])
                data = (body or "not found").encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def deck() -> Iterator[Site]:
    site = Site()
    yield site
    site.close()


@pytest.fixture(scope="module")
def evil() -> Iterator[Site]:
    site = Site()
    site.pages["/frame.html"] = EVIL_PAGE
    yield site
    site.close()


def host(tab: Any, deck: Site, src: str, *, w: int = 960, h: int = 540, extra: str = "") -> None:
    """Open the host page, served by `deck` (another origin than the app's), embedding `src`."""
    deck.pages["/deck.html"] = HOST.format(src=src, w=w, h=h, extra=extra)
    tab.goto(f"{deck.origin}/deck.html")
    tab.wait_for_function("() => window.events('ready').length === 1", timeout=15_000)


def call(tab: Any, method: str, *args: Any) -> dict[str, Any]:
    reply = tab.evaluate("([m, a]) => window.call(m, ...a)", [method, list(args)])
    assert reply["namespace"] == "lstm-explainer"
    return reply


def ok(tab: Any, method: str, *args: Any) -> Any:
    reply = call(tab, method, *args)
    assert "error" not in reply, reply
    return reply["result"]


def error(tab: Any, method: str, *args: Any) -> str:
    reply = call(tab, method, *args)
    assert "error" in reply and "result" not in reply, reply
    return str(reply["error"])


def inner(tab: Any) -> Any:
    """The embed's Frame object (for evaluating in it)."""
    return next(f for f in tab.frames if "/embed" in f.url)


# ------------------------------------------------------------------------------------ the command API
def test_a_host_page_drives_the_embed_only_by_postmessage(tab: Any, server: str, deck: Site, artifacts: Path) -> None:
    host(tab, deck, url(server, "/embed", model="recall-lstm", text=RECALL, panels="predictions"))
    ready = tab.evaluate("window.events('ready')[0]")
    assert ready["origin"] == server
    assert ready["data"]["state"]["model"] == "recall-lstm"
    assert ready["data"]["position"] == {"step": 9, "steps": 10, "token": "=", "playing": False}
    assert tab.evaluate("window.events('traced').length") == 1

    got = ok(tab, "getState")
    assert got["text"] == RECALL and got["panels"] == ["predictions"]

    assert ok(tab, "seek", 0) == {"step": 0, "steps": 10, "token": "b", "playing": False}
    assert ok(tab, "step") == {"step": 1, "steps": 10, "token": "3", "playing": False}
    assert ok(tab, "step", 3)["step"] == 4
    assert ok(tab, "step", -2)["step"] == 2
    assert ok(tab, "seek", -1)["step"] == 9
    tab.wait_for_function("() => window.events('stepped').length >= 5")
    stepped = tab.evaluate("window.events('stepped').map((m) => m.data.position.step)")
    assert stepped[-5:] == [0, 1, 4, 2, 9]
    frame = inner(tab)
    assert "step 10 of 10" in frame.locator(".diagram-title").text_content()

    # Clear errors for bad requests, and the state is untouched.
    assert "out of range" in error(tab, "seek", 10) and "steps 0 to 9" in error(tab, "seek", 10)
    assert "out of range" in error(tab, "step", 1)
    assert "integer" in error(tab, "step", "two")
    assert "unknown method" in error(tab, "explode")
    assert "at most 1 argument" in error(tab, "seek", 1, 2)
    assert "unknown model" in error(tab, "setModel", "no-such-model")
    assert "non-empty string" in error(tab, "setText", "")
    assert "the gate must be one of" in error(tab, "clamp", {"gate": "sideways", "value": 0})
    assert "units" in error(tab, "clamp", {"gate": "forget", "value": 0, "units": [999]})
    assert "unknown state field" in error(tab, "setState", {"colour": "red"})
    assert "not a valid value for the state field step" in error(tab, "setState", {"step": "two"})
    assert "state field present" in error(tab, "setState", {"present": "yes"})
    reply = tab.evaluate(
        "() => new Promise((resolve) => { addEventListener('message', (ev) => ev.data.id === 'x' && resolve(ev.data));"
        " window.raw({ namespace: 'lstm-explainer', id: 'x', method: 'seek', args: 3 }); })"
    )
    assert "args must be an array" in reply["error"]
    assert ok(tab, "getState")["step"] == -1

    # setText answers once the new trace has painted; a 'traced' event follows.
    after = ok(tab, "setText", "b12=")
    assert after["text"] == "b12="
    assert frame.evaluate("window.lstmExplainer.getTrace().tokens.length") == 4
    tab.wait_for_function("() => window.events('traced').length >= 2")
    assert tab.evaluate("window.events('traced').at(-1).data.state.text") == "b12="
    assert frame.locator(".pred-list li").first.locator(".tok").inner_text() == "b"

    # A clamp on the forget gate from step 2 on: the memory of the key is erased.
    clamped = ok(tab, "clamp", {"gate": "forget", "value": 0, "start": 2})
    assert clamped["clamps"] == [{"gate": "forget", "value": 0, "layer": 0, "units": None, "start": 2, "stop": None}]
    doc = frame.evaluate("window.lstmExplainer.getTrace()")
    assert all(v == 0 for v in doc["steps"][3]["layers"][0]["gates"]["forget"])
    assert ok(tab, "clearClamps")["clamps"] == []

    # setModel keeps a custom text and drops the clamps; setState sets any field.
    assert ok(tab, "setModel", "recall-rnn")["model"] == "recall-rnn"
    assert frame.evaluate("window.lstmExplainer.getTrace().model.id") == "recall-rnn"
    assert ok(tab, "setState", {"step": 1})["step"] == 1
    assert ok(tab, "pause")["playing"] is False
    tab.screenshot(path=artifacts / "embed-host-page.png")


def test_load_scene_by_postmessage(tab: Any, server: str, deck: Site) -> None:
    host(tab, deck, url(server, "/embed", model="recall-lstm", text=RECALL))
    if not inner(tab).evaluate("typeof window.lstmExplainer.loadScene === 'function'"):
        assert "loadScene is not available" in error(tab, "loadScene", "long-context")
        pytest.skip("this build has no scenes")
    scenes = httpx.get(f"{server}/api/scenes").json()
    scene = next(s for s in scenes if s["kind"] == "explorer" and s["count"] >= 2)
    ok(tab, "loadScene", scene["name"], 1)
    got = ok(tab, "getState")
    assert got["scene"] == scene["name"] and got["page"] == 1
    assert "scene" in error(tab, "loadScene", "no-such-scene")
    tab.errors[:] = [e for e in tab.errors if "status of 404" not in e]  # Chromium logs the refused fetch
    assert "scene" in error(tab, "loadScene", scene["name"], scene["count"] + 5)


REPO = Path(__file__).resolve().parents[2]

# reveal.js's event API, as much of it as the recipe uses: on(name, fn); the test fires the events.
REVEAL_STUB = """<script>
window.Reveal = { handlers: {}, on(name, fn) { (this.handlers[name] ??= []).push(fn); },
  fire(name, fragment) { for (const fn of this.handlers[name] ?? []) fn({ fragment }); } };
window.ready = false;
addEventListener('message', (ev) => { if (ev.data && ev.data.event === 'ready') window.ready = true; });
</script>"""


def test_the_docs_reveal_recipe_steps_the_lstm_with_fragments(tab: Any, server: str, deck: Site) -> None:
    """The reveal.js slide of docs/embedding.md, as written there, with reveal's events fired by hand."""
    docs = (REPO / "docs" / "embedding.md").read_text(encoding="utf-8")
    recipe = docs.split("## A reveal.js slide", 1)[1].split("```html", 1)[1].split("```", 1)[0]
    recipe = recipe.replace("http://127.0.0.1:8000", server)
    deck.pages["/reveal.html"] = (
        f"<!doctype html><html><head><link rel='icon' href='data:,'></head><body>{REVEAL_STUB}{recipe}</body></html>"
    )
    tab.goto(f"{deck.origin}/reveal.html")
    tab.wait_for_function("() => window.ready", timeout=15_000)
    frame = inner(tab)
    assert frame.evaluate("window.lstmExplainer.getState().step") == 0
    for k in range(3):
        tab.evaluate("(k) => Reveal.fire('fragmentshown', document.querySelectorAll('.fragment')[k])", k)
    frame.wait_for_function("() => window.lstmExplainer.getState().step === 3")
    tab.evaluate("Reveal.fire('fragmenthidden', document.querySelectorAll('.fragment')[2])")
    frame.wait_for_function("() => window.lstmExplainer.getState().step === 2")


def test_reveal_slide_messages_pause_and_resume_play(tab: Any, server: str, deck: Site) -> None:
    host(tab, deck, url(server, "/embed", model="recall-lstm", text=RECALL))
    frame = inner(tab)
    ok(tab, "seek", 0)
    assert ok(tab, "play")["playing"] is True
    tab.evaluate("window.raw('slide:stop')")  # exactly what reveal.js posts to a hidden slide's iframes
    frame.wait_for_function("() => !document.querySelector('.ctl-play').classList.contains('playing')")
    stopped_at = ok(tab, "getState")["step"]
    tab.wait_for_timeout(1200)
    assert ok(tab, "getState")["step"] == stopped_at  # paused, not playing on behind the slide
    tab.evaluate("window.raw('slide:start')")
    frame.wait_for_function("() => document.querySelector('.ctl-play').classList.contains('playing')")
    ok(tab, "pause")
    # A slide that was not playing stays paused when shown again.
    tab.evaluate("window.raw('slide:stop')")
    tab.evaluate("window.raw('slide:start')")
    tab.wait_for_timeout(300)
    assert ok(tab, "getState") and not frame.evaluate("window.lstmExplainer.isPlaying()")


def test_the_embed_does_not_take_the_keyboard_from_the_deck(tab: Any, server: str, deck: Site) -> None:
    host(tab, deck, url(server, "/embed", model="recall-lstm", text=RECALL))
    assert tab.evaluate("document.activeElement.id") == "deck-focus"
    tab.keyboard.press("ArrowLeft")  # the deck's key: the embed does not step
    assert ok(tab, "getState")["step"] == -1
    # Keys sent into the frame before anyone clicked it are ignored too.
    frame = inner(tab)
    frame.evaluate("document.body.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowLeft', bubbles: true }))")
    assert ok(tab, "getState")["step"] == -1
    # After a click inside, the arrows step it.
    tab.frame_locator("#lstm").locator(".diagram-title").click()
    tab.keyboard.press("ArrowLeft")
    assert ok(tab, "getState")["step"] == 8


@pytest.fixture(scope="module")
def restricted_server(tmp_path_factory: pytest.TempPathFactory, deck: Site) -> Iterator[str]:
    """A server whose settings let only the deck's origin frame and drive its pages."""
    models = make_test_models(tmp_path_factory.mktemp("embed-models"))
    port = free_port()
    proc = start_server(models, port, extra_env={"LSTM_EXPLAINER_FRAME_ANCESTORS": deck.origin})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc)
        yield base
    finally:
        stop_server(proc)


def test_an_origin_the_settings_do_not_allow_is_ignored(
    tab: Any, restricted_server: str, deck: Site, evil: Site
) -> None:
    warnings: list[str] = []
    tab.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    frame = f'<iframe id="evil" src="{evil.origin}/frame.html" width="10" height="10"></iframe>'
    host(tab, deck, url(restricted_server, "/embed", model="recall-lstm", text=RECALL), extra=frame)
    # The allowed deck is obeyed and hears events.
    assert ok(tab, "seek", 4)["step"] == 4
    # The frame from another origin is not: no reply, no effect, a warning in the embed's console.
    attacker = next(f for f in tab.frames if f.url.startswith(evil.origin))
    attacker.evaluate("window.attack()")
    tab.wait_for_function("() => true")
    tab.wait_for_timeout(500)
    assert attacker.evaluate("window.replies") == []
    assert ok(tab, "getState")["step"] == 4
    assert any(f"ignored a message from {evil.origin}" in w for w in warnings), warnings


# ------------------------------------------------------------------------------------------ URL flags
VISIBLE = """() => Object.fromEntries(['#tokens', '#controls', '.ctl-reset', '.ctl-prev', '.ctl-play', '.ctl-next',
  '.ctl-end', '.speed-label', '.position', '.diagram-title', '.legend', '.embed-text', '.diagram-tools', '#diagram svg']
  .map((s) => { const el = document.querySelector(s); return [s, !!el && el.getClientRects().length > 0
    && getComputedStyle(el).visibility !== 'hidden']; }))"""


def test_flags_hide_and_show_controls(tab: Any, server: str, artifacts: Path) -> None:
    tab.set_viewport_size({"width": 960, "height": 540})
    tab.goto(url(server, "/embed", model="recall-lstm", text=RECALL))
    wait_ready(tab)
    v = tab.evaluate(VISIBLE)
    assert all(v[k] for k in ["#tokens", ".ctl-play", ".ctl-next", ".speed-label", ".position", "#diagram svg"])
    assert not v[".embed-text"] and not v[".diagram-tools"]  # off unless asked for

    tab.goto(url(server, "/embed", model="recall-lstm", text=RECALL, hide="tokens,speed"))
    wait_ready(tab)
    v = tab.evaluate(VISIBLE)
    assert not v["#tokens"] and not v[".speed-label"] and v[".ctl-play"] and v[".position"]

    # Just the diagram and a step button, for a slide.
    tab.goto(url(server, "/embed", model="recall-lstm", text=RECALL, step=0, show="next"))
    wait_ready(tab)
    v = tab.evaluate(VISIBLE)
    assert v[".ctl-next"] and v["#diagram svg"]
    assert not any(v[k] for k in ["#tokens", ".ctl-play", ".ctl-prev", ".speed-label", ".position", ".legend"])
    assert "show=next" in tab.url  # the flags round-trip in the URL
    tab.screenshot(path=artifacts / "embed-only-next.png")
    tab.locator(".ctl-next").click()
    assert state(tab)["step"] == 1

    # A text box when asked for: typing re-traces.
    tab.goto(url(server, "/embed", model="recall-lstm", text="b1", show="text,controls"))
    wait_ready(tab)
    v = tab.evaluate(VISIBLE)
    assert v[".embed-text"] and v[".ctl-play"] and not v["#tokens"]
    assert tab.locator("#text-input").input_value() == "b1"
    tab.locator("#text-input").fill("b12=")
    tab.wait_for_function(
        "() => window.lstmExplainer.getTrace()?.tokens.length === 4 && document.body.dataset.ready === '1'"
    )
    assert "text=b12%3D" in tab.url


@pytest.mark.parametrize(("w", "h"), [(640, 360), (1280, 720)])
def test_the_embed_fills_its_iframe(tab: Any, server: str, deck: Site, artifacts: Path, w: int, h: int) -> None:
    host(tab, deck, url(server, "/embed", model="lecture-lstm", panels="predictions" if w > 1000 else ""), w=w, h=h)
    frame = inner(tab)
    frame.wait_for_function("() => document.body.dataset.ready === '1'")
    box = frame.evaluate(
        "() => { const r = document.querySelector('#diagram svg').getBoundingClientRect();"
        " return { w: r.width, h: r.height, bottom: r.bottom, right: r.right, sw: document.documentElement.scrollWidth,"
        " sh: document.documentElement.scrollHeight, iw: innerWidth, ih: innerHeight }; }"
    )
    assert box["sw"] <= box["iw"] and box["sh"] <= box["ih"], box  # nothing spills out of the iframe
    assert box["bottom"] <= h and box["right"] <= w
    assert box["h"] >= 0.55 * h, box  # the diagram takes most of the height
    if w > 1000:
        assert frame.locator("[data-panel='predictions']").is_visible()
    tab.locator("#lstm").screenshot(path=artifacts / f"embed-{w}x{h}.png")


def test_two_compared_diagrams_share_the_iframe(tab: Any, server: str, deck: Site, artifacts: Path) -> None:
    src = url(server, "/embed", model="lecture-lstm", compare="lecture-rnn", panels="predictions")
    host(tab, deck, src, w=1280, h=720)
    frame = inner(tab)
    # Below 1440 px one model at a time, a tab per model (test_detail_level.py measures it); "both" stacks them.
    frame.wait_for_function("() => document.body.dataset.compareReady === '1'", timeout=15_000)
    assert frame.locator(".compare-tabs").is_visible() and frame.locator("#compare-diagram").is_hidden()
    frame.locator(".compare-tabs").get_by_role("button", name="both").click()
    frame.wait_for_function("() => document.querySelector('#compare-diagram svg')?.getBoundingClientRect().height > 0")
    boxes = frame.evaluate(
        "() => [...document.querySelectorAll('.embed-figures svg')].map((s) => s.getBoundingClientRect().toJSON())"
    )
    assert len(boxes) == 2
    assert all(b["bottom"] <= 720 and b["right"] <= 1280 and b["height"] >= 0.3 * 720 for b in boxes), boxes
    assert frame.evaluate("document.documentElement.scrollHeight <= innerHeight")
    tab.locator("#lstm").screenshot(path=artifacts / "embed-compare-1280x720.png")


# ------------------------------------------------------------------------------ "Embed this view"
def test_embed_this_view_writes_a_ready_to_copy_snippet(tab: Any, server: str, artifacts: Path) -> None:
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    tab.goto(url(server, model="recall-lstm", text=RECALL, step=3))
    wait_ready(tab)
    tab.locator("#embed-button").click()
    dialog = tab.locator(".embed-dialog")
    assert dialog.is_visible()
    snippet = tab.locator(".embed-snippet").input_value()
    assert snippet.startswith(f'<iframe src="{server}/embed?') and 'width="960" height="540"' in snippet
    tab.locator(".embed-dialog select[name='controls']").select_option("next")
    tab.locator(".embed-dialog input[name='tokens']").uncheck()
    tab.locator(".embed-dialog input[name='width']").fill("800")
    tab.locator(".embed-dialog input[name='height']").fill("450")
    snippet = tab.locator(".embed-snippet").input_value()
    assert 'width="800" height="450"' in snippet
    src = snippet.split('src="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    q = parse_qs(urlsplit(src).query)
    assert q["model"] == ["recall-lstm"] and q["text"] == [RECALL] and q["step"] == ["3"]
    assert q["show"] == ["next,title,legend"]
    assert q["panels"] == ["predictions"]  # not all five of the explorer's panels on a slide
    assert tab.locator(".embed-preview").get_attribute("href") == src
    tab.screenshot(path=artifacts / "embed-dialog.png")
    tab.locator(".embed-copy").click()
    tab.wait_for_function("() => document.querySelector('.embed-note').textContent === 'copied'")
    assert tab.evaluate("navigator.clipboard.readText()") == snippet
    tab.keyboard.press("Escape")
    assert not dialog.is_visible()
    # The snippet's address opens the same view, with only the next button.
    tab.goto(src)
    wait_ready(tab)
    assert state(tab)["step"] == 3
    assert tab.locator(".ctl-next").is_visible() and not tab.locator(".ctl-play").is_visible()


# ------------------------------------------------------------------------------------------ downloads
def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)


def test_the_diagram_downloads_as_standalone_svg_and_png(tab: Any, server: str, artifacts: Path) -> None:
    tab.goto(url(server, model="recall-lstm", text=RECALL, step=4))
    wait_ready(tab)
    cell_fill = tab.evaluate("getComputedStyle(document.querySelector('.cell-box')).fill")
    with tab.expect_download() as info:
        tab.locator("#download-svg").click()
    d = info.value
    assert d.suggested_filename == "recall-lstm-step5.svg"
    path = artifacts / "diagram.svg"
    d.save_as(path)
    text = path.read_text(encoding="utf-8")
    root = ET.fromstring(text)
    assert root.tag == f"{SVG_NS}svg"
    vb = [float(x) for x in root.get("viewBox", "").split()]
    assert float(root.get("width", 0)) == vb[2] and float(root.get("height", 0)) == vb[3]
    assert "var(--" not in text and "class=" not in text  # no stylesheet needed
    assert "foreignObject" not in text
    images = root.findall(f".//{SVG_NS}image")
    assert len(images) >= 10 and all(i.get("href", "").startswith("data:image/png;base64,") for i in images)
    assert cell_fill in text  # the computed colour, written onto the element
    assert "step 5 of 10" in "".join(root.itertext())
    # Opened on its own (no page, no stylesheet), it draws the cell's green box.
    viewer = tab.context.new_page()
    viewer.goto(path.as_uri())
    viewer.screenshot(path=artifacts / "diagram-svg-standalone.png")
    drawn = viewer.evaluate("getComputedStyle(document.querySelector('rect[rx=\"36\"]')).fill")
    viewer.close()
    assert drawn == cell_fill

    with tab.expect_download() as info:
        tab.locator("#download-png").click()
    d = info.value
    assert d.suggested_filename == "recall-lstm-step5.png"
    png = artifacts / "diagram.png"
    d.save_as(png)
    assert png_size(png.read_bytes()) == (int(vb[2] * 2), int(vb[3] * 2))


# -------------------------------------------------------------------------------------- presenter mode
def test_presenter_mode_and_the_keyboard_help(tab: Any, server: str, artifacts: Path) -> None:
    tab.goto(url(server, model="lecture-lstm", present=1))
    wait_ready(tab)
    assert tab.evaluate("document.body.classList.contains('present') && document.body.classList.contains('large')")
    for chrome in [".brand", ".toolbar", ".model-card", ".footer", ".target-field", ".diagram-tools"]:
        assert not tab.locator(chrome).is_visible(), chrome
    assert tab.locator("#model-select").is_visible()  # which model is on screen stays said
    assert tab.locator("#diagram svg").is_visible() and tab.locator("#tokens").is_visible()
    assert tab.locator("#present-exit").is_visible()
    tab.screenshot(path=artifacts / "presenter.png")

    tab.keyboard.press("?")
    help_box = tab.locator(".help-overlay")
    assert help_box.is_visible()
    text = help_box.inner_text()
    for words in ["previous / next step", "play / pause", "first / last step", "scene", "Esc"]:
        assert words in text
    tab.screenshot(path=artifacts / "presenter-help.png")
    tab.keyboard.press("Escape")
    assert not help_box.is_visible()
    assert state(tab)["present"] is True  # the first Esc only closed the help
    tab.keyboard.press("Escape")
    assert state(tab)["present"] is False
    assert tab.locator(".toolbar").is_visible() and tab.locator(".footer").is_visible()
    assert "present" not in tab.url

    tab.locator("#present-toggle").click()
    assert state(tab)["present"] is True and "present=1" in tab.url
    tab.locator("#present-exit").click()
    assert state(tab)["present"] is False


def test_presenter_mode_in_the_embed(tab: Any, server: str, artifacts: Path) -> None:
    tab.set_viewport_size({"width": 1280, "height": 720})
    tab.goto(url(server, "/embed", model="lecture-lstm", present=1, panels="predictions"))
    wait_ready(tab)
    assert tab.evaluate("document.body.classList.contains('large')")
    # Not before a click: the embed leaves the keyboard to its host.
    tab.keyboard.press("?")
    assert not tab.locator(".help-overlay").is_visible()
    tab.locator(".diagram-title").click()
    tab.keyboard.press("?")
    assert tab.locator(".help-overlay").is_visible()
    tab.keyboard.press("Escape")
    assert not tab.locator(".help-overlay").is_visible()
    assert state(tab)["present"] is True  # Esc does not leave presenter mode in an embed
    tab.screenshot(path=artifacts / "embed-presenter.png")


def test_events_carry_a_json_clean_state(tab: Any, server: str, deck: Site) -> None:
    host(tab, deck, url(server, "/embed", model="recall-lstm", text=RECALL))
    ev = tab.evaluate("window.events('traced')[0].data")
    assert json.loads(json.dumps(ev)) == ev
    assert set(ev) == {"namespace", "event", "state", "position"}


ORIGIN_CASES = [
    # (origin, allowed sources, obeyed?) — the page itself is at the test server's origin ('self').
    ("https://slides.example.org", ["*"], True),
    ("https://slides.example.org", ["https://slides.example.org"], True),
    ("https://slides.example.org", ["https://slides.example.org/"], True),
    ("https://slides.example.org:8443", ["https://slides.example.org"], False),
    ("https://slides.example.org:8443", ["https://slides.example.org:*"], True),
    ("http://slides.example.org", ["https://slides.example.org"], False),
    ("https://a.example.org", ["https://*.example.org"], True),
    ("https://example.org", ["https://*.example.org"], False),
    ("https://evil-example.org", ["https://*.example.org"], False),
    ("https://anything.test", ["https:"], True),
    ("http://anything.test", ["https:"], False),
    ("null", ["https:", "'self'"], False),
    ("https://slides.example.org", ["'none'"], False),
]


def test_origin_matching_follows_csp_sources(tab: Any, server: str) -> None:
    tab.goto(url(server, "/embed", model="recall-lstm", text="b1="))
    wait_ready(tab)
    got = tab.evaluate(
        """async (cases) => {
          const { originAllowed } = await import('/static/js/embed-api.js');
          return cases.map(([origin, allowed]) => originAllowed(origin, allowed));
        }""",
        [[o, a] for o, a, _ in ORIGIN_CASES],
    )
    assert got == [want for _, _, want in ORIGIN_CASES]
    assert tab.evaluate("async (o) => (await import('/static/js/embed-api.js')).originAllowed(o, [\"'self'\"])", server)
