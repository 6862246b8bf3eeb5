// The engine off the main thread: a module Web Worker, so a page keeps painting while a trace computes.
//
// Messages in (each with a numeric `id` the answers repeat):
//   {type: 'load', id, model, url}                  a model directory's URL (model.json + weights.safetensors)
//   {type: 'load', id, model, card, weights}        or its card object and its weights' ArrayBuffer
//   {type: 'trace', id, model, text, target?, interventions?, gradients?, lane?, digits?, limits?, incremental?}
//   {type: 'continue', id, model, text, length?, temperature?, top_k?, top_p?, seed?}
// Messages out:
//   {type: 'loaded', id, model, card}
//   {type: 'forward', id, document, keep}           the trace document, its `gradients` still null
//   {type: 'done', id, gradients, rowsFrom, ms}     the gradients record (null when not asked for)
//   {type: 'superseded', id}                        a newer trace on the same lane replaced this one
//   {type: 'continued', id, response}               what POST /api/continue answers
//   {type: 'error', id, code, message}              as the server's 4xx body: nothing was traced
//
// A trace supersedes any earlier trace on its `lane` ('main' by default; compare mode's second model can
// use a lane of its own) that has not finished: one waiting is dropped, one in its gradient sweep stops
// between steps. The forward itself is never interrupted: it is short.
//
// `incremental: true` makes a trace extend the lane's last finished one (typing): steps the two share are
// not computed again, and only what changed is sent — `document.steps` from step `keep` on (the steps
// before are the last finished trace's), the gradient rows of the losses from `rowsFrom` on (the record's
// row lists start there; the rows before are the last finished trace's). client.js puts them together.

import { buildDocument, gradientsRecord, rounder } from './document.js';
import { TraceInputError, pyRepr } from './errors.js';
import { fetchModel, loadModel } from './files.js';
import { continuation } from './generate.js';
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

// The limits a server puts around the core (app/api/tracing.py check_request), for a page that has none
// but behaves as if it had: `limits` {maxChars, maxWordTokens, gradientTokens}, each optional. The same
// refusals, and past the gradient limit the same notice instead of the gradients.
const thousands = (n) => n.toLocaleString('en-US');

function serverLimits(model, text, tokens, gradients, limits) {
  if (!limits) return { gradients, notice: null };
  const chars = [...text].length;
  if (limits.maxChars !== undefined && chars > limits.maxChars) {
    const message = `the text has ${thousands(chars)} characters; the limit is ${thousands(limits.maxChars)} characters`;
    throw new TraceInputError('text_too_long', message);
  }
  if (limits.maxWordTokens !== undefined && model.tokenizer.kind === 'word' && tokens.length > limits.maxWordTokens) {
    const message = `the text has ${thousands(tokens.length)} word tokens; the limit is ${thousands(limits.maxWordTokens)} word tokens`;
    throw new TraceInputError('text_too_long', message);
  }
  const most = limits.gradientTokens;
  if (gradients && most !== undefined && tokens.length > most) {
    const notice =
      `gradients through time are computed for texts of up to ${thousands(most)} tokens on this model ` +
      `(the cost grows with the square of the length); this text has ${thousands(tokens.length)}`;
    return { gradients: false, notice };
  }
  return { gradients, notice: null };
}

const stale = (job) => latest.get(job.lane) !== job.id;

// An incremental lane's last finished trace (lane → {key, trace, rows, params}): what the next
// trace on the lane extends. The client holds the same trace's document (client.js), so only what
// changed crosses to the page: the steps from `keep` on, the gradient rows from `rowsFrom` on.
const held = new Map();

// How many leading steps of `tokens` a held trace shares (the same model, clamps, digits and token ids;
// a forecaster's tokens also the same values).
function shared(base, key, tokens) {
  if (!base || base.key !== key) return 0;
  const ids = base.trace.tokens;
  let k = 0;
  while (k < ids.length && k < tokens.length && ids[k].id === tokens[k].id && ids[k].value === tokens[k].value) k++;
  return k;
}

async function run(job) {
  const started = performance.now();
  const model = await models.get(job.model);
  if (stale(job)) return post({ type: 'superseded', id: job.id });
  const { text, target = null, interventions = [], digits = 7, limits = null, incremental = false } = job;
  const tokens = model.tokenizer.tokenize(text);
  const { gradients, notice } = serverLimits(model, text, tokens, job.gradients ?? true, limits);
  const key = JSON.stringify([job.model, interventions, digits]);
  const base = incremental ? held.get(job.lane) : null;
  const prefix = shared(base, key, tokens);
  const trace = runTrace(model, tokens, { target, interventions, gradients: false, base: { trace: base?.trace, keep: prefix } });
  // A step's record holds its expected token and loss, which the next token (or the target) decides: the
  // last shared step's is made again. So are the gradient rows of the losses from it on.
  const keep = Math.max(0, prefix - 1);
  const round = rounder(digits);
  const forward = buildDocument(trace, { digits, from: keep });
  if (notice) forward.notices.push(notice);
  post({ type: 'forward', id: job.id, document: forward, keep });
  let rowsFrom = gradients && base?.rows ? keep : 0;
  // The weight norms are the last loss's: computed again when that loss is older than the new rows but
  // not the base's last (a text made shorter).
  const lastLoss = trace.expected.findLastIndex((e) => e !== null);
  if (rowsFrom && lastLoss >= 0 && lastLoss < rowsFrom && base.params?.step !== lastLoss) rowsFrom = lastLoss;
  if (gradients) {
    const sweep = triangleSweep(trace, { from: rowsFrom });
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
  let record = gradients ? gradientsRecord(trace, round) : null;
  if (record && rowsFrom) {
    // the rows from `rowsFrom` on are new; the last loss's weight norms are the base's if that loss is older
    const fresh = (rows) => (rows === null ? null : rows.slice(rowsFrom));
    record = {
      layers: record.layers.map((g) => ({ hidden: fresh(g.hidden), cell: fresh(g.cell) })),
      params: record.params ?? base.params,
    };
  }
  const ms = performance.now() - started;
  post({ type: 'done', id: job.id, gradients: record, rowsFrom, ms });
  if (!incremental) return;
  let rows = null;
  if (record) {
    const merged = (old, fresh) => (fresh === null ? null : [...(rowsFrom ? old.slice(0, rowsFrom) : []), ...fresh]);
    rows = record.layers.map((g, l) => ({
      hidden: merged(base?.rows?.[l].hidden, g.hidden),
      cell: merged(base?.rows?.[l].cell, g.cell),
    }));
  }
  held.set(job.lane, { key, trace, rows, params: record?.params ?? null });
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

// A continuation waits for its model, then runs at once: it is a few hundred forward steps.
async function continueJob({ id, model: name, text, ...options }) {
  try {
    const model = await models.get(name);
    post({ type: 'continued', id, response: continuation(model, text, options) });
  } catch (err) {
    post(failure(id, err));
  }
}

self.onmessage = ({ data }) => {
  if (data?.type === 'load') load(data);
  else if (data?.type === 'continue') {
    if (models.has(data.model)) continueJob(data);
    else post({ type: 'error', id: data.id, code: 'unknown_model', message: `no model ${pyRepr(data.model)} is loaded in the engine; load it first` });
  }
  else if (data?.type === 'trace') {
    const job = { lane: 'main', ...data };
    latest.set(job.lane, job.id);
    queue.push(job);
    drain();
  } else {
    const message = "expected a message of type 'load', 'trace' or 'continue'";
    post({ type: 'error', id: data?.id ?? null, code: 'bad_message', message });
  }
};
