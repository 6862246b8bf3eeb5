// The network in the page, as the page's transport: a page with no server (a file written by
// `lstm-explainer export`, a folder written by `lstm-explainer site`) traces with the engine
// (static/js/engine/) in a Web Worker instead of asking the server. api.js hands it the requests it would
// have sent; the answers are the same documents, so no view knows where a trace came from.
//
// config.engine (app/export.py engine_config):
//   {models: [{id, card, weights | url, limits: {maxWordTokens, maxInterventions, gradientTokens}}],
//    worker: {element} | {url}}
// A model's weights are either an element of the page (its safetensors file, byte planes gzip-compressed
// and base64-encoded: see weightsFrom) or the URL of its directory on the static host. The worker is the
// engine's modules concatenated into one classic script in an element (a page opened from disk, whose
// origin is null, can start only a classic worker from a blob: URL), or the URL of engine/worker.js.

import { EngineClient } from './engine/client.js';

export class EngineUnavailable extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// A <script type="application/octet-stream"> element's base64 text, gzip-inflated, as an ArrayBuffer.
export async function inflateElement(elementId) {
  const el = document.getElementById(elementId);
  if (!el) throw new EngineUnavailable('offline', `the page is missing its data (#${elementId})`);
  const bin = atob(el.textContent.trim());
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) bytes[i] = bin.charCodeAt(i);
  return new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer();
}

// The stored weights back to the file's bytes: a 4-byte length, then byte k of every 4-byte word, for k =
// 0..3 (app/export.py pack_weights): float32's exponent bytes side by side compress better than interleaved.
async function weightsFrom(elementId) {
  const planes = new Uint8Array(await inflateElement(elementId));
  const n = new DataView(planes.buffer).getUint32(0, true);
  const words = Math.ceil(n / 4);
  const out = new Uint8Array(words * 4);
  for (let k = 0; k < 4; k++) {
    const plane = planes.subarray(4 + k * words, 4 + (k + 1) * words);
    for (let w = 0; w < words; w++) out[4 * w + k] = plane[w];
  }
  return out.buffer.slice(0, n);
}

export class LocalEngine {
  constructor(spec) {
    this.spec = spec;
    this.models = new Map(spec.models.map((m) => [m.id, m]));
    this.loading = new Map(); // id → Promise, the model loaded into the worker
    this.client = null;
  }

  worker() {
    if (this.client) return this.client;
    const w = this.spec.worker;
    if (w.element) {
      const source = document.getElementById(w.element)?.textContent ?? '';
      const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
      this.client = new EngineClient(url, { type: 'classic' });
    } else {
      this.client = new EngineClient(new URL(w.url, window.location.href), { type: 'module' });
    }
    return this.client;
  }

  carried() {
    return [...this.models.keys()].join(', ');
  }

  // The model in the worker, loaded on first use.
  ensure(id) {
    const m = this.models.get(id);
    if (!m) {
      const message = `there is no model '${id}' in this page; it carries ${this.carried()}`;
      return Promise.reject(new EngineUnavailable('unknown_model', message));
    }
    if (!this.loading.has(id)) {
      const client = this.worker();
      const loaded = m.weights
        ? weightsFrom(m.weights).then((weights) => client.load(id, { card: m.card, weights }))
        : client.load(id, m.url);
      loaded.catch(() => this.loading.delete(id)); // a failure is reported, and tried again next time
      this.loading.set(id, loaded);
    }
    return this.loading.get(id);
  }

  // A trace request as POST /api/trace or the socket takes it → its document (with the server's limits:
  // the same refusals and the same notice past the gradient limit). `onForward` hears the document
  // before its gradients; a newer trace on the same lane makes this one reject with code 'superseded'.
  // `incremental`: the lane is a typist's, each trace extending the last (only the changed steps are computed).
  async trace(request, { lane = 'main', onForward = null, incremental = false } = {}) {
    await this.ensure(request.model);
    const { limits = {} } = this.models.get(request.model);
    const n = request.interventions?.length ?? 0;
    if (limits.maxInterventions !== undefined && n > limits.maxInterventions) {
      const message = `${n} interventions; the limit is ${limits.maxInterventions} per request`;
      throw new EngineUnavailable('too_many_interventions', message);
    }
    const job = {
      model: request.model,
      text: request.text,
      target: request.target ?? null,
      interventions: request.interventions ?? [],
      gradients: request.gradients !== false,
      limits,
    };
    return this.worker().trace(job, { lane, onForward, incremental });
  }

  async continue(body) {
    await this.ensure(body.model);
    return this.worker().continue(body);
  }
}
