// Interventions: clamp a gate of a layer to a constant, on some units, over a range of steps — parsed,
// checked and applied exactly as app/nn/interventions.py does, with the same error codes and messages.
//
//     {"gate": "forget", "value": 1.0, "layer": 0, "units": [3, 7] | null, "start": 2 | null, "stop": 9 | null}
//
// The range is [start, stop) like a Python slice; a missing end is open. Later interventions win where two
// clamp the same unit of the same gate at the same step. A range that covers no step of the text clamps
// nothing; `unapplied` says so for the trace's notices.

import { gateRange } from './cells.js';
import { TraceInputError, pyRepr } from './errors.js';

const FIELDS = ['gate', 'value', 'layer', 'units', 'start', 'stop'];

const bad = (message) => new TraceInputError('bad_intervention', message);

// Python's `{x:g}` for the small round numbers a gate range holds.
const g = (x) => String(x);

// A Python int: a JSON number without a fraction (booleans are not numbers here, as in the core).
function int(name, value, where) {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw bad(`${where}: '${name}' must be an integer or null, not ${pyRepr(value)}`);
  }
  return value;
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// Validate one intervention against a model's architecture; errors say what to change.
export function parseIntervention(raw, spec, layers, hiddenSize, index = 0) {
  const where = `intervention ${index}`;
  if (!isObject(raw)) throw bad(`${where} must be an object like {'gate': 'forget', 'value': 1.0}, not ${pyRepr(raw)}`);
  const extra = Object.keys(raw).filter((k) => !FIELDS.includes(k)).sort();
  if (extra.length) throw bad(`${where}: unknown field(s) ${pyRepr(extra)}; allowed: ${pyRepr(FIELDS)}`);
  const gate = raw.gate ?? null;
  if (!spec.gates.length) throw bad(`${where}: a plain ${spec.arch.toUpperCase()} has no gates to clamp`);
  if (!spec.gates.includes(gate)) {
    throw bad(`${where}: ${spec.arch} has no gate ${pyRepr(gate)}; its gates are ${pyRepr(spec.gates)}`);
  }
  const value = raw.value ?? null;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw bad(`${where}: 'value' must be a finite number, not ${pyRepr(value)}`);
  }
  const [lo, hi] = gateRange(gate);
  if (!(lo <= value && value <= hi)) {
    throw bad(`${where}: the ${gate} gate lives in [${g(lo)}, ${g(hi)}]; ${pyRepr(value)} is outside it`);
  }
  const layer = int('layer', 'layer' in raw ? raw.layer : 0, where) || 0;
  if (!(layer >= 0 && layer < layers)) {
    throw bad(`${where}: layer ${layer} does not exist; this model has layers 0..${layers - 1}`);
  }
  let units = raw.units ?? null;
  if (units !== null) {
    if (!Array.isArray(units) || !units.length) {
      throw bad(`${where}: 'units' must be a non-empty list of unit indices or null (all units)`);
    }
    const checked = units.map((u) => int('units', u, where));
    const outside = checked.filter((u) => u === null || !(u >= 0 && u < hiddenSize));
    if (outside.length) {
      throw bad(`${where}: unit ${pyRepr(outside[0])} is out of range; units are 0..${hiddenSize - 1}`);
    }
    units = [...new Set(checked)].sort((a, b) => a - b);
  }
  const start = int('start', raw.start, where);
  const stop = int('stop', raw.stop, where);
  if ((start !== null && start < 0) || (stop !== null && stop < 0)) {
    throw bad(`${where}: 'start' and 'stop' are step indices and cannot be negative`);
  }
  return { gate, value, layer, units, start, stop };
}

// A notice for each intervention that covers none of the text's `steps` steps, saying why (the core's
// `unapplied`): a range that is empty for this text is applied to nothing rather than refused.
export function unapplied(interventions, steps) {
  const notices = [];
  interventions.forEach((iv, k) => {
    const start = iv.start ?? 0;
    let why = null;
    if (iv.stop !== null && iv.stop <= start) why = `its stop (step ${iv.stop}) is not after its start (step ${start})`;
    else if (start >= steps) why = `it starts at step ${start} and this text's last step is ${steps - 1}`;
    if (why) notices.push(`intervention ${k} (${iv.gate} gate) clamps nothing: ${why}`);
  });
  return notices;
}

export function parseInterventions(raw, spec, layers, hiddenSize) {
  if (raw === null || raw === undefined) return [];
  if (!Array.isArray(raw)) throw bad("'interventions' must be a list of intervention objects");
  return raw.map((r, k) => parseIntervention(r, spec, layers, hiddenSize, k));
}

const covers = (iv, t) => (iv.start === null || t >= iv.start) && (iv.stop === null || t < iv.stop);

// Per layer and step, each clamped gate's {free mask (H,) of 0/1, constant values (H,)}; null where nothing
// is clamped (and null altogether without interventions).
export function stepClamps(interventions, layers, steps, hiddenSize) {
  if (!interventions.length) return null;
  const out = Array.from({ length: layers }, () => new Array(steps).fill(null));
  for (let t = 0; t < steps; t++) {
    for (const iv of interventions) {
      if (!covers(iv, t)) continue;
      const clamp = (out[iv.layer][t] ??= {});
      const held = clamp[iv.gate];
      const free = held ? held.free.slice() : new Float64Array(hiddenSize).fill(1);
      const value = held ? held.value.slice() : new Float64Array(hiddenSize);
      for (const u of iv.units ?? free.keys()) {
        free[u] = 0;
        value[u] = iv.value;
      }
      clamp[iv.gate] = { free, value };
    }
  }
  return out;
}
