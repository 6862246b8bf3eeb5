// Model directories, as app/nn/files.py: `model.json` (the card) beside `weights.safetensors`, read and
// checked as the core checks them, with the core's messages, so a page refuses what the server refuses.

import { ARCHS } from './cells.js';
import { ModelFileError, pyRepr } from './errors.js';
import { Model, paramShapes } from './model.js';
import { tokenizerFromCard } from './tokenizer.js';

export const CARD = 'model.json';
export const WEIGHTS = 'weights.safetensors';

// -- tensors ---------------------------------------------------------------------------------------------
// A .safetensors file: an 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape,
// data_offsets: [begin, end]}, "__metadata__"?: {...}}, then the tensors' bytes (offsets relative to the
// end of the header). Every float dtype is widened to float64, the precision the engine computes in.
// Integer dtypes are read as such for `validate` to refuse by name (their `data` is null).
const FLOAT_BYTES = { F64: 8, F32: 4, F16: 2, BF16: 2 };
const INT_DTYPES = {
  I64: ['int64', 8], I32: ['int32', 4], I16: ['int16', 2], I8: ['int8', 1], U8: ['uint8', 1], BOOL: ['bool', 1],
}; // prettier-ignore
const MAX_HEADER_BYTES = 100_000_000; // safetensors' own limit

// IEEE half precision → double: sign, 5-bit exponent, 10-bit fraction (subnormals and inf/NaN included).
function halfToDouble(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

// bfloat16 is the top half of a float32: put its bits there and read the float32.
const bfScratch = new DataView(new ArrayBuffer(4));
function bfloatToDouble(bits) {
  bfScratch.setUint32(0, bits << 16, true);
  return bfScratch.getFloat32(0, true);
}

function widen(view, dtype, count) {
  const out = new Float64Array(count);
  if (dtype === 'F64') for (let k = 0; k < count; k++) out[k] = view.getFloat64(8 * k, true);
  else if (dtype === 'F32') for (let k = 0; k < count; k++) out[k] = view.getFloat32(4 * k, true);
  else if (dtype === 'F16') for (let k = 0; k < count; k++) out[k] = halfToDouble(view.getUint16(2 * k, true));
  else for (let k = 0; k < count; k++) out[k] = bfloatToDouble(view.getUint16(2 * k, true));
  return out;
}

const isCount = (d) => Number.isInteger(d) && d >= 0;

// `buffer` (an ArrayBuffer) → Map(name → {dtype, shape, data: Float64Array | null}), checked as it is read:
// every tensor's byte range must lie in the file and match its shape. `name` is the file's, for messages.
export function readSafetensors(buffer, name = WEIGHTS) {
  const bad = (why) => new ModelFileError(`${name}: not a safetensors file (${why})`);
  if (buffer.byteLength < 8) throw bad(`only ${buffer.byteLength} bytes`);
  const head = new DataView(buffer, 0, 8);
  const n = head.getUint32(0, true) + head.getUint32(4, true) * 2 ** 32;
  if (!(n >= 2 && n <= Math.min(MAX_HEADER_BYTES, buffer.byteLength - 8))) {
    throw bad('its header length is not plausible');
  }
  let header;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(buffer, 8, n)));
  } catch {
    throw bad('its header is not JSON');
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw bad('its header is not a JSON object');
  const start = 8 + n;
  const bodyBytes = buffer.byteLength - start;
  const tensors = new Map();
  for (const [key, info] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    const { dtype, shape, data_offsets: offsets } = info ?? {};
    const [begin, end] = Array.isArray(offsets) && offsets.length === 2 ? offsets : [];
    if (!Array.isArray(shape) || ![...shape, begin, end].every(isCount) || !(begin <= end && end <= bodyBytes)) {
      throw new ModelFileError(`${name}: tensor ${pyRepr(key)} has a broken entry in the file's header`);
    }
    const tensor = `${name}: tensor ${pyRepr(key)}`;
    if (!(dtype in FLOAT_BYTES) && !(dtype in INT_DTYPES)) {
      throw new ModelFileError(`${tensor} is stored as ${dtype}; save it as float32 (or float16, bfloat16)`);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * (FLOAT_BYTES[dtype] ?? INT_DTYPES[dtype][1])) {
      throw new ModelFileError(`${tensor}: its byte range does not match its shape ${pyRepr(shape)}`);
    }
    const data = dtype in FLOAT_BYTES ? widen(new DataView(buffer, start + begin, end - begin), dtype, count) : null;
    tensors.set(key, { dtype: FLOAT_BYTES[dtype] ? dtype : INT_DTYPES[dtype][0], shape, data });
  }
  return tensors;
}

// -- the card --------------------------------------------------------------------------------------------
// JSON.parse, and what the core's parse_json refuses besides: integers past 64 bits, deep nesting. (NaN
// and infinities are not JSON to JSON.parse in the first place.)
const MAX_DEPTH = 32;
const MAX_INT = 2 ** 63 - 1;

