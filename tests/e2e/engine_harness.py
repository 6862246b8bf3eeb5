"""A page that runs the JavaScript trace engine, for the parity tests and benchmarks/engine_bench.py.

A tiny HTTP server (a thread of this process) serves the engine's modules from the installed package's
`static/js/engine/`, model directories by id, and one page that loads the engine's worker and exposes
`window.engineTest`. No app, no template: the engine needs nothing but its files and a model's two files.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from app.api.assets import STATIC_DIR

ENGINE_DIR = STATIC_DIR / "js" / "engine"

# The page: the worker behind EngineClient for traces (what a page would use), the modules themselves
# for the pieces a worker does not expose (the tokenizer, the rounding) and for timing without the worker.
PAGE = """<!doctype html>
<meta charset="utf-8">
<title>engine</title>
<link rel="icon" href="data:,">
<script type="module">
import { EngineClient } from '/engine/client.js';
import * as engine from '/engine/engine.js';

const client = new EngineClient();
const direct = new Map(); // id → Model, loaded on the main thread

// Every call answers {value} or {error: {code, message, name}} as JSON text (one parse on the Python side).
const outcome = (promise) =>
  promise.then(
    (value) => JSON.stringify({ value }),
    (err) => JSON.stringify({ error: { code: err.code ?? null, message: err.message, name: err.name } }),
  );

window.engineTest = {
  client,
  load: (id) => outcome(client.load(id, `/models/${id}/`).then((card) => card.id)),
  trace: (request) => outcome(client.trace(request)),
  // Requests sent at once, each answered: a newer one on the same lane supersedes the older.
  burst: (requests) =>
    outcome(Promise.all(requests.map((r) => outcome(client.trace(r, { lane: r.lane ?? 'main' })).then(JSON.parse)))),
  loadDirect: (id) => outcome(engine.fetchModel(`/models/${id}/`).then((model) => direct.set(id, model) && id)),
  traceDirect: (id, text, options) =>
    outcome(Promise.resolve().then(() => engine.traceDocument(direct.get(id), text, options))),
  // ms of each of `repeats` direct traces (the engine on this thread: no worker, no copying)
  timeDirect(id, text, options, repeats) {
    const times = [];
    for (let k = 0; k < repeats; k++) {
      const t0 = performance.now();
      engine.traceDocument(direct.get(id), text, options);
      times.push(performance.now() - t0);
    }
    return times;
  },
  // each text's pieces joined by U+FFFF, a noncharacter no text holds: one string per text to send back
  tokenize(card, texts) {
    const tokenizer = engine.tokenizerFromCard(card);
    return texts.map((text) => tokenizer.split(text).join('\uffff'));
  },
  lower: (text) => text.toLowerCase(),
  roundSig: (values, digits) => values.map((x) => engine.roundSig(x, digits)),
};
document.body.dataset.ready = '1';
</script>
<body></body>
"""

TYPES = {".js": "text/javascript", ".json": "application/json", ".safetensors": "application/octet-stream"}


class EngineServer:
    """Serves `/` (the page), `/engine/*` and `/models/{id}/{model.json,weights.safetensors}`."""

    def __init__(self, models: dict[str, Path]):
        self.models = dict(models)
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                body, kind = server.resolve(self.path.split("?", 1)[0])
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def resolve(self, path: str) -> tuple[bytes | None, str]:
        if path == "/":
            return PAGE.encode(), "text/html; charset=utf-8"
        parts = path.strip("/").split("/")
        if parts[0] == "engine" and len(parts) == 2:
            file = ENGINE_DIR / parts[1]
        elif parts[0] == "models" and len(parts) == 3 and parts[1] in self.models:
            file = self.models[parts[1]] / parts[2]
        else:
            return None, ""
        if not file.is_file():
            return None, ""
        return file.read_bytes(), TYPES.get(file.suffix, "application/octet-stream")

    def __enter__(self) -> EngineServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def engine_page(browser: Any, server: EngineServer) -> Iterator[Any]:
    """A page with `window.engineTest` ready; fails on any uncaught error the page or its worker reports."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("worker", lambda w: w.on("console", lambda m: errors.append(f"worker {m.type}: {m.text}")))
    page.goto(server.url + "/")
    page.wait_for_function("() => document.body.dataset.ready === '1'")
    page.errors = errors
    try:
        yield page
    finally:
        context.close()
    assert not errors, "\n".join(errors)


def call(page: Any, method: str, *args: Any) -> dict[str, Any]:
    """`window.engineTest[method](...args)`: {"value": …} or {"error": {"code", "message", "name"}}."""
    return json.loads(page.evaluate("([m, args]) => window.engineTest[m](...args)", [method, list(args)]))


def trace_in_page(page: Any, request: dict[str, Any]) -> dict[str, Any]:
    """The engine's answer through its worker: {"value": document} or {"error": …}."""
    return call(page, "trace", request)
