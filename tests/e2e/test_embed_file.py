"""A lecturer's reveal.js deck is usually opened from disk: a host page loaded from file:// embeds /embed
and drives it through the postMessage API (docs/embedding.md). `frame-ancestors *` would not match a
file: parent, so with the default setting the server sends no frame-ancestors at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HOST_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>A deck opened from disk</title>
<style>body {{ margin: 0; background: #222; }} iframe {{ border: 0; display: block; }}</style></head>
<body>
<iframe id="lstm" width="960" height="540" title="LSTM Explainer" src="{src}"></iframe>
<script>
  // What a deck's own script does: collect the embed's events, call its methods, await the replies.
  window.events = [];
  const pending = new Map();
  let next = 0;
  window.addEventListener('message', (ev) => {{
    const data = ev.data;
    if (data?.namespace !== 'lstm-explainer') return;
    if (data.event) window.events.push({{ event: data.event, origin: ev.origin, position: data.position }});
    else if (pending.has(data.id)) {{ pending.get(data.id)(data); pending.delete(data.id); }}
  }});
  window.call = (method, ...args) => new Promise((resolve) => {{
    const id = `call-${{next++}}`;
    pending.set(id, resolve);
    document.getElementById('lstm').contentWindow.postMessage(
      {{ namespace: 'lstm-explainer', id, method, args }}, '*');
  }});
</script>
</body></html>
"""


def host_page(tmp_path: Path, server: str, query: str) -> str:
    path = tmp_path / "deck.html"
    path.write_text(HOST_PAGE.format(src=f"{server}/embed?{query}"), encoding="utf-8")
    return path.as_uri()


def events(tab: Any, kind: str) -> list[dict[str, Any]]:
    return [e for e in tab.evaluate("window.events") if e["event"] == kind]


def test_a_deck_opened_from_disk_embeds_and_drives_the_explorer(
    tab: Any, server: str, tmp_path: Path, artifacts: Path
) -> None:
    url = host_page(tmp_path, server, "model=e2e-deep&text=hello+world&step=0&panels=predictions")
    assert url.startswith("file://")
    tab.set_viewport_size({"width": 960, "height": 540})
    tab.goto(url)
    tab.wait_for_function("() => window.events.some((e) => e.event === 'ready')", timeout=20_000)
    ready = events(tab, "ready")[0]
    assert ready["origin"] == server and ready["position"]["step"] == 0

    reply = tab.evaluate("window.call('step', 2)")
    assert "error" not in reply, reply
    assert reply["result"]["step"] == 2 and reply["result"]["token"] == "l"
    tab.wait_for_function("() => window.events.some((e) => e.event === 'stepped' && e.position.step === 2)")

    reply = tab.evaluate("window.call('seek', -1)")
    assert reply["result"]["step"] == reply["result"]["steps"] - 1 == 10

    reply = tab.evaluate("window.call('setText', 'the cat sat')")
    assert reply["result"]["text"] == "the cat sat"
    tab.wait_for_function("() => window.events.filter((e) => e.event === 'traced').length >= 2")

    clamp = {"gate": "forget", "value": 0, "start": 4}
    reply = tab.evaluate(f"window.call('clamp', {json.dumps(clamp)})")
    assert reply["result"]["clamps"][0]["gate"] == "forget", reply

    reply = tab.evaluate("window.call('step', 40)")  # a mistake is a sentence, and the embed keeps working
    assert "out of range" in reply["error"]
    assert tab.evaluate("window.call('getState')")["result"]["text"] == "the cat sat"

    frame = tab.frame_locator("#lstm")
    frame.locator("svg").first.wait_for(state="visible")
    tab.screenshot(path=str(artifacts / "embed-from-file.png"))