export function parseJson(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`not valid JSON: ${err.message}`);
  }
  checkPlain(value, 0);
  return value;
}

function checkPlain(value, depth) {
  if (depth > MAX_DEPTH) throw new Error(`it is nested more than ${MAX_DEPTH} levels deep`);
  if (Number.isInteger(value) && !(Math.abs(value) <= MAX_INT)) {
    throw new Error(`the integer ${String(value).slice(0, 20)}… is larger than 64 bits`);
  }
  if (value && typeof value === 'object') for (const child of Object.values(value)) checkPlain(child, depth + 1);
}

// Python's `$` also matches before a final newline, so the core's ID_PATTERN does.
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\n?$/;
const ID_RULE = "1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit";
const MAX_LAYERS = 4;
const MAX_SIZE = 65536;

function typeName(value) {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return 'true/false';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number';
  if (typeof value === 'string') return 'a string';
  return Array.isArray(value) ? 'a list' : 'an object';
}

const KINDS = {
  string: (v) => typeof v === 'string',
  integer: (v) => Number.isInteger(v),
  object: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
  list: (v) => Array.isArray(v),
};

function field(card, key, kind, what, required = true) {
  if (!(key in card)) {
    if (required) throw new ModelFileError(`${CARD}: missing field ${pyRepr(key)} (${what})`);
    return null;
  }
  const value = card[key];
  if (!KINDS[kind](value)) throw new ModelFileError(`${CARD}: ${pyRepr(key)} must be ${what}, not ${typeName(value)}`);
  return value;
}

// The first `n` code points of a string, as Python's s[:n].
const head = (s, n) => Array.from(s).slice(0, n).join('');

// model.json against its schema: every field the app reads has the type and range it assumes.
export function checkCard(card) {
  if (!KINDS.object(card)) throw new ModelFileError(`${CARD}: expected a JSON object, not ${typeName(card)}`);
  const id = field(card, 'id', 'string', 'a string');
  if (!ID_PATTERN.test(id)) throw new ModelFileError(`${CARD}: 'id' ${pyRepr(head(id, 100))} must be ${ID_RULE}`);
  for (const key of ['title', 'task', 'description']) field(card, key, 'string', 'a string');
  for (const key of ['example', 'example_target']) field(card, key, 'string', 'a string', false);
  const arch = field(card, 'arch', 'string', 'a string');
  if (!ARCHS.includes(arch)) {
    throw new ModelFileError(`${CARD}: unknown arch ${pyRepr(head(arch, 40))}; expected one of ${pyRepr(ARCHS)}`);
  }
  for (const [key, top] of [['layers', MAX_LAYERS], ['input_size', MAX_SIZE], ['hidden_size', MAX_SIZE]]) {
    const n = field(card, key, 'integer', 'a positive integer');
    if (!(n >= 1 && n <= top)) throw new ModelFileError(`${CARD}: ${pyRepr(key)} must be 1 to ${top}, not ${n}`);
  }
  const metrics = field(card, 'metrics', 'object', 'an object', false);
  if (metrics !== null && 'validation' in metrics) {
    const val = metrics.validation;
    if (!(KINDS.object(val) && typeof val.name === 'string' && typeof val.value === 'number')) {
      throw new ModelFileError(`${CARD}: 'metrics.validation' must be an object with a 'name' and a numeric 'value'`);
    }
  }
  field(card, 'parameters', 'integer', 'an integer', false);
  field(card, 'provenance', 'object', 'an object', false);
  const tok = field(card, 'tokenizer', 'object', "an object with 'kind' and a 'vocab' list");
  const vocab = tok.vocab;
  if (!Array.isArray(vocab) || !vocab.length) {
    throw new ModelFileError(`${CARD}: 'tokenizer.vocab' must be a non-empty list of token strings`);
  }
  const bad = vocab.findIndex((t) => typeof t !== 'string');
  if (bad >= 0) {
    throw new ModelFileError(`${CARD}: 'tokenizer.vocab' entry ${bad} is ${typeName(vocab[bad])}, not a string`);
  }
  if (!(tok.unk === undefined || tok.unk === null || typeof tok.unk === 'string')) {
    throw new ModelFileError(`${CARD}: 'tokenizer.unk' must be a string or null`);
  }
  if (!(tok.lowercase === undefined || typeof tok.lowercase === 'boolean')) {
    throw new ModelFileError(`${CARD}: 'tokenizer.lowercase' must be true or false`);
  }
  checkKind(card);
}

const TASK_KINDS = ['language-model', 'classifier', 'forecaster'];

