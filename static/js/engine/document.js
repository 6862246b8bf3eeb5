// The trace document, as app/nn/document.py's `document()` builds it: the very keys, order and structure
// `POST /api/trace` returns, numbers rounded to 7 significant digits the way the core rounds them, so a
// view cannot tell a trace computed here from one the server sent. `digits: null` keeps every number at
// full precision (the parity tests compare those).

import { unapplied } from './interventions.js';
import { sumSquares } from './linalg.js';

export const TOP_K = 10;

// 10^k as the nearest double (what NumPy's power gives up to 10^105), for every k a double can round to.
const POW10 = Array.from({ length: 700 }, (_, k) => Number(`1e${k - 350}`));
const pow10 = (k) => POW10[k + 350];

// numpy.round: half to even.
function roundHalfEven(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// Round to `digits` significant digits, as app/nn/document.py's round_sig: divide by an exact power of ten
// (or multiply, for huge values) so the result is the nearest double to the rounded decimal.
export function roundSig(x, digits = 7) {
  let e = Math.floor(Math.log10(Math.abs(x)));
  if (!Number.isFinite(e)) e = 0;
  const k = digits - 1 - e; // decimal places to keep
  if (k >= 0) {
    const up = pow10(k);
    return roundHalfEven(x * up) / up;
  }
  const down = pow10(-k);
  return roundHalfEven(x / down) * down;
}

// x → x rounded to `digits` significant digits, or x itself for `digits: null`.
export function rounder(digits = 7) {
  return digits === null ? (x) => x : (x) => roundSig(x, digits);
}

// One vector (H,) → a plain list, rounded.
const list = (a, round) => Array.from(a, round);

// The K likeliest tokens of a distribution, likeliest first, ties in vocabulary order (numpy's stable
// argsort of −p), found in one pass over the vocabulary.
function topK(p, K) {
  const best = [];
  for (let v = 0; v < p.length; v++) {
    if (best.length === K && !(p[v] > p[best[K - 1]])) continue;
    let at = best.length < K ? best.length : K - 1;
    while (at > 0 && p[v] > p[best[at - 1]]) at -= 1;
    best.splice(at, 0, v);
    if (best.length > K) best.pop();
  }
  return best;
}

// gate → the units clamped at this step, for the gates clamped at all
function clamped(spec, cache) {
  const out = {};
  for (const g of spec.gates) {
    const free = cache.free[g];
    if (!free) continue;
    out[g] = [];
    free.forEach((x, k) => x === 0 && out[g].push(k));
  }
  return out;
}

// `steps` of the document: each layer's quantities, the top next tokens, the expected token, the loss.
// `from`: only the steps from that one on.
export function stepRecords(trace, round, from = 0) {
  const { model, caches, probs, expected, losses } = trace;
  const { spec, vocab, kind } = model;
  const { mean, scale } = model.normalisation;
  return trace.tokens.slice(from).map((_, k) => {
    const t = from + k;
    const layers = caches.map((layer) => {
      const cache = layer[t];
      return {
        gates: Object.fromEntries(spec.gates.map((g) => [g, list(cache.act[g], round)])),
        preactivations: Object.fromEntries(Object.entries(cache.pre).map(([g, v]) => [g, list(v, round)])),
        cell: cache.c !== null ? list(cache.c, round) : null,
        tanh_cell: cache.tanhC !== null ? list(cache.tanhC, round) : null,
        hidden: list(cache.h, round),
        clamped: trace.interventions.length ? clamped(spec, cache) : {},
      };
    });
    const e = expected[t];
    const loss = e === null ? null : round(losses[t]);
    if (kind === 'forecaster') {
      const value = round(mean + scale * trace.logits[t][0]);
      return { layers, forecast: { value, expected: e === null ? null : round(mean + scale * e) }, loss };
    }
    if (kind === 'classifier') {
      // every class, highest first, ties to the lower id (numpy's stable argsort of −p)
      const order = [...probs[t].keys()].sort((a, b) => probs[t][b] - probs[t][a] || a - b);
      return {
        layers,
        classes: order.map((k) => ({ label: model.classes[k], p: round(probs[t][k]) })),
        expected: e === null ? null : { token: model.classes[e], id: e, p: round(probs[t][e]) },
        loss,
      };
    }
    return {
      layers,
      top: topK(probs[t], TOP_K).map((k) => ({ token: vocab[k], p: round(probs[t][k]) })),
      expected: e === null ? null : { token: vocab[e], id: e, p: round(probs[t][e]) },
      loss,
    };
  });
}

export function gradientsRecord(trace, round) {
  const tri = trace.triangle;
  if (tri === null) return null;
  const T = trace.tokens.length;
  const row = new Map(tri.lossSteps.map((t, r) => [t, r]));
  // (R, T) → per step t the norms of L_t against k = 0..t, or null where L_t is not defined
  const rows = (a) =>
    Array.from({ length: T }, (_, t) => {
      if (!row.has(t)) return null;
      const begin = row.get(t) * T;
      return list(a.subarray(begin, begin + t + 1), round);
    });
  return {
    layers: tri.hidden.map((h, l) => ({ hidden: rows(h), cell: tri.cell !== null ? rows(tri.cell[l]) : null })),
    params: paramNorms(trace.model, tri, round),
  };
}

// ‖∂L_t/∂W‖ per layer and per gate block (input and recurrent weights, both biases together).
export function paramNorms(model, tri, round) {
  if (tri.params === null) return null;
  const g = tri.params;
  const H = model.hiddenSize;
  const norm = (s) => (Number.isFinite(s) ? round(Math.sqrt(s)) : null);
  const layers = model.layerParams.map((p, l) => {
    const blocks = {};
    const part = (name, k, width) => sumSquares(g.get(`layers.${l}.${name}`), k * H * width, (k + 1) * H * width);
    model.spec.blocks.forEach((name, k) => {
      blocks[name] = {
        weight_ih: norm(part('weight_ih', k, p.nIn)),
        weight_hh: norm(part('weight_hh', k, H)),
        bias: norm(part('bias_ih', k, 1) + part('bias_hh', k, 1)),
      };
      const peep = g.get(`layers.${l}.peephole_${name}`);
      if (peep) blocks[name].peephole = norm(sumSquares(peep));
    });
    return blocks;
  });
  return {
    step: tri.paramStep,
    layers,
    embedding: g.has('embedding.weight') ? norm(sumSquares(g.get('embedding.weight'))) : null,
    decoder: norm(sumSquares(g.get('decoder.weight')) + sumSquares(g.get('decoder.bias'))),
    attribution: tri.attribution === null ? null : list(tri.attribution, round),
  };
}

// The document's `model`: a language model's as it always was, a classifier's with its classes, a
// forecaster's with its normalisation (app/nn/document.py model_record).
function modelRecord(m) {
  const record = {
    id: m.id, arch: m.arch, layers: m.layers, input_size: m.inputSize,
    hidden_size: m.hiddenSize, tokenizer: m.tokenizer.kind,
  }; // prettier-ignore
  if (m.kind === 'classifier') Object.assign(record, { task_kind: m.kind, classes: [...m.classes] });
  if (m.kind === 'forecaster') Object.assign(record, { task_kind: m.kind, normalisation: { ...m.normalisation } });
  return record;
}

// The trace document served by `lstm-explainer trace --json` and the HTTP API. (Not named `document`, as
// the core's function is, so that it never shadows the page's.)
// (`from`: the steps from that one on only, for a page that holds the steps before.)
export function buildDocument(trace, { digits = 7, from = 0 } = {}) {
  const m = trace.model;
  const round = rounder(digits);
  return {
    model: modelRecord(m),
    tokens: trace.tokens.map((tok) => ({
      text: tok.text, id: tok.id, unknown: tok.unknown, join: tok.join, ...('value' in tok ? { value: tok.value } : {}),
    })), // prettier-ignore
    target:
      trace.target === null
        ? null
        : { text: trace.target.text, id: trace.target.id, ...('value' in trace.target ? { value: trace.target.value } : {}) },
    steps: stepRecords(trace, round, from),
    gradients: gradientsRecord(trace, round),
    interventions: trace.interventions.map((iv) => ({ ...iv, units: iv.units === null ? null : [...iv.units] })),
    notices: unapplied(trace.interventions, trace.tokens.length), // what was left out and why
  }; // prettier-ignore
}
