// The traced run, as app/nn/trace.py: every intermediate of every step, the next-token distribution, and
// the gradient norms ‖∂L_t/∂h_k‖ and ‖∂L_t/∂c_k‖ for every loss L_t and every earlier step k.
//
// Losses: L_t = −log p(token_{t+1} | tokens ≤ t) for every step with a next token, and at the last step
// −log p(target) when the caller names a target. A classifier scores its last step only, −log p(label); a
// forecaster every step with a next value, ½ (z_t − x_{t+1})² in normalised units. All T×T norms come from one reverse sweep in which each
// loss is its own row of a batched backward (T iterations, each a product of (rows, G·H) by (G·H, H)).

import { stepBackward, stepForward } from './cells.js';
import { TraceInputError, pyRepr } from './errors.js';
import { parseInterventions, stepClamps } from './interventions.js';
import { addOuter, matVec, mulAdd, sumSquares } from './linalg.js';

// Feeds a model one token at a time, keeping the recurrent state. A whole-sequence trace is a loop over
// `step`, so a stream of steps and a finished trace hold the very same numbers.
export class Stepper {
  constructor(model, clamps = null) {
    this.model = model;
    this.clamps = clamps;
    const zeros = () => new Float64Array(model.hiddenSize);
    this.h = Array.from({ length: model.layers }, zeros);
    this.c = Array.from({ length: model.layers }, () => (model.spec.hasCell ? zeros() : null));
    this.t = 0;
  }

  // Advance one token. Returns each layer's cache (every intermediate) and the decoder's logits (V,).
  step(tokenId) {
    const m = this.model;
    const t = this.t;
    const caches = [];
    // (G·H,) a forecaster's value is projected, not looked up (a key per value would only fill the cache)
    let xw = m.kind === 'forecaster' ? forecasterProjection(m, tokenId) : m.inputProjection(tokenId);
    m.layerParams.forEach((p, l) => {
      if (l > 0) xw = matVec(p.weight_ih, p.GH, p.nIn, caches[l - 1].h, p.bias_ih);
      const clamp = this.clamps !== null && t < this.clamps[l].length ? this.clamps[l][t] : null;
      const cache = stepForward(m.spec, p, xw, this.h[l], this.c[l], clamp);
      this.h[l] = cache.h;
      this.c[l] = cache.c;
      caches.push(cache);
    });
    this.t += 1;
    return [caches, m.decode(caches[caches.length - 1].h)];
  }
}

// layer 0's W_ih·x + b_ih for a forecaster's one input value x
function forecasterProjection(model, x) {
  const p = model.layerParams[0];
  return matVec(p.weight_ih, p.GH, p.nIn, Float64Array.of(x), p.bias_ih);
}

// logits (V,) → log-probabilities (V,): z − log Σ exp z with z = logits − max.
export function logSoftmax(logits) {
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x);
  const z = new Float64Array(logits.length);
  let sum = 0;
  for (let v = 0; v < z.length; v++) {
    z[v] = logits[v] - max;
    sum += Math.exp(z[v]);
  }
  const log = Math.log(sum);
  for (let v = 0; v < z.length; v++) z[v] -= log;
  return z;
}

// The target box's text → one known token of the model, or an error saying why not.
export function resolveTarget(model, target) {
  if (target === null || target === undefined || target === '') return null;
  if (model.kind !== 'language-model' && target.trim() === '') return null;
  if (model.kind === 'classifier') {
    const label = target.trim();
    const k = model.classes.indexOf(label);
    if (k < 0) {
      const labels = `[${model.classes.map(pyRepr).join(', ')}]`;
      const why = `the target must be one of this classifier's labels ${labels}, not ${pyRepr(target)}`;
      throw new TraceInputError('bad_target', why);
    }
    return { text: label, id: k, unknown: false, join: false };
  }
  const tokens = model.tokenizer.tokenize(target);
  if (model.kind === 'forecaster') {
    if (tokens.length !== 1) {
      throw new TraceInputError('bad_target', `the target must be one number (the next value), not ${pyRepr(target)}`);
    }
    return tokens[0];
  }
  const kind = model.tokenizer.kind;
  if (tokens.length !== 1) {
    const why = `${pyRepr(target)} is ${tokens.length} tokens`;
    throw new TraceInputError('bad_target', `the target must be one ${kind} token of this model; ${why}`);
  }
  if (tokens[0].unknown) {
    throw new TraceInputError('bad_target', `the target ${pyRepr(target)} is not in this model's vocabulary`);
  }
  return tokens[0];
}

