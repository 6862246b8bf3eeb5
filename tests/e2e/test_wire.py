"""The trace protocol in a real browser: static/js/api.js and trace-doc.js decode a real server's stream
(binary frames, incremental traces, views) in Chromium, and the trace they assemble is the JSON document's,
number for number at float32 precision, for every architecture, with clamps and targets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from app.nn import load_zoo, random_model, run_trace, save_model, trace_document
from app.nn.trace import ROW_BLOCK

from .harness import free_port, start_server, stop_server, wait_healthy

VOCAB = ["<unk>", *"abcdefghijklmnopqrstuvwxyz .,"]
MODELS = {  # id: (arch, layers, hidden)
    "w-lstm": ("lstm", 1, 12),
    "w-lstm2": ("lstm", 2, 10),
    "w-peephole": ("peephole", 1, 9),
    "w-cifg": ("cifg", 2, 8),
    "w-gru": ("gru", 2, 11),
    "w-rnn": ("rnn", 1, 13),
    "w-irnn": ("irnn", 2, 7),
}
TEXT = "the clouds are in the sky, then"
CLAMPS = {
    "lstm": [{"gate": "forget", "value": 0.0, "start": 4}],
    "gru": [{"gate": "update", "value": 1.0, "layer": 1, "units": [0, 3], "start": 2, "stop": 9}],
    "cifg": [{"gate": "input", "value": 0.25, "units": [1]}, {"gate": "output", "value": 1.0, "layer": 1}],
}


@pytest.fixture(scope="module")
def wire_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wire-models")
    for k, (mid, (arch, layers, hidden)) in enumerate(MODELS.items()):
        model = random_model(arch, vocab=VOCAB, layers=layers, hidden_size=hidden, input_size=6, model_id=mid, seed=k)
        save_model(model, root / mid)
    for mid, make in KIND_MODELS.items():
        save_model(make(mid), root / mid)
    return root


# A classifier and a forecaster: their frames carry `classes.p` and `forecast.value`/`forecast.expected`.
KIND_MODELS = {
    "w-classifier": lambda mid: random_model("gru", vocab=VOCAB, layers=2, hidden_size=5, input_size=6, model_id=mid,
                                             seed=31, kind="classifier", classes=["neg", "neutral", "pos"]),
    "w-forecaster": lambda mid: random_model("lstm", layers=2, hidden_size=6, model_id=mid, seed=32,
                                             kind="forecaster", normalisation=(10.0, 4.0)),
}  # fmt: skip


@pytest.fixture(scope="module")
def wire_server(wire_models: Path) -> Iterator[str]:
    port = free_port()
    proc = start_server(wire_models, port, {"LSTM_EXPLAINER_SHIPPED_MODELS": "false"})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        stop_server(proc)


@pytest.fixture(scope="module")
def zoo(wire_models: Path) -> Any:
    return load_zoo([wire_models], include_shipped=False)


@pytest.fixture(scope="module")
def wire_page(chromium: Any, wire_server: str) -> Iterator[Any]:
    context = chromium.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{wire_server}/healthz")
    page.evaluate(SETUP, wire_server.replace("http://", "ws://") + "/ws/trace")
    yield page
    context.close()
    assert not errors, errors


# A TraceSocket in the page; `window.wire.trace(request)` resolves with the trace's document when the
# trace is done, `window.wire.burst(requests)` sends them all at once and resolves with the last one's.
SETUP = """async (url) => {
  const api = await import('/static/js/api.js');
  const doc = await import('/static/js/trace-doc.js');
  // The arch vocabulary the server publishes in a page's config (static/js/archs.js): the explorer's.
  const page = new DOMParser().parseFromString(await (await fetch('/')).text(), 'text/html');
  (await import('/static/js/archs.js')).useVocabulary(JSON.parse(page.getElementById('app-config').textContent).archs);
  const waiting = new Map();
  const updates = [];
  const socket = new api.TraceSocket(url, {
    onUpdate(trace, phase) {
      updates.push([trace.id, phase]);
      if (phase === 'done' || phase === 'view') waiting.get(trace.id)?.resolve(trace);
    },
    onError(err) {
      for (const w of waiting.values()) w.reject(new Error(`${err.code}: ${err.message}`));
    },
  });
  await new Promise((resolve) => {
    const check = () => (socket.ws?.readyState === 1 ? resolve() : setTimeout(check, 20));
    check();
  });
  const done = (id) => new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
  window.wire = {
    socket,
    updates,
    async trace(request) {
      return doc.toDocument(await done(socket.trace(request)));
    },
    async burst(requests) {
      let id;
      for (const r of requests) id = socket.trace(r);
      return doc.toDocument(await done(id));
    },
    async more(view) {
      const answered = done(socket.current.id);
      socket.setView(view);
      return doc.toDocument(await answered);
    },
    keep: () => socket.current.keep,
    accessors(t, l) {
      const tr = socket.current;
      const kw = doc.keptWritten(tr, t, l);
      return {
        memory: doc.memoryOf(tr.model.arch),
        loss: doc.lossStep(tr, t),
        kw: kw && Array.from(kw.kept),
        tanh: Array.from(doc.tanhCell(tr.steps[t].layers[l]) ?? []),
        top: doc.topTokens(tr, t).map((x) => x.token),
      };
    },
  };
}"""


def same(got: Any, want: Any, where: str = "") -> None:
    """The browser's trace is the JSON document, numbers to float32 precision (gradient rows float64)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{where}: {sorted(got)} vs {sorted(want)}"
        for k in want:
            same(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: {len(got)} vs {len(want)} items"
        if want and isinstance(want[0], float) and all(isinstance(v, float) for v in want):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-37, err_msg=where)
        else:
            for k, (a, b) in enumerate(zip(got, want, strict=True)):
                same(a, b, f"{where}[{k}]")
    elif isinstance(want, float):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-37, err_msg=where)
    else:
        assert got == want, f"{where}: {got!r} vs {want!r}"