// The fields a classifier or a forecaster needs besides a language model's (app/nn/files.py _check_kind).
function checkKind(card) {
  const kind = field(card, 'task_kind', 'string', 'a string', false) ?? 'language-model';
  if (!TASK_KINDS.includes(kind)) {
    throw new ModelFileError(`${CARD}: 'task_kind' ${pyRepr(head(kind, 40))} must be one of ${pyRepr(TASK_KINDS)}`);
  }
  const numbers = card.tokenizer.kind === 'numbers';
  if (kind === 'classifier') {
    const classes = field(card, 'classes', 'list', 'a list of class labels');
    const labels = classes.every((c) => typeof c === 'string' && c) && new Set(classes).size === classes.length;
    if (classes.length < 2 || !labels) {
      throw new ModelFileError(`${CARD}: 'classes' must list two or more different labels (strings)`);
    }
  }
  if (kind === 'forecaster') {
    const norm = field(card, 'normalisation', 'object', "an object with 'mean' and 'scale'");
    if (typeof norm.mean !== 'number' || typeof norm.scale !== 'number' || !(norm.scale > 0)) {
      throw new ModelFileError(`${CARD}: 'normalisation' needs a numeric 'mean' and a positive 'scale'`);
    }
    if (card.input_size !== 1 || !numbers) {
      throw new ModelFileError(`${CARD}: a forecaster reads one number per step: input_size 1, tokenizer 'numbers'`);
    }
  } else if (numbers) {
    throw new ModelFileError(`${CARD}: a 'numbers' tokenizer belongs to a forecaster ('task_kind': 'forecaster')`);
  }
}

const pyShape = (shape) => `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;

// Check the card, then names, shapes, dtypes and finiteness; messages name the tensor and the shape.
export function validate(card, tensors) {
  checkCard(card);
  const vocab = card.tokenizer.vocab;
  const kind = card.task_kind ?? 'language-model';
  const nOut = kind === 'classifier' ? card.classes.length : null;
  const shapes = paramShapes(card.arch, card.layers, vocab.length, card.input_size, card.hidden_size, kind, nOut);
  const unexpected = [...tensors.keys()].filter((k) => !shapes.has(k)).sort();
  if (unexpected.length) {
    throw new ModelFileError(`${WEIGHTS}: unexpected tensor ${pyRepr(unexpected[0])} for a ${card.arch} model`);
  }
  for (const [name, shape] of shapes) {
    const t = tensors.get(name);
    if (!t) {
      throw new ModelFileError(`${WEIGHTS}: missing tensor ${pyRepr(name)} (expected shape ${pyShape(shape)})`);
    }
    if (t.data === null) {
      throw new ModelFileError(`${WEIGHTS}: tensor ${pyRepr(name)} has dtype ${t.dtype}; expected a float type`);
    }
    if (t.shape.length !== shape.length || t.shape.some((d, k) => d !== shape[k])) {
      let hint = /^(emb|dec)/.test(name) ? ` (the vocabulary has ${vocab.length} entries)` : '';
      if (kind !== 'language-model' && name.startsWith('dec')) {
        hint = ` (a ${kind} has ${shape[0]} output${shape[0] > 1 ? 's' : ''})`;
      }
      const [got, expected] = [pyShape(t.shape), pyShape(shape)];
      throw new ModelFileError(`${WEIGHTS}: tensor ${pyRepr(name)} has shape ${got}; expected ${expected}${hint}`);
    }
    if (!t.data.every(Number.isFinite)) {
      throw new ModelFileError(`${WEIGHTS}: tensor ${pyRepr(name)} holds NaN or infinite values`);
    }
  }
}

// A model from its card (model.json's text, or the object already parsed) and its weights' bytes.
export function loadModel(card, weights) {
  if (typeof card === 'string') {
    try {
      card = parseJson(card);
    } catch (err) {
      throw new ModelFileError(`${CARD}: ${err.message}`);
    }
  }
  checkCard(card);
  const tokenizer = tokenizerFromCard(card);
  const tensors = readSafetensors(weights, WEIGHTS);
  validate(card, tensors);
  return new Model(card, tensors, tokenizer);
}

// A model directory served over HTTP (or from a file: URL): `base` is its URL, with or without a slash.
export async function fetchModel(base) {
  const dir = new URL(base.endsWith('/') ? base : `${base}/`, globalThis.location?.href);
  const get = async (name) => {
    const response = await fetch(new URL(name, dir));
    if (!response.ok) throw new ModelFileError(`${new URL(name, dir)}: HTTP ${response.status}`);
    return response;
  };
  const [card, weights] = await Promise.all([get(CARD), get(WEIGHTS)]);
  const text = await card.text();
  let parsed;
  try {
    parsed = parseJson(text);
  } catch (err) {
    throw new ModelFileError(`${new URL(CARD, dir)}: ${err.message}`);
  }
  return loadModel(parsed, await weights.arrayBuffer());
}
