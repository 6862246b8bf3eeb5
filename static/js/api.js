// Transport only: the trace WebSocket and the REST calls, or, in a page without a server, the engine in
// the page (useEngine). No DOM, no state; callers get trace objects.
//
// A trace streamed over the socket (docs/protocol.md) is assembled by trace-doc.js into the same object
// a JSON document gives, and so is the engine's, so views never care which way it came.

import { TIMING } from './config.js';
import { inflateElement } from './local-engine.js';
import { applyFrame, applyMeta, applyParams, emptyTrace, fromDocument, parseFrame } from './trace-doc.js';

export class ApiError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

// One socket for the page. `trace(request)` supersedes the previous request: frames of older ids never
// reach the views, so a stale answer cannot paint over a newer one. Each request names as its `base` the
// newest trace whose meta arrived, so the server sends only the steps after what changed.
//
// onUpdate(trace, phase, t): phase 'meta', 'step' (t: the last step that arrived), 'gradients' (rows or
// weight gradients arrived), 'done' (everything the request asked for), 'view' (what a later
// setView asked for has arrived).
export class TraceSocket {
  constructor(url, { onUpdate, onError, onStatus }) {
    this.url = url;
    this.onUpdate = onUpdate;
    this.onError = onError;
    this.onStatus = onStatus;
    this.nextId = 1;
    this.current = null; // the trace being assembled for the latest request
    this.held = null; // the newest trace whose meta arrived (maybe an older request's): the next base
    this.pending = null; // the latest request, re-sent after a reconnect until its `done` arrives
    this.view = { rows: 'all', pre: 'all' }; // what the page looks at (setView)
    this.ws = null;
    this.retries = 0;
    this.closed = false;
    this.connect();
  }