// Trace `text` (a string, or tokens already made) through `model`. `interventions` is a list of
// intervention objects, validated here. Returns the trace: tokens, target, interventions, per layer and
// step the caches, per step the log-probabilities, the expected token and the loss, and the triangle.
//
// `base` ({trace, keep}): an earlier trace of the same model with the same interventions whose first `keep`
// tokens are these: its steps 0..keep−1 are taken over, not computed again. A step depends only on the
// tokens up to it, so the result is the fresh trace's bit for bit (what typing at the end costs: a step).
export function runTrace(model, text, { target = null, interventions = null, gradients = true, base = null } = {}) {
  const tokens = typeof text === 'string' ? model.tokenizer.tokenize(text) : text;
  if (!tokens.length) throw new TraceInputError('empty_text', 'there is nothing to trace: type some text');
  const targetToken = resolveTarget(model, target);
  const ivs = parseInterventions(interventions, model.spec, model.layers, model.hiddenSize);
  const T = tokens.length;
  const stepper = new Stepper(model, stepClamps(ivs, model.layers, T, model.hiddenSize));
  const keep = base ? Math.min(base.keep, T) : 0;
  const caches = Array.from({ length: model.layers }, (_, l) => (keep ? base.trace.caches[l].slice(0, keep) : []));
  const logp = keep ? base.trace.logp.slice(0, keep) : [];
  const logits = keep ? base.trace.logits.slice(0, keep) : [];
  const probs = keep ? base.trace.probs.slice(0, keep) : [];
  if (keep) {
    for (let l = 0; l < model.layers; l++) {
      stepper.h[l] = caches[l][keep - 1].h;
      stepper.c[l] = caches[l][keep - 1].c;
    }
    stepper.t = keep;
  }
  for (const tok of tokens.slice(keep)) {
    const [stepCaches, z] = stepper.step(model.inputKey(tok));
    stepCaches.forEach((cache, l) => caches[l].push(cache));
    logits.push(z);
    const row = logSoftmax(z);
    logp.push(row);
    probs.push(row.map(Math.exp));
  }
  const expected = expectedOf(model, tokens, targetToken);
  const losses =
    model.kind === 'forecaster'
      ? expected.map((e, t) => (e === null ? NaN : 0.5 * (logits[t][0] - e) ** 2))
      : expected.map((e, t) => (e === null ? NaN : -logp[t][e]));
  const trace = {
    model, tokens, target: targetToken, interventions: ivs, caches, logits, logp, probs, expected, losses,
    triangle: null,
  }; // prettier-ignore
  if (gradients) trace.triangle = gradientTriangle(trace);
  return trace;
}

// What each step scores (app/nn/trace.py expected_of): the next token's id, a classifier's label id at the
// last step only, a forecaster's next normalised value.
function expectedOf(model, tokens, target) {
  const T = tokens.length;
  if (model.kind === 'classifier') return [...Array(T - 1).fill(null), target ? target.id : null];
  const key = (tok) => model.inputKey(tok);
  return [...tokens.slice(1).map(key), target ? key(target) : null];
}

// All ‖∂L_t/∂h_k‖ (and ‖∂L_t/∂c_k‖) in one sweep, plus ∂L/∂θ of the last defined loss.
export function gradientTriangle(trace) {
  const sweep = triangleSweep(trace);
  let r = sweep.next();
  while (!r.done) r = sweep.next();
  return r.value;
}

