// A loaded model, as app/nn/model.py and app/nn/files.py: its card (model.json), its tokenizer and its
// parameters, read straight from a model directory's two files and checked as the core checks them.
//
// Shapes: V vocabulary, I embedding size, H hidden size, G gate blocks (4 LSTM, 3 GRU/CIFG, 1 RNN).
// Parameter names follow PyTorch's nn.LSTM with a layer prefix:
//
//     embedding.weight          (V, I)
//     layers.{l}.weight_ih      (G·H, I or H)      layers.{l}.bias_ih  (G·H,)
//     layers.{l}.weight_hh      (G·H, H)           layers.{l}.bias_hh  (G·H,)
//     layers.{l}.peephole_{input,forget,output}  (H,)   peephole only
//     decoder.weight            (V, H)             decoder.bias        (V,)
//
// Every tensor is held as a float64 Float64Array, whatever the file's dtype: the core traces in float64
// too, so the two compute the same numbers.

import { ARCHS, SPECS } from './cells.js';
import { ModelFileError, pyRepr } from './errors.js';
import { addOuter, matVec, transpose } from './linalg.js';
import { readSafetensors } from './safetensors.js';
import { tokenizerFromCard } from './tokenizer.js';

export const CARD = 'model.json';
export const WEIGHTS = 'weights.safetensors';
const CARD_FIELDS = ['id', 'title', 'arch', 'layers', 'input_size', 'hidden_size', 'tokenizer', 'task', 'description'];
const PEEPHOLES = ['peephole_input', 'peephole_forget', 'peephole_output'];

// Every tensor a model of this shape holds, with its shape (app/nn/model.py param_shapes).
export function paramShapes(arch, layers, vocabSize, inputSize, hiddenSize) {
  const spec = SPECS[arch];
  const gh = spec.blocks.length * hiddenSize;
  const shapes = new Map([['embedding.weight', [vocabSize, inputSize]]]);
  for (let l = 0; l < layers; l++) {
    shapes.set(`layers.${l}.weight_ih`, [gh, l === 0 ? inputSize : hiddenSize]);
    shapes.set(`layers.${l}.weight_hh`, [gh, hiddenSize]);
    shapes.set(`layers.${l}.bias_ih`, [gh]);
    shapes.set(`layers.${l}.bias_hh`, [gh]);
    if (spec.peephole) for (const name of PEEPHOLES) shapes.set(`layers.${l}.${name}`, [hiddenSize]);
  }
  shapes.set('decoder.weight', [vocabSize, hiddenSize]);
  shapes.set('decoder.bias', [vocabSize]);
  return shapes;
}