  connect() {
    if (local) {
      this.onStatus?.('local');
      return;
    }
    this.onStatus?.(this.retries ? 'reconnecting' : 'connecting');
    const ws = new WebSocket(this.url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.addEventListener('open', () => {
      this.retries = 0;
      this.held = null; // a new socket remembers nothing
      this.onStatus?.('open');
      if (this.pending) this.send({ ...this.pending, base: null });
    });
    ws.addEventListener('message', (ev) => this.receive(ev.data));
    ws.addEventListener('close', () => {
      if (this.ws !== ws || this.closed) return;
      this.ws = null;
      // Exponential backoff, capped; the view keeps its last picture meanwhile.
      const delay = Math.min(TIMING.reconnectMaxMs, TIMING.reconnectMinMs * 2 ** this.retries);
      this.retries += 1;
      this.onStatus?.('reconnecting', delay);
      setTimeout(() => this.connect(), delay);
    });
  }

  send(message) {
    if (local) {
      if (message.type === 'trace') this.traceLocally(message);
      return;
    }
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  // Returns the request id; the views hear about it through onUpdate / onError.
  trace(request) {
    const id = this.nextId++;
    const message = { type: 'trace', id, ...request, view: this.view };
    if (this.held && this.held.model?.id === request.model) message.base = this.held.id;
    this.current = emptyTrace(id, request);
    this.pending = message;
    this.send(message);
    return id;
  }

  // What the page looks at: gradient rows ('all' or [t, ...]) and steps whose pre-activations it needs.
  // Later traces ask for this view first; the current one gets what it lacks.
  setView({ rows = this.view.rows, pre = this.view.pre } = {}) {
    this.view = { rows, pre };
    const trace = this.current;
    if (trace?.model && !local) this.send({ type: 'view', id: trace.id, ...this.view });
  }

  receive(data) {
    if (data instanceof ArrayBuffer) {
      this.frame(data);
      return;
    }
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    this.handle(msg);
  }

  // A binary frame belongs to the trace of its stream: the current one, or the held one still receiving
  // what was on the wire before the current request's meta.
  frame(buffer) {
    let frame;
    try {
      frame = parseFrame(buffer);
    } catch {
      return;
    }
    const trace = [this.current, this.held].find((x) => x?.stream === frame.stream && x.model);
    if (!trace) return;
    const { kind, last } = applyFrame(trace, frame);
    if (trace !== this.current) return;
    this.onUpdate(trace, kind === 1 ? 'step' : kind === 3 ? 'gradients' : 'pre', last);
  }

  handle(msg) {
    if (msg.type === 'meta') {
      this.meta(msg);
      return;
    }
    const trace = this.current;
    if (!trace || msg.id !== trace.id) return; // stale: an older request, superseded
    switch (msg.type) {
      case 'params':
        applyParams(trace, msg.params);
        this.onUpdate(trace, 'gradients');
        break;
      case 'done': {
        const first = !trace.done;
        trace.done = true;
        trace.complete = msg.complete ?? true;
        trace.ms = msg.ms;
        this.pending = null;
        this.onUpdate(trace, first ? 'done' : 'view');
        break;
      }
      case 'error':
        this.pending = null;
        this.held = null; // the server forgot it too
        this.onError(new ApiError(msg.code, msg.message), trace.request);
        break;
      default:
        break;
    }
  }

  meta(msg) {
    const mine = this.current && msg.id === this.current.id;
    const trace = mine ? this.current : emptyTrace(msg.id, null);
    const base = msg.base !== null && msg.base !== undefined ? this.held : null;
    if (msg.base !== null && msg.base !== undefined && base?.id !== msg.base) {
      // Never expected (the server names the trace it last sent): start this request again, whole.
      this.held = null;
      if (mine) this.send({ ...this.pending, id: msg.id, base: null });
      return;
    }
    applyMeta(trace, msg, base);
    this.held = trace;
    if (mine) this.onUpdate(trace, 'meta');
  }

  // Without a server: the engine computes the trace in a worker. The forward's document fills the trace
  // as the step frames would (the diagram paints at once), the gradients follow as the rows would.
  async traceLocally(message) {
    const { id } = message;
    this.lane ??= `socket-${(lanes += 1)}`; // each socket supersedes only its own requests, as on a server
    const mine = () => this.current?.id === id;
    const onForward = (doc) => {
      if (!mine()) return;
      const trace = Object.assign(this.current, fromDocument(doc, { id, request: this.current.request }));
      Object.assign(trace, { done: false, complete: false });
      this.onUpdate(trace, 'meta');
      this.onUpdate(trace, 'step', trace.steps.length - 1);
    };
    let doc;
    try {
      doc = await local.trace(message, { lane: this.lane, onForward, incremental: true });
    } catch (err) {
      if (err.code !== 'superseded' && mine()) this.onError(new ApiError(err.code, err.message), this.current.request);
      return;
    }
    if (!mine()) return;
    const trace = this.current;
    Object.assign(trace, { gradients: doc.gradients, done: true, complete: true, ms: doc.ms ?? null });
    if (trace.gradients) this.onUpdate(trace, 'gradients');
    this.onUpdate(trace, 'done');
  }

  close() {
    this.closed = true;
    this.ws?.close();
  }
}

async function errorFrom(response) {
  try {
    const body = await response.json();
    const d = body.detail ?? body;
    if (d && typeof d === 'object' && d.message) return new ApiError(d.code ?? 'error', d.message, response.status);
    return new ApiError(`http_${response.status}`, String(d), response.status);
  } catch {
    return new ApiError(`http_${response.status}`, response.statusText, response.status);
  }
}

async function postJson(url, body, signal) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await errorFrom(response);
  return response.json();
}

// The whole trace in one answer; used for the "without the clamp" baseline, which must not supersede
// the socket's request.
export async function postTrace(apiBase, body, { signal } = {}) {
  const doc = local ? await localDocument(body) : await postJson(`${apiBase}/trace`, body, signal);
  return fromDocument(doc, { request: body });
}

// ------------------------------------------------------------------------------------ without a server
// A page written by `lstm-explainer export` or `lstm-explainer site` has no server: `useEngine(engine)`
// (a LocalEngine, static/js/local-engine.js) swaps this module's transport for the engine, which answers
// traces and continuations with the documents the server would send. `usePlotlyElement(id)` makes
// plotlySource answer with the page's own compressed copy of plotly.js.
let local = null;
let lanes = 0;
let plotlyElement = null;

export function useEngine(engine) {
  local = engine;
}

export function usePlotlyElement(elementId) {
  plotlyElement = elementId;
}

async function localDocument(body) {
  try {
    return await local.trace(body, { lane: `rest-${(lanes += 1)}` });
  } catch (err) {
    throw new ApiError(err.code, err.message);
  }
}

// Where to load plotly.js from: the server's copy (or the static site's), or the exported page's own
// (as a blob: URL).
export async function plotlySource(url) {
  if (!plotlyElement) return url;
  const buf = await inflateElement(plotlyElement);
  return URL.createObjectURL(new Blob([buf], { type: 'text/javascript' }));
}

// A model's continuation of a text: {model, text, continuation, tokens, sampling}.
export async function postContinue(apiBase, body, { signal } = {}) {
  if (local) {
    try {
      return await local.continue(body);
    } catch (err) {
      throw new ApiError(err.code, err.message);
    }
  }
  return postJson(`${apiBase}/continue`, body, signal);
}
