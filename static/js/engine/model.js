// A loaded model, as app/nn/model.py: its card (model.json), its tokenizer and its parameters (files.js
// reads and checks a model directory's two files).
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
// A classifier's decoder has C rows (the card's `classes`); a forecaster has no embedding (layer 0 reads
// the normalised value x = (v − mean) / scale, input size 1) and a decoder of one row, its forecast z.
//
// Every tensor is held as a float64 Float64Array, whatever the file's dtype: the core traces in float64
// too, so the two compute the same numbers.

import { PEEPHOLES, SPECS } from './cells.js';
import { addOuter, matVec, transpose } from './linalg.js';

// Every tensor a model of this shape holds, with its shape (app/nn/model.py param_shapes).
export function paramShapes(arch, layers, vocabSize, inputSize, hiddenSize, kind = 'language-model', nOut = null) {
  const spec = SPECS[arch];
  const gh = spec.blocks.length * hiddenSize;
  const out = nOut ?? (kind === 'forecaster' ? 1 : vocabSize);
  const shapes = new Map(kind === 'forecaster' ? [] : [['embedding.weight', [vocabSize, inputSize]]]);
  for (let l = 0; l < layers; l++) {
    shapes.set(`layers.${l}.weight_ih`, [gh, l === 0 ? inputSize : hiddenSize]);
    shapes.set(`layers.${l}.weight_hh`, [gh, hiddenSize]);
    shapes.set(`layers.${l}.bias_ih`, [gh]);
    shapes.set(`layers.${l}.bias_hh`, [gh]);
    if (spec.peephole) for (const name of PEEPHOLES) shapes.set(`layers.${l}.${name}`, [hiddenSize]);
  }
  shapes.set('decoder.weight', [out, hiddenSize]);
  shapes.set('decoder.bias', [out]);
  return shapes;
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
    this.kind = card.task_kind ?? 'language-model';
    this.classes = card.classes ?? [];
    this.normalisation = { mean: card.normalisation?.mean ?? 0, scale: card.normalisation?.scale ?? 1 };
    this.nOut = this.params.get('decoder.bias').length; // V, C or 1
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
  // What layer 0 is fed for a token: its id, or a forecaster's normalised value (app/nn/model.py input_keys).
  inputKey(tok) {
    if (this.kind !== 'forecaster') return tok.id;
    return (tok.value - this.normalisation.mean) / this.normalisation.scale;
  }

  // x = E[id], the embedding's row; a forecaster's x is its value itself.
  input(tokenId) {
    if (this.kind === 'forecaster') return Float64Array.of(tokenId);
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
    if (this.kind === 'forecaster') return; // no embedding: the value is not a parameter
    const I = this.inputSize;
    const row = grads.get('embedding.weight').subarray(tokenId * I, (tokenId + 1) * I);
    for (let k = 0; k < I; k++) row[k] += dx[k];
  }

  // -- head: the top hidden state h (H,) → logits (V,), and back ---------------------------------------
  decode(h) {
    const [W, b] = [this.params.get('decoder.weight'), this.params.get('decoder.bias')];
    return matVec(W, this.nOut, this.hiddenSize, h, b); // W_dec·h + b_dec
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
