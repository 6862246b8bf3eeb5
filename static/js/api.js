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

// The whole trace in one answer; used for the "without the clamp" baseline, which must not supersede
// the socket's request.
export async function postTrace(apiBase, body, { signal } = {}) {
  const response = await fetch(`${apiBase}/trace`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await errorFrom(response);
  return response.json();
}

export async function getModel(apiBase, id) {
  const response = await fetch(`${apiBase}/models/${encodeURIComponent(id)}`);
  if (!response.ok) throw await errorFrom(response);
  return response.json();
}
