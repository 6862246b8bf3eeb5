// The trace document in the browser: the one module that knows its shape (app/nn/document.py is its
// Python counterpart; docs/protocol.md specifies both). It decodes the socket's binary frames, assembles
// them into the same object a JSON document gives (`fromDocument`), and answers what views ask about a
// trace: the memory vector (archs.js names which one), the cell scale's range, kept and written, the loss
// step, the top tokens, gradient rows.
//
// A trace object: {id, request, stream, model, tokens, target, interventions, notices, steps[], gradients,
// done, complete, ms}. steps[t] = {layers: [{gates, preactivations, cell, tanh_cell, hidden, clamped}],
// top: [{token, p}], expected: {token, id, p} | null, loss}; a classifier's steps have `classes`
// [{label, p}] (every class, highest first) instead of `top` and an `expected` label at the last step only,
// a forecaster's `forecast` {value, expected} instead of `top` and `expected` (see taskKind). From frames the vectors are Float32Array views
// (gradient rows Float64Array); from a JSON document they are arrays. Read them by index or with for…of:
// a typed array's .map returns a typed array, Array.isArray is false, and spreading a long one into
// Math.max(...) can overflow the stack.

import { family, memoryOf, memoryScale, memorySymbol } from './archs.js';
import { niceRange } from './colors.js';

export const FRAME = { headerBytes: 24, magic: 0x3154584c, steps: 1, pre: 2, rows: 3 }; // "LXT1" little-endian

export function emptyTrace(id, request) {
  return {
    id,
    request,
    stream: null,
    model: null,
    tokens: [],
    target: null,
    interventions: [],
    notices: [],
    steps: [],
    gradients: null,
    done: false,
    complete: false,
    ms: null,
  };
}

// ------------------------------------------------------------------------------------------ decoding
// A binary frame's header and its numbers, viewed in place (no copy).
export function parseFrame(buffer) {
  const head = new DataView(buffer, 0, FRAME.headerBytes);
  if (head.getUint32(0, true) !== FRAME.magic) throw new Error('not a trace frame');
  const dtype = head.getUint16(10, true);
  const n = head.getUint32(20, true);
  const values = dtype === 1 ? new Float64Array(buffer, FRAME.headerBytes, n) : new Float32Array(buffer, FRAME.headerBytes, n);
  return {
    stream: head.getUint32(4, true),
    kind: head.getUint16(8, true),
    first: head.getUint32(12, true),
    count: head.getUint32(16, true),
    values,
  };
}

// The layout's field names, parsed once per meta: [{path: ['layers', l, 'gates', g] …, at, size}].
function offsets(fields) {
  let at = 0;
  return fields.map(({ name, size }) => {
    const f = { name, path: name.split('.'), at, size };
    at += size ?? 0;
    return f;
  });
}

// The units each gate of layer l has clamped at step t, from the interventions (not sent: derived).
export function clampedUnits(interventions, l, t, H) {
  const out = {};
  for (const iv of interventions) {
    if ((iv.layer ?? 0) !== l) continue;
    if ((iv.start ?? null) !== null && t < iv.start) continue;
    if ((iv.stop ?? null) !== null && t >= iv.stop) continue;
    const units = out[iv.gate] ?? new Set();
    for (const u of iv.units ?? Array.from({ length: H }, (_, j) => j)) units.add(u);
    out[iv.gate] = units;
  }
  for (const g of Object.keys(out)) out[g] = [...out[g]].sort((a, b) => a - b);
  return out;
}

// The expected token after step t: the next token, or the target after the last.
function expectedToken(trace, t) {
  const next = t + 1 < trace.tokens.length ? trace.tokens[t + 1] : trace.target;
  return next ?? null;
}

function tanhOf(v) {
  const out = new Float32Array(v.length);
  for (let j = 0; j < v.length; j += 1) out[j] = Math.tanh(v[j]);
  return out;
}

