// The engine off the main thread: a module Web Worker, so a page keeps painting while a trace computes.
//
// Messages in (each with a numeric `id` the answers repeat):
//   {type: 'load', id, model, url}                  a model directory's URL (model.json + weights.safetensors)
//   {type: 'load', id, model, card, weights}        or its card object and its weights' ArrayBuffer
//   {type: 'trace', id, model, text, target?, interventions?, gradients?, lane?, digits?}
// Messages out:
//   {type: 'loaded', id, model, card}
//   {type: 'forward', id, document}                 the trace document, its `gradients` still null
//   {type: 'done', id, gradients, ms}               the gradients record (null when not asked for)
//   {type: 'superseded', id}                        a newer trace on the same lane replaced this one
//   {type: 'error', id, code, message}              as the server's 4xx body: nothing was traced
//
// A trace supersedes any earlier trace on its `lane` ('main' by default; compare mode's second model can
// use a lane of its own) that has not finished: one waiting is dropped, one in its gradient sweep stops
// between steps. The forward itself is never interrupted: it is short.

import { buildDocument, gradientsRecord, rounder } from './document.js';
import { pyRepr } from './errors.js';
import { fetchModel, loadModel } from './files.js';
import { runTrace, triangleSweep } from './trace.js';

const SLICE_MS = 10; // the sweep looks for newer messages this often

const models = new Map(); // name → Promise<Model>
const latest = new Map(); // lane → id of its newest trace
const queue = [];
let running = false;

// A macrotask that lets queued messages in: setTimeout(0) would be clamped to 4 ms when nested.
const tick = new MessageChannel();
let wake = null;
tick.port1.onmessage = () => wake?.();
const breathe = () =>
  new Promise((resolve) => {
    wake = resolve;
    tick.port2.postMessage(null);
  });

const post = (message) => self.postMessage(message);
const failure = (id, err) => ({ type: 'error', id, code: err.code ?? 'engine_error', message: err.message });

function load({ id, model: name, url, card, weights }) {
  const loading = url !== undefined ? fetchModel(url) : Promise.resolve().then(() => loadModel(card, weights));
  models.set(name, loading);
  loading.then(
    (m) => post({ type: 'loaded', id, model: name, card: m.card }),
    (err) => {
      if (models.get(name) === loading) models.delete(name);
      post(failure(id, err));
    },
  );
}

const stale = (job) => latest.get(job.lane) !== job.id;

async function run(job) {
  const started = performance.now();
  const model = await models.get(job.model);
  if (stale(job)) return post({ type: 'superseded', id: job.id });
  const { text, target = null, interventions = [], gradients = true, digits = 7 } = job;
  const trace = runTrace(model, text, { target, interventions, gradients: false });
  post({ type: 'forward', id: job.id, document: buildDocument(trace, { digits }) });
  if (gradients) {
    const sweep = triangleSweep(trace);
    let slice = performance.now();
    let step = sweep.next();
    while (!step.done) {
      if (performance.now() - slice > SLICE_MS) {
        await breathe();
        if (stale(job)) return post({ type: 'superseded', id: job.id });
        slice = performance.now();
      }
      step = sweep.next();
    }
    trace.triangle = step.value;
  }
  const record = gradients ? gradientsRecord(trace, rounder(digits)) : null;
  post({ type: 'done', id: job.id, gradients: record, ms: performance.now() - started });
}

async function drain() {
  if (running) return;
  running = true;
  while (queue.length) {
    const job = queue.shift();
    if (stale(job)) {
      post({ type: 'superseded', id: job.id });
      continue;
    }
    if (!models.has(job.model)) {
      const message = `no model ${pyRepr(job.model)} is loaded in the engine; load it first`;
      post({ type: 'error', id: job.id, code: 'unknown_model', message });
      continue;
    }
    try {
      await run(job);
    } catch (err) {
      post(failure(job.id, err));
    }
  }
  running = false;
}

self.onmessage = ({ data }) => {
  if (data?.type === 'load') load(data);
  else if (data?.type === 'trace') {
    const job = { lane: 'main', ...data };
    latest.set(job.lane, job.id);
    queue.push(job);
    drain();
  } else {
    const message = "expected a message of type 'load' or 'trace'";
    post({ type: 'error', id: data?.id ?? null, code: 'bad_message', message });
  }
};
