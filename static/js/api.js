// Transport only: the trace WebSocket and the REST calls. No DOM, no state; callers get trace objects.
//
// A trace streamed over the socket (docs/protocol.md) is assembled by trace-doc.js into the same object
// a JSON document gives, so views never care which way it came.

import { TIMING } from './config.js';
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
    if (offline) {
      this.onStatus?.('offline');
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
    if (offline) {
      if (message.type === 'trace') this.replay(message);
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
    if (trace?.model && !offline) this.send({ type: 'view', id: trace.id, ...this.view });
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

  // Offline: the exported document stands in for the frames the socket would have carried.
  async replay(message) {
    const { id } = message;
    let doc;
    try {
      doc = await offlineDocument(message);
    } catch (err) {
      if (this.current?.id === id) this.onError(new ApiError(err.code, err.message), this.current.request);
      return;
    }
    if (this.current?.id !== id) return;
    const trace = Object.assign(this.current, fromDocument(doc, { id, request: this.current.request }));
    this.onUpdate(trace, 'meta');
    this.onUpdate(trace, 'step', trace.steps.length - 1);
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
  const doc = offline ? await offlineDocument(body) : await postJson(`${apiBase}/trace`, body, signal);
  return fromDocument(doc, { request: body });
}

// ------------------------------------------------------------------------------------------ offline
// A page written by `lstm-explainer export` has no server: `useOffline(config.offline)` swaps this
// module's transport for the table of trace documents exported with the page (the same documents
// `POST /api/trace` sends). Trace requests are answered from it by model, text, target and clamps; any
// other request gets an error that says what needs the server. The table (its floats apart, see
// decodeNumbers) and plotly.js are stored gzip-compressed and base64-encoded in
// <script type="application/octet-stream"> elements and inflated with DecompressionStream.
let offline = null; // config.offline plus `table`: a Promise of Map(key → document)

const OFFLINE_HINT =
  'This page was exported for offline use: it shows only what it was exported with. ' +
  'Typing new text, choosing another model or a new clamp needs the server (lstm-explainer serve).';

// The same request in any spelling (a clamp's defaults left out or written out) gives the same key.
export function offlineKey(r) {
  const clamp = (c) => [c.gate, Number(c.value), c.layer ?? 0, c.units ?? null, c.start ?? null, c.stop ?? null];
  return JSON.stringify([r.model, r.text, r.target || null, (r.interventions ?? []).map(clamp)]);
}

async function inflate(elementId) {
  const el = document.getElementById(elementId);
  if (!el) throw new ApiError('offline', `the exported page is missing its data (#${elementId})`);
  const bin = atob(el.textContent.trim());
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) bytes[i] = bin.charCodeAt(i);
  return new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer();
}

// The traces' floats are stored apart (app/export.py NumberPool): per value an int32 decimal mantissa m
// and an int8 exponent e, byte planes one after the other. m / 10^−e is correctly rounded, so each value
// is the very number JSON.parse gives for the decimal the server would have sent.
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

function decodeNumbers(bytes) {
  const n = bytes.length / 5;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 1) {
    const m = bytes[i] | (bytes[n + i] << 8) | (bytes[2 * n + i] << 16) | (bytes[3 * n + i] << 24);
    const e = (bytes[4 * n + i] << 24) >> 24;
    out[i] = e < 0 ? m / POW10[-e] : m * POW10[e];
  }
  return out;
}

async function loadTable(spec) {
  const [skeleton, numbers] = await Promise.all([inflate(spec.tracesElement), inflate(spec.numbersElement)]);
  const values = decodeNumbers(new Uint8Array(numbers));
  const rows = JSON.parse(new TextDecoder().decode(skeleton), (_, v) => {
    const ref = v?.$f;
    return Array.isArray(ref) ? Array.from(values.subarray(ref[0], ref[0] + ref[1])) : v;
  });
  return new Map(rows.map((row) => [offlineKey(row.request), row.document]));
}

export function useOffline(spec) {
  // A page without traces (the gradient lab) answers every trace request with an error.
  offline = { ...spec, table: spec.tracesElement ? loadTable(spec) : Promise.resolve(new Map()) };
}

async function offlineDocument(request) {
  const doc = (await offline.table).get(offlineKey(request));
  if (!doc) {
    const clamped = Boolean(request.interventions?.length);
    const what = clamped ? 'this text with these clamps' : 'this text';
    const code = clamped ? 'clamp_not_exported' : 'not_exported';
    throw new ApiError(code, `${OFFLINE_HINT} The page has no trace of ${what} on ${request.model}.`);
  }
  // A request without gradients gets the same document without them, as the server would send.
  return request.gradients === false ? { ...doc, gradients: null } : doc;
}

// The continuations exported with the page (config.offline.continuations: [{request, response}]).
function offlineContinuation({ model, text, length = null }) {
  const same = (r) => r.model === model && r.text === text && (r.length ?? null) === length;
  const row = (offline.continuations ?? []).find((c) => same(c.request));
  if (!row) {
    throw new ApiError('not_exported', `${OFFLINE_HINT} (no continuation of this text by ${model} was exported)`);
  }
  return structuredClone(row.response);
}

// Where to load plotly.js from: the server's copy, or the exported page's own (as a blob: URL).
export async function plotlySource(url) {
  if (!offline?.plotlyElement) return url;
  const buf = await inflate(offline.plotlyElement);
  return URL.createObjectURL(new Blob([buf], { type: 'text/javascript' }));
}

// A model's greedy continuation of a text: {model, text, continuation, tokens}.
export async function postContinue(apiBase, body, { signal } = {}) {
  if (offline) return offlineContinuation(body);
  return postJson(`${apiBase}/continue`, body, signal);
}