// meta → the trace's shape. With `base` (the trace the meta says it extends) its first `keep` steps and
// `keep_rows` gradient rows are taken over: the server sends only the rest.
export function applyMeta(trace, msg, base = null) {
  Object.assign(trace, {
    stream: msg.stream,
    model: msg.model,
    tokens: msg.tokens,
    target: msg.target ?? null,
    interventions: msg.interventions ?? [],
    notices: msg.notices ?? [],
  });
  // The decoder's own state: not part of the document, so not enumerable (a copy of the trace drops it).
  const hidden = (value) => ({ value, writable: true, configurable: true, enumerable: false });
  Object.defineProperties(trace, {
    layout: hidden({ step: offsets(msg.layout.step), pre: offsets(msg.layout.pre), row: msg.layout.row }),
    vocab: hidden(new Map([...(base?.vocab ?? []), ...Object.entries(msg.vocab ?? {}).map(([k, v]) => [Number(k), v])])),
    keep: hidden(base ? (msg.keep ?? 0) : 0),
    labels: hidden(msg.model.classes ?? []), // a classifier's classes, in the frames' `classes.p` order
  });
  const T = trace.tokens.length;
  const keep = trace.keep;
  const keepRows = base ? (msg.keep_rows ?? keep) : 0;
  trace.steps = base ? base.steps.slice(0, keep) : [];
  if (msg.gradients) {
    const L = msg.model.layers;
    const cells = msg.layout.row.some((f) => f.name.endsWith('.cell'));
    trace.gradients = {
      layers: Array.from({ length: L }, (_, l) => {
        const b = base?.gradients?.layers[l];
        const keptRows = (rows) => Array.from({ length: T }, (_, t) => (t < keepRows ? rows?.[t] : undefined));
        return { hidden: keptRows(b?.hidden), cell: cells ? keptRows(b?.cell) : null };
      }),
      params: null,
    };
  } else {
    trace.gradients = null;
  }
  return trace;
}

function newStep(trace, t) {
  const { layers, hidden_size: H } = trace.model;
  const e = expectedToken(trace, t);
  const kind = taskKind(trace);
  const layerRecords = Array.from({ length: layers }, (_, l) => ({
    gates: {},
    preactivations: {},
    cell: null,
    tanh_cell: null,
    hidden: null,
    clamped: trace.interventions.length ? clampedUnits(trace.interventions, l, t, H) : {},
  }));
  if (kind === 'forecaster') return { layers: layerRecords, forecast: { value: null, expected: null }, loss: null };
  if (kind === 'classifier') {
    const last = t === trace.tokens.length - 1 && trace.target;
    const expected = last ? { token: trace.target.text, id: trace.target.id, p: null } : null;
    return { layers: layerRecords, classes: [], expected, loss: null };
  }
  return {
    layers: layerRecords,
    top: [],
    // the target is a whole word (its pieces' product), named by its text; a next token by its vocabulary entry
    expected: e ? { token: e === trace.target ? e.text : (trace.vocab.get(e.id) ?? e.text), id: e.id, p: null } : null,
    loss: null,
  };
}

// One binary frame into the trace it belongs to (the caller matched `stream`). Returns the frame's kind
// and the last step or row it filled.
export function applyFrame(trace, frame) {
  const { kind, first, count, values } = frame;
  if (kind === FRAME.steps || kind === FRAME.pre) {
    const fields = kind === FRAME.steps ? trace.layout.step : trace.layout.pre;
    const size = fields.reduce((n, f) => n + f.size, 0);
    for (let i = 0; i < count; i += 1) {
      const t = first + i;
      const rec = values.subarray(i * size, (i + 1) * size);
      if (kind === FRAME.steps) trace.steps[t] = stepFrom(trace, t, fields, rec);
      else if (trace.steps[t]) for (const f of fields) put(trace.steps[t], f, rec.subarray(f.at, f.at + f.size));
    }
  } else if (kind === FRAME.rows && trace.gradients) {
    let at = 0;
    for (let t = first; t < first + count; t += 1) {
      for (const f of trace.layout.row) {
        const row = values.subarray(at, at + t + 1);
        at += t + 1;
        const [, l, which] = f.name.split('.');
        const layer = trace.gradients.layers[Number(l)];
        if (layer[which]) layer[which][t] = Number.isNaN(row[0]) && trace.steps[t]?.loss === null ? null : row;
      }
    }
  }
  return { kind, last: first + count - 1 };
}

function put(step, f, v) {
  const [, l, group, name] = f.path;
  const layer = step.layers[Number(l)];
  if (group === 'preactivations') layer.preactivations[name] = v;
}

function stepFrom(trace, t, fields, rec) {
  const step = newStep(trace, t);
  let topIds = null;
  let topP = null;
  for (const f of fields) {
    const v = rec.subarray(f.at, f.at + f.size);
    const [head, l, group, name] = f.path;
    if (head === 'layers') {
      const layer = step.layers[Number(l)];
      if (group === 'gates') layer.gates[name] = v;
      else if (group === 'cell') {
        layer.cell = v;
        layer.tanh_cell = tanhOf(v); // derived, not sent
      } else if (group === 'hidden') layer.hidden = v;
    } else if (f.name === 'top.id') topIds = v;
    else if (f.name === 'top.p') topP = v;
    else if (f.name === 'expected.p') {
      if (step.expected) step.expected.p = v[0];
    } else if (f.name === 'loss') step.loss = Number.isNaN(v[0]) ? null : v[0];
    else if (f.name === 'classes.p') step.classes = Array.from(v, (p, k) => ({ label: trace.labels?.[k], p })).sort((a, b) => b.p - a.p);
    else if (f.name === 'forecast.value') step.forecast.value = v[0];
    else if (f.name === 'forecast.expected') step.forecast.expected = Number.isNaN(v[0]) ? null : v[0];
  }
  if (topIds) step.top = Array.from(topIds, (id, k) => ({ token: trace.vocab.get(id), p: topP[k] }));
  return step;
}

