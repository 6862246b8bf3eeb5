// Transport only: the trace WebSocket and the REST calls. No DOM, no state; callers get plain objects.
//
// A trace streamed over the socket is assembled into the same document `POST /api/trace` returns,
// so views never care which way it came.

import { TIMING } from './config.js';

export class ApiError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

// A trace document being filled in by frames: {id, model, tokens, steps[], gradients, done, ms}.
function emptyTrace(id, request) {
  return { id, request, model: null, tokens: [], steps: [], gradients: null, notices: [], done: false, ms: null };
}

// One socket for the page. `trace(request)` supersedes the previous request: frames of older ids are
// dropped here, so a stale answer can never reach the views.
export class TraceSocket {
  constructor(url, { onUpdate, onError, onStatus }) {
    this.url = url;
    this.onUpdate = onUpdate;
    this.onError = onError;
    this.onStatus = onStatus;
    this.nextId = 1;
    this.current = null; // the trace being assembled for the latest request
    this.pending = null; // the latest request, re-sent after a reconnect until its `done` arrives
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
    this.ws = ws;
    ws.addEventListener('open', () => {
      this.retries = 0;
      this.onStatus?.('open');
      if (this.pending) this.send(this.pending);
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
      this.replay(message);
      return;
    }
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  // Returns the request id; the views hear about it through onUpdate / onError.
  trace(request) {
    const id = this.nextId++;
    const message = { type: 'trace', id, ...request };
    this.current = emptyTrace(id, request);
    this.pending = message;
    this.send(message);
    return id;
  }

  receive(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    this.handle(msg);
  }

  handle(msg) {
    const trace = this.current;
    if (!trace || msg.id !== trace.id) return; // stale: an older request, superseded
    switch (msg.type) {
      case 'meta':
        trace.model = msg.model;
        trace.tokens = msg.tokens;
        trace.target = msg.target ?? null;
        trace.notices = msg.notices ?? []; // what the server left out and why (e.g. gradients of a long text)
        this.onUpdate(trace, 'meta');
        break;
      case 'step':
        trace.steps[msg.t] = { layers: msg.layers, top: msg.top, expected: msg.expected, loss: msg.loss };
        this.onUpdate(trace, 'step', msg.t);
        break;
      case 'gradients':
        trace.gradients = { layers: msg.layers, params: msg.params };
        this.onUpdate(trace, 'gradients');
        break;
      case 'done':
        trace.done = true;
        trace.ms = msg.ms;
        this.pending = null;
        this.onUpdate(trace, 'done');
        break;
      case 'error':
        this.pending = null;
        this.onError(new ApiError(msg.code, msg.message), trace.request);
        break;
      default:
        break;
    }
  }

  // Offline: the exported document, delivered as the frames the socket would have carried.
  async replay(message) {
    const { id } = message;
    let doc;
    try {
      doc = await offlineDocument(message);
    } catch (err) {
      if (this.current?.id === id) this.handle({ type: 'error', id, code: err.code, message: err.message });
      return;
    }
    if (this.current?.id !== id) return;
    const { model, tokens, target, interventions, notices } = doc;
    this.handle({ type: 'meta', id, model, tokens, target, interventions, notices });
    doc.steps.forEach((step, t) => this.handle({ type: 'step', id, t, ...step }));
    if (doc.gradients) this.handle({ type: 'gradients', id, ...doc.gradients });
    this.handle({ type: 'done', id, ms: 0 });
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
  if (offline) return offlineDocument(body);
  return postJson(`${apiBase}/trace`, body, signal);
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
