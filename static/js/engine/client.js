// The page's side of worker.js: one worker, promises instead of messages.
//
//   const engine = new EngineClient();
//   await engine.load('recall-lstm', '/models/recall-lstm/');         // or {card, weights: ArrayBuffer}
//   const doc = await engine.trace({ model: 'recall-lstm', text: 'c123=', target: 'c' }, { onForward });
//
// `onForward(document)` hears the document as soon as the forward pass is done (its `gradients` still
// null); the promise resolves with the whole document. A newer trace on the same lane supersedes an
// older one, whose promise then rejects with an EngineError of code 'superseded'.

export class EngineError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'EngineError';
    this.code = code;
  }
}

export class EngineClient {
  // `type: 'classic'` for the engine concatenated into one script (a page opened from disk needs that).
  constructor(workerUrl = new URL('./worker.js', import.meta.url), { type = 'module' } = {}) {
    this.worker = new Worker(workerUrl, { type });
    this.nextId = 1;
    this.pending = new Map(); // id → {resolve, reject, onForward, document, lane}
    this.lanes = new Map(); // lane → the last whole document of an incremental lane (what the worker extends)
    this.worker.onmessage = ({ data }) => this.receive(data);
    this.worker.onerror = (ev) => {
      this.failAll(new EngineError('engine_error', ev.message || 'the engine worker failed'));
    };
  }

  request(message, extra = {}, transfer = []) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...extra });
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  // `source`: the URL of a model directory, or {card, weights} (the weights' ArrayBuffer is transferred).
  load(model, source) {
    if (typeof source === 'string' || source instanceof URL) {
      return this.request({ type: 'load', model, url: String(new URL(source, globalThis.location?.href)) });
    }
    return this.request({ type: 'load', model, card: source.card, weights: source.weights }, {}, [source.weights]);
  }

  // `request`: {model, text, target?, interventions?, gradients?, digits?}, as POST /api/trace takes it.
  // `incremental`: extend the lane's last trace (typing); only what changed crosses from the worker.
  trace(request, { lane = 'main', onForward = null, incremental = false } = {}) {
    return this.request({ ...request, type: 'trace', lane, incremental }, { onForward, lane, incremental });
  }

  // `request`: {model, text, length?, temperature?, top_k?, top_p?, seed?}, as POST /api/continue takes it.
  continue(request) {
    return this.request({ ...request, type: 'continue' });
  }

  receive(msg) {
    const call = this.pending.get(msg.id);
    if (!call) return;
    switch (msg.type) {
      case 'loaded':
        this.pending.delete(msg.id);
        call.resolve(msg.card);
        break;
      case 'continued':
        this.pending.delete(msg.id);
        call.resolve(msg.response);
        break;
      case 'forward': {
        const doc = msg.document;
        // the steps before `keep` are those of the lane's last whole document (shared, not copied)
        if (msg.keep) doc.steps = [...this.lanes.get(call.lane).steps.slice(0, msg.keep), ...doc.steps];
        call.document = doc;
        call.onForward?.(doc);
        break;
      }
      case 'done': {
        this.pending.delete(msg.id);
        let g = msg.gradients;
        if (g && msg.rowsFrom) {
          const before = this.lanes.get(call.lane).gradients.layers;
          const rows = (old, fresh) => (fresh === null ? null : [...old.slice(0, msg.rowsFrom), ...fresh]);
          g = { ...g, layers: g.layers.map((x, l) => ({ hidden: rows(before[l].hidden, x.hidden), cell: rows(before[l].cell, x.cell) })) };
        }
        const doc = { ...call.document, gradients: g };
        if (call.incremental) this.lanes.set(call.lane, doc);
        call.resolve(doc);
        break;
      }
      case 'superseded':
        this.pending.delete(msg.id);
        call.reject(new EngineError('superseded', 'a newer trace replaced this one'));
        break;
      default:
        this.pending.delete(msg.id);
        call.reject(new EngineError(msg.code ?? 'engine_error', msg.message ?? 'the engine failed'));
    }
  }

  failAll(err) {
    for (const call of this.pending.values()) call.reject(err);
    this.pending.clear();
  }

  close() {
    this.worker.terminate();
    this.failAll(new EngineError('closed', 'the engine was closed'));
  }
}