export function applyParams(trace, params) {
  if (trace.gradients) trace.gradients.params = params;
}

// A JSON document (POST /api/trace, an exported page, the in-browser engine) as a trace object.
export function fromDocument(doc, { id = null, request = null } = {}) {
  return {
    ...emptyTrace(id, request),
    model: doc.model,
    tokens: doc.tokens,
    target: doc.target ?? null,
    interventions: doc.interventions ?? [],
    notices: doc.notices ?? [],
    steps: doc.steps,
    gradients: doc.gradients ?? null,
    done: true,
    complete: true,
    ms: 0,
  };
}

// Whether two traces of one request show the same steps: every number the two both hold (gates, states,
// predictions, losses) equal to `rtol` relative (float32 frames against a document rounded to 7 digits
// agree to ~1e-7). The gradients are not compared: only a server's trace has them.
export function sameSteps(a, b, rtol = 1e-5) {
  const close = (x, y) => {
    if (typeof x === 'number' && typeof y === 'number') {
      return Math.abs(x - y) <= rtol * Math.max(Math.abs(x), Math.abs(y), 1e-6);
    }
    const listy = (v) => Array.isArray(v) || ArrayBuffer.isView(v);
    if (listy(x) && listy(y)) {
      if (x.length !== y.length) return false;
      for (let k = 0; k < x.length; k++) if (!close(x[k], y[k])) return false;
      return true;
    }
    if (x && y && typeof x === 'object' && typeof y === 'object') {
      for (const key of Object.keys(x)) if (key in y && !close(x[key], y[key])) return false;
      return true;
    }
    return x === y;
  };
  return a.steps.length === b.steps.length && a.steps.every((s, t) => b.steps[t] && close(s, b.steps[t]));
}

// A trace object as the JSON document (plain arrays, null for NaN in gradient rows): what getTrace() and
// the tests compare.
export function toDocument(trace) {
  const plain = (v) => (ArrayBuffer.isView(v) ? Array.from(v) : v);
  const nulls = (row) => (row ? Array.from(row, (x) => (Number.isNaN(x) ? null : x)) : row ?? null);
  const obj = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, plain(v)]));
  return {
    model: trace.model,
    tokens: trace.tokens,
    target: trace.target,
    steps: trace.steps.map((s) => ({
      ...s,
      layers: s.layers.map((L) => ({
        ...L,
        gates: obj(L.gates),
        preactivations: obj(L.preactivations),
        cell: plain(L.cell),
        tanh_cell: plain(L.tanh_cell),
        hidden: plain(L.hidden),
      })),
    })),
    gradients: trace.gradients && {
      layers: trace.gradients.layers.map((g) => ({
        hidden: Array.from(g.hidden, nulls),
        cell: g.cell ? Array.from(g.cell, nulls) : null,
      })),
      params: trace.gradients.params,
    },
    interventions: trace.interventions,
    notices: trace.notices,
  };
}

// ------------------------------------------------------------------------------------------ accessors
// Which vector is the memory ('cell' or 'hidden'): the server's vocabulary says (archs.js).
export { memoryOf };

// The memory vector of layer l at step t.
export function memoryAt(trace, t, l) {
  return trace.steps[t]?.layers[l]?.[memoryOf(trace.model.arch)] ?? null;
}

// The unit with the strongest memory at the last step received: the unit a view shows when none is chosen.
export function strongestUnit(trace, l) {
  const v = trace ? memoryAt(trace, trace.steps.length - 1, l) : null;
  if (!v) return null;
  let best = 0;
  v.forEach((x, j) => {
    if (Math.abs(x) > Math.abs(v[best])) best = j;
  });
  return best;
}

// The symmetric range of the cell scale: the largest |memory| of layer l over the steps received, made
// readable (colors.js niceRange), for an arch whose memory is on that scale (archs.js: the LSTM family's
// cell, an IRNN's unbounded hidden state); 1 otherwise.
export function cellRange(trace, l) {
  const arch = trace.model.arch;
  if (memoryScale(arch) !== 'cell') return 1;
  const key = memoryOf(arch);
  let m = 0;
  for (const s of trace.steps) {
    const v = s?.layers[l]?.[key];
    if (v) for (const x of v) m = Math.max(m, Math.abs(x));
  }
  return niceRange(m);
}