def expected(zoo: Any, request: dict[str, Any]) -> dict[str, Any]:
    model = zoo.models[request["model"]]
    doc = trace_document(model, request["text"], request.get("target"), request.get("interventions"))
    return orjson.loads(orjson.dumps(doc))


@pytest.mark.parametrize("mid", list(MODELS))
def test_the_browser_decodes_the_json_documents_numbers(wire_page: Any, zoo: Any, mid: str) -> None:
    arch = MODELS[mid][0]
    clamps = CLAMPS.get(arch, CLAMPS["lstm"] if arch in ("lstm", "peephole") else [])
    for request in (
        {"model": mid, "text": TEXT},
        {"model": mid, "text": TEXT, "target": "a", "interventions": clamps},
    ):
        got = wire_page.evaluate("(r) => window.wire.trace(r)", request)
        same(got, expected(zoo, request), mid)


@pytest.mark.parametrize("mid", ["w-lstm2", "w-gru", "w-irnn"])
def test_an_incremental_trace_is_the_fresh_one(wire_page: Any, zoo: Any, mid: str) -> None:
    clamps = CLAMPS.get(MODELS[mid][0], [])
    start = {"model": mid, "text": TEXT, "interventions": clamps}
    wire_page.evaluate("(r) => window.wire.trace(r)", start)
    for text, target in ((TEXT + "x", None), (TEXT + "xy", "b"), (TEXT[:-4] + "z", "b"), ("a" + TEXT[1:], None)):
        request = {**start, "text": text, **({"target": target} if target else {})}
        got = wire_page.evaluate("(r) => window.wire.trace(r)", request)
        same(got, expected(zoo, request), f"{mid} {text!r}")
    assert wire_page.evaluate("() => window.wire.keep()") == 0  # the first token changed: nothing kept
    wire_page.evaluate("(r) => window.wire.trace(r)", {**start, "text": TEXT})
    wire_page.evaluate("(r) => window.wire.trace(r)", {**start, "text": TEXT + "q"})
    assert wire_page.evaluate("() => window.wire.keep()") == len(TEXT) - 1  # all but the step before "q"