// The NumPy name of a safetensors dtype, as the core's messages say it.
const NUMPY_DTYPES = {
  BOOL: 'bool', U8: 'uint8', I8: 'int8', U16: 'uint16', I16: 'int16',
  U32: 'uint32', I32: 'int32', U64: 'uint64', I64: 'int64',
}; // prettier-ignore
const pyShape = (shape) => `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;

// Check names, shapes, dtypes and finiteness; messages name the tensor and the expected shape.
function validate(card, tensors) {
  const missing = CARD_FIELDS.filter((f) => !(f in card));
  if (missing.length) throw new ModelFileError(`model.json: missing field(s) ${pyRepr(missing)}`);
  if (!ARCHS.includes(card.arch)) {
    throw new ModelFileError(`model.json: unknown arch ${pyRepr(card.arch)}; expected one of ${pyRepr(ARCHS)}`);
  }
  for (const key of ['layers', 'input_size', 'hidden_size']) {
    if (!Number.isInteger(card[key]) || card[key] < 1) {
      throw new ModelFileError(`model.json: ${pyRepr(key)} must be a positive integer, not ${pyRepr(card[key])}`);
    }
  }
  if (card.layers > 4) throw new ModelFileError(`model.json: 1 to 4 layers are supported, not ${card.layers}`);
  const vocab = card.tokenizer.vocab;
  const shapes = paramShapes(card.arch, card.layers, vocab.length, card.input_size, card.hidden_size);
  const unexpected = [...tensors.keys()].filter((k) => !shapes.has(k)).sort();
  if (unexpected.length) {
    throw new ModelFileError(`${WEIGHTS}: unexpected tensor ${pyRepr(unexpected[0])} for a ${card.arch} model`);
  }
  for (const [name, shape] of shapes) {
    const t = tensors.get(name);
    if (!t) throw new ModelFileError(`${WEIGHTS}: missing tensor ${pyRepr(name)} (expected shape ${pyShape(shape)})`);
    if (t.data === null) {
      const dtype = NUMPY_DTYPES[t.dtype] ?? t.dtype;
      throw new ModelFileError(`${WEIGHTS}: tensor ${pyRepr(name)} has dtype ${dtype}; expected a float type`);
    }
    if (t.shape.length !== shape.length || t.shape.some((d, k) => d !== shape[k])) {
      const hint = /^(emb|dec)/.test(name) ? ` (the vocabulary has ${vocab.length} entries)` : '';
      throw new ModelFileError(
        `${WEIGHTS}: tensor ${pyRepr(name)} has shape ${pyShape(t.shape)}; expected ${pyShape(shape)}${hint}`,
      );
    }
    if (!t.data.every(Number.isFinite)) {
      throw new ModelFileError(`${WEIGHTS}: tensor ${pyRepr(name)} holds NaN or infinite values`);
    }
  }
}

export class Model {
  // `card` is model.json's object, `tensors` a Map(name → {shape, data: Float64Array}).
  constructor(card, tensors, tokenizer) {
    this.card = card;
    this.tokenizer = tokenizer;
    this.spec = SPECS[card.arch];
    this.params = new Map([...tensors].map(([name, t]) => [name, t.data]));
    this.id = card.id;
    this.arch = card.arch;
    this.layers = card.layers;
    this.inputSize = card.input_size;
    this.hiddenSize = card.hidden_size;
    this.vocab = tokenizer.vocab;
    // Per layer: its tensors by short name, their sizes, and the transposes the backward's products read.
    this.layerParams = Array.from({ length: this.layers }, (_, l) => {
      const p = { H: this.hiddenSize, GH: this.spec.blocks.length * this.hiddenSize };
      p.nIn = l === 0 ? this.inputSize : this.hiddenSize;
      const prefix = `layers.${l}.`;
      for (const [name, data] of this.params) if (name.startsWith(prefix)) p[name.slice(prefix.length)] = data;
      p.weight_hh_T = transpose(p.weight_hh, p.GH, p.H); // (H, G·H)
      p.weight_ih_T = transpose(p.weight_ih, p.GH, p.nIn); // (in, G·H)
      return p;
    });
    this.inputRows = new Map(); // token id → layer 0's input projection, computed on first use
  }

  get nParams() {
    let n = 0;
    for (const data of this.params.values()) n += data.length;
    return n;
  }

  // -- input layer: a token → layer 0's input x (I,) and its projection, and back ---------------------
  // x = E[id], the embedding's row.
  input(tokenId) {
    const I = this.inputSize;
    return this.params.get('embedding.weight').subarray(tokenId * I, (tokenId + 1) * I);
  }

  // xw = W_ih·x + b_ih (G·H,). The core keeps a table of every token's row; here each row is made on
  // first use, so loading stays cheap for a large vocabulary.
  inputProjection(tokenId) {
    let row = this.inputRows.get(tokenId);
    if (!row) {
      const p = this.layerParams[0];
      row = matVec(p.weight_ih, p.GH, p.nIn, this.input(tokenId), p.bias_ih);
      this.inputRows.set(tokenId, row);
    }
    return row;
  }

  // backprop into the embedding row that was looked up: ∂L/∂E[id] += dx (I,), in `grads`
  inputBackward(tokenId, dx, grads) {
    const I = this.inputSize;
    const row = grads.get('embedding.weight').subarray(tokenId * I, (tokenId + 1) * I);
    for (let k = 0; k < I; k++) row[k] += dx[k];
  }

  // -- head: the top hidden state h (H,) → logits (V,), and back ---------------------------------------
  decode(h) {
    const [W, b] = [this.params.get('decoder.weight'), this.params.get('decoder.bias')];
    return matVec(W, this.vocab.length, this.hiddenSize, h, b); // W_dec·h + b_dec
  }

  // ∂L/∂logits (V,) → ∂L/∂h = W_decᵀ·dlogits (H,); with `grads`, also the head's own gradients
  // ∂L/∂W_dec = dlogits ⊗ h and ∂L/∂b_dec = dlogits.
  decodeBackward(dlogits, h = null, grads = null) {
    const W = this.params.get('decoder.weight');
    const H = this.hiddenSize;
    const dh = new Float64Array(H);
    for (let v = 0; v < dlogits.length; v++) for (let k = 0; k < H; k++) dh[k] += dlogits[v] * W[v * H + k];
    if (grads) {
      addOuter(grads.get('decoder.weight'), dlogits, h);
      grads.get('decoder.bias').set(dlogits);
    }
    return dh;
  }
}

// A model from its card (the parsed model.json) and the bytes of its weights.safetensors.
export function loadModel(card, weights) {
  if (!card || typeof card !== 'object' || Array.isArray(card)) {
    throw new ModelFileError('model.json: expected a JSON object');
  }
  const tokenizer = tokenizerFromCard(card);
  let tensors;
  try {
    tensors = readSafetensors(weights, WEIGHTS);
  } catch (err) {
    throw new ModelFileError(err.message);
  }
  validate(card, tensors);
  return new Model(card, tensors, tokenizer);
}

// A model directory served over HTTP (or from a file: URL): `base` is its URL, with or without a slash.
export async function fetchModel(base) {
  const dir = base.endsWith('/') ? base : `${base}/`;
  const get = async (name) => {
    const response = await fetch(new URL(name, new URL(dir, globalThis.location?.href)));
    if (!response.ok) throw new ModelFileError(`${dir}${name}: HTTP ${response.status}`);
    return response;
  };
  const [cardResponse, weightsResponse] = await Promise.all([get(CARD), get(WEIGHTS)]);
  let card;
  try {
    card = await cardResponse.json();
  } catch (err) {
    throw new ModelFileError(`${dir}${CARD}: not valid JSON (${err.message})`);
  }
  return loadModel(card, await weightsResponse.arrayBuffer());
}