// The sweep of `gradientTriangle`, yielding after each step it goes back through (so a worker can stop a
// stale one between steps); its return value is the triangle:
//   lossSteps (R,) the steps t whose loss L_t is defined, ascending
//   hidden[l] (R, T) ‖∂L_t/∂h_k‖, NaN where k > t;  cell[l] (R, T) ‖∂L_t/∂c_k‖, or null without a cell
//   params: name → ∂L/∂θ of the last defined loss (null when no loss is defined); paramStep its step
//   attribution (T,) that loss's gradient × input per token, ∂L/∂x_k · x_k (null with no loss)
//
// As Model.backward in app/nn/model.py: one reverse sweep over time, top layer first at each step. Every
// loss is a row: rows a..R−1 are the losses at or after step t (alive at t); the decoder injects
// ∂L_t/∂h_t into row a at its own step. The last row, alive at every step up to its loss, is the last
// loss's, and also gives that loss's weight gradients. (The core sweeps in blocks of 32 rows, so that a
// row's bits never depend on how many others there are; a row's numbers are the same math either way.)
//
// `from`: only the rows of the losses at steps ≥ from (the others are known, e.g. from a trace this one
// extends); each row is the same backward alone or among others.
export function* triangleSweep(trace, { from = 0 } = {}) {
  const { model, caches, tokens, probs, expected, logits } = trace;
  const { spec, layers: L, hiddenSize: H, layerParams } = model;
  const T = tokens.length;
  const lossSteps = expected.flatMap((e, t) => (e === null || t < from ? [] : [t]));
  const R = lossSteps.length;
  const hidden = Array.from({ length: L }, () => new Float64Array(R * T).fill(NaN));
  const cell = spec.hasCell ? Array.from({ length: L }, () => new Float64Array(R * T).fill(NaN)) : null;
  // backprop through softmax cross-entropy: ∂L_t/∂logits = p − onehot(expected) (V,); a forecaster's
  // squared error: z − x
  const dlogitsAt = (t) => {
    if (model.kind === 'forecaster') return Float64Array.of(logits[t][0] - expected[t]);
    const d = probs[t].slice();
    d[expected[t]] -= 1;
    return d;
  };

  const dhNext = Array.from({ length: L }, () => new Float64Array(R * H));
  const dcNext = Array.from({ length: L }, () => (spec.hasCell ? new Float64Array(R * H) : null));
  // The last loss's weight gradients, summed over the steps its row is alive.
  const params = R > 0 ? zeroGrads(model) : null;
  const attribution = R > 0 ? new Float64Array(T) : null;
  let a = R; // first alive row
  for (let t = T - 1; t >= 0; t--) {
    while (a > 0 && lossSteps[a - 1] >= t) a -= 1;
    const n = R - a;
    // the decoder's share, into row a only at the top layer: (p − onehot)·W_dec (H,)
    let dFromAbove = a < R && lossSteps[a] === t ? model.decodeBackward(dlogitsAt(t)) : null;
    let aboveRows = 1;
    for (let l = L - 1; l >= 0; l--) {
      const p = layerParams[l];
      const dh = dhNext[l].slice(a * H, R * H); // (n, H)
      if (dFromAbove !== null) for (let x = 0; x < aboveRows * H; x++) dh[x] += dFromAbove[x];
      const dc = dcNext[l] !== null ? dcNext[l].subarray(a * H, R * H) : null;
      const g = stepBackward(spec, p, caches[l][t], dh, dc, n);
      for (let r = 0; r < n; r++) {
        hidden[l][(a + r) * T + t] = Math.sqrt(sumSquares(dh, r * H, (r + 1) * H));
        if (cell !== null) cell[l][(a + r) * T + t] = Math.sqrt(sumSquares(g.dc, r * H, (r + 1) * H));
      }
      dhNext[l].set(g.dhPrev, a * H);
      if (g.dcPrev !== null) dcNext[l].set(g.dcPrev, a * H);
      if (l > 0) {
        // backprop into the layer below: d_pre·W_ih (n, H)
        dFromAbove = mulAdd(new Float64Array(n * p.nIn), g.dIh, n, p.GH, p.weight_ih_T, p.nIn);
        aboveRows = n;
      }
      if (params !== null && n > 0) {
        // the last row's share of this step: Σ_t d_preᵀ · input_t, and into the embedding row looked up
        const last = (n - 1) * p.GH;
        const dIh = g.dIh.subarray(last, last + p.GH);
        const dHh = g.dHh.subarray(last, last + p.GH);
        const x = l === 0 ? model.input(model.inputKey(tokens[t])) : caches[l - 1][t].h;
        addOuter(params.get(`layers.${l}.weight_ih`), dIh, x);
        addOuter(params.get(`layers.${l}.weight_hh`), dHh, caches[l][t].hPrev);
        addInto(params.get(`layers.${l}.bias_ih`), dIh);
        addInto(params.get(`layers.${l}.bias_hh`), dHh);
        for (const [name, d] of Object.entries(g.dpeep)) {
          addInto(params.get(`layers.${l}.${name}`), d.subarray((n - 1) * H, n * H));
        }
        if (l === 0) {
          const dx = mulAdd(new Float64Array(p.nIn), dIh, 1, p.GH, p.weight_ih_T, p.nIn); // d_pre·W_ih (I,)
          model.inputBackward(tokens[t].id, dx, params);
          let s = 0;
          for (let k = 0; k < p.nIn; k++) s += dx[k] * x[k];
          attribution[t] = s;
        }
      }
    }
    yield t;
  }
  const paramStep = R > 0 ? lossSteps[R - 1] : null;
  if (params !== null) model.decodeBackward(dlogitsAt(paramStep), caches[L - 1][paramStep].h, params);
  return { lossSteps, hidden, cell, params, paramStep, attribution };
}

// Zero gradients in the shape of every parameter.
function zeroGrads(model) {
  return new Map([...model.params].map(([name, data]) => [name, new Float64Array(data.length)]));
}

function addInto(acc, d) {
  for (let k = 0; k < d.length; k++) acc[k] += d[k];
}