def test_rows_past_a_whole_block_come_again_and_are_the_fresh_bits(wire_page: Any, zoo: Any) -> None:
    """Typing at the end keeps the rows of whole blocks of 32 losses; the partial block's rows come again
    (their bits depend on the block's size), and the browser holds every row exactly as a fresh trace has it."""
    text = (TEXT + " " + TEXT)[: ROW_BLOCK + 6]
    start = {"model": "w-lstm2", "text": text}
    wire_page.evaluate("(r) => window.wire.trace(r)", start)
    wire_page.evaluate("(r) => window.wire.trace(r)", {**start, "text": text + "x"})
    assert wire_page.evaluate("() => window.wire.keep()") == len(text) - 1
    fresh = run_trace(zoo.models["w-lstm2"], text + "x")
    assert fresh.triangle is not None
    for l in range(2):
        for name, a in (("hidden", fresh.triangle.hidden), ("cell", fresh.triangle.cell)):
            got = wire_page.evaluate(
                "([l, name]) => window.wire.socket.current.gradients.layers[l][name].map((r) => r && Array.from(r))",
                [l, name],
            )
            assert a is not None
            for r, t in enumerate(fresh.triangle.loss_steps.tolist()):
                assert got[t] == a[l, r, : t + 1].tolist(), (l, name, t)


def test_a_stale_answer_never_paints_over_a_newer_one(wire_page: Any, zoo: Any) -> None:
    requests = [{"model": "w-lstm2", "text": TEXT[: 10 + k]} for k in range(12)]
    got = wire_page.evaluate("(rs) => window.wire.burst(rs)", requests)
    same(got, expected(zoo, requests[-1]), "burst")
    ids = wire_page.evaluate("() => window.wire.updates.map(([id]) => id)")
    last = wire_page.evaluate("() => window.wire.socket.current.id")
    # after the newest request's first update, no older one reached the views
    first = ids.index(last)
    assert all(i == last for i in ids[first:])


def test_a_view_asks_for_rows_and_the_rest_comes_on_request(wire_page: Any, zoo: Any) -> None:
    wire_page.evaluate("() => window.wire.socket.setView({ rows: [3], pre: [0] })")
    request = {"model": "w-gru", "text": TEXT + " now"}
    got = wire_page.evaluate("(r) => window.wire.trace(r)", request)
    rows = got["gradients"]["layers"][0]["hidden"]
    assert rows[3] is not None and all(r is None for t, r in enumerate(rows) if t != 3)
    assert got["steps"][0]["layers"][0]["preactivations"] and not got["steps"][1]["layers"][0]["preactivations"]
    got = wire_page.evaluate("() => window.wire.more({ rows: 'all', pre: 'all' })")
    same(got, expected(zoo, request), "after the view")
    wire_page.evaluate("() => window.wire.socket.setView({ rows: 'all', pre: 'all' })")


def test_the_accessors_answer_from_the_decoded_trace(wire_page: Any, zoo: Any) -> None:
    request = {"model": "w-lstm", "text": "abc"}
    wire_page.evaluate("(r) => window.wire.trace(r)", request)
    doc = expected(zoo, request)
    got = wire_page.evaluate("() => window.wire.accessors(2, 0)")
    assert got["memory"] == "cell" and got["loss"] == 1  # the last step has no loss without a target
    np.testing.assert_allclose(got["tanh"], doc["steps"][2]["layers"][0]["tanh_cell"], rtol=1e-6)
    f, c_prev = doc["steps"][2]["layers"][0]["gates"]["forget"], doc["steps"][1]["layers"][0]["cell"]
    np.testing.assert_allclose(got["kw"], np.multiply(f, c_prev), rtol=1e-6)
    assert got["top"] == [x["token"] for x in doc["steps"][2]["top"]]


@pytest.mark.parametrize(
    "request_",
    [
        {"model": "w-classifier", "text": TEXT},
        {"model": "w-classifier", "text": TEXT, "target": "neutral", "interventions": CLAMPS["gru"]},
        {"model": "w-forecaster", "text": "3, 7.5 11; 9 -2 4e1"},
        {"model": "w-forecaster", "text": "3 7.5 11 9", "target": "12.25", "interventions": CLAMPS["lstm"]},
    ],
)
def test_the_browser_decodes_a_classifier_and_a_forecaster(wire_page: Any, zoo: Any, request_: dict[str, Any]) -> None:
    """The new kinds' frames decode into their JSON documents: `classes` (highest first) and the target label
    at the last step, `forecast` with the value scored, the attribution with the last loss's gradients."""
    got = wire_page.evaluate("(r) => window.wire.trace(r)", request_)
    same(got, expected(zoo, request_), request_["model"])