// tanh of the cell (sent in JSON documents, derived from frames).
export function tanhCell(layerStep) {
  return layerStep.tanh_cell ?? (layerStep.cell ? tanhOf(layerStep.cell) : null);
}

// What the memory keeps and what it writes at step t of layer l: f⊙c_{t−1} and i⊙c̃ (LSTM family),
// z⊙h_{t−1} and (1−z)⊙h̃ (GRU); null for a plain RNN. `result` is the new memory.
export function keptWritten(trace, t, l) {
  const cur = trace.steps[t]?.layers[l];
  if (!cur) return null;
  const prev = t > 0 ? trace.steps[t - 1]?.layers[l] : null;
  const fam = family(trace.model.arch);
  const H = cur.hidden.length;
  const g = cur.gates;
  const kept = new Float32Array(H);
  const written = new Float32Array(H);
  if (fam === 'lstm') {
    for (let j = 0; j < H; j += 1) {
      kept[j] = g.forget[j] * (prev ? prev.cell[j] : 0);
      written[j] = g.input[j] * g.candidate[j];
    }
    return { kept, written, result: cur.cell };
  }
  if (fam === 'gru') {
    for (let j = 0; j < H; j += 1) {
      kept[j] = g.update[j] * (prev ? prev.hidden[j] : 0);
      written[j] = (1 - g.update[j]) * g.candidate[j];
    }
    return { kept, written, result: cur.hidden };
  }
  return null;
}

// What a cell diagram draws for step t of layer l: the step's layer record, the one before it and the
// layer below (its input), with the clamps of that layer.
export function diagramFrame(trace, t, l, clamps) {
  const step = trace.steps[t];
  return {
    t,
    T: trace.tokens.length,
    token: trace.tokens[t],
    layer: l,
    layers: trace.model.layers,
    cur: step.layers[l],
    prev: t > 0 ? trace.steps[t - 1]?.layers[l] : null,
    below: l > 0 ? step.layers[l - 1] : null,
    clamps,
  };
}

// The step whose loss a gradient view shows for step t: t itself, or the nearest earlier step with a
// loss (the last step has none without a target). null when no step up to t has one.
export function lossStep(trace, t) {
  for (let k = t; k >= 0; k -= 1) if (trace.steps[k] && trace.steps[k].loss !== null) return k;
  return null;
}

// What the model's output means: 'language-model' (the next token), 'classifier' (a label, read at every
// step) or 'forecaster' (the next value of a series).
export function taskKind(trace) {
  return trace?.model?.task_kind ?? 'language-model';
}

// A classifier's reading after step t, every class highest first: [{label, p}].
export function classesOf(trace, t) {
  return trace.steps[t]?.classes ?? [];
}

// A forecaster's forecast after step t, in the series' units: {value, expected | null} | null.
export function forecastOf(trace, t) {
  return trace.steps[t]?.forecast ?? null;
}

// The last loss's gradient × input per token (which words or values its verdict leans on) and the step
// of that loss: {step, values} | null (no loss, or not received yet).
export function attributionOf(trace) {
  const p = trace?.gradients?.params;
  return p?.attribution ? { step: p.step, values: p.attribution } : null;
}

// The likeliest next tokens after step t, highest first: [{token, p}].
export function topTokens(trace, t) {
  return trace.steps[t]?.top ?? [];
}

// The token scored after step t (the next one, or the target), with its p: {token, id, p} | null.
export function expectedOf(trace, t) {
  return trace.steps[t]?.expected ?? null;
}

// Gradient row t of layer l: ‖∂L_t/∂h_k‖ (which 'hidden') or ‖∂L_t/∂c_k‖ ('cell') for k = 0..t.
// undefined: not received yet (ask the socket's view for it); null: L_t is undefined.
export function gradientRow(trace, l, t, which = 'hidden') {
  const layer = trace.gradients?.layers?.[l];
  if (!layer || !layer[which]) return null;
  return layer[which][t];
}

// The gradient rows of the memory (cell for the LSTM family, hidden otherwise), with its symbol.
export function memoryRows(trace, l) {
  const g = trace?.gradients?.layers?.[l];
  if (!g) return { rows: null, symbol: null };
  const key = memoryOf(trace.model.arch);
  return g[key] ? { rows: g[key], symbol: memorySymbol(trace.model.arch) } : { rows: g.hidden, symbol: 'h' };
}
