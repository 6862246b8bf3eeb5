// Continuation, as app/nn/generate.py: the model reads a text, then writes `length` tokens, each fed back
// in — greedily (its likeliest token, ties to the lower id) or sampled (temperature, top-k, nucleus) with
// NumPy's own generator (`default_rng(seed)`: SeedSequence, then PCG64), so a seed draws the very tokens
// the server draws for it.

import { TraceInputError } from './errors.js';
import { Stepper } from './trace.js';

export const MAX_CONTINUATION = 400;
export const DEFAULT_LENGTH = { char: 200, word: 20 };
const MAX_TEMPERATURE = 2.0;
const MAX_SEED = 2 ** 32 - 1;
const WORD_PIECE = '##';

// -- NumPy's default_rng(seed) -------------------------------------------------------------------------
// numpy/random/bit_generator.pyx SeedSequence: the seed's 32-bit words hashed into a pool of four, the
// pool hashed out into PCG64's 128-bit state and increment. All arithmetic is modulo 2³².
const mul32 = (a, b) => Math.imul(a, b) >>> 0;
const SEED = { INIT_A: 0x43b0d7e5, MULT_A: 0x931e8875, INIT_B: 0x8b51f9dd, MULT_B: 0x58f38ded };
const MIX = { L: 0xca01f9dd, R: 0x4973f715 };

function seedPool(seed) {
  const entropy = [];
  for (let s = BigInt(seed); entropy.length === 0 || s > 0n; s >>= 32n) entropy.push(Number(s & 0xffffffffn));
  let hashConst = SEED.INIT_A;
  const hashmix = (value) => {
    let v = (value ^ hashConst) >>> 0;
    hashConst = mul32(hashConst, SEED.MULT_A);
    v = mul32(v, hashConst);
    return (v ^ (v >>> 16)) >>> 0;
  };
  const mix = (x, y) => {
    const r = (mul32(MIX.L, x) - mul32(MIX.R, y)) >>> 0;
    return (r ^ (r >>> 16)) >>> 0;
  };
  const pool = [0, 1, 2, 3].map((i) => hashmix(i < entropy.length ? entropy[i] : 0));
  for (let src = 0; src < 4; src++) {
    for (let dst = 0; dst < 4; dst++) if (src !== dst) pool[dst] = mix(pool[dst], hashmix(pool[src]));
  }
  for (let src = 4; src < entropy.length; src++) {
    for (let dst = 0; dst < 4; dst++) pool[dst] = mix(pool[dst], hashmix(entropy[src]));
  }
  // generate_state(4, uint64): eight 32-bit words, read as four little-endian uint64s
  let hashConst2 = SEED.INIT_B;
  const words = Array.from({ length: 8 }, (_, i) => {
    let v = (pool[i % 4] ^ hashConst2) >>> 0;
    hashConst2 = mul32(hashConst2, SEED.MULT_B);
    v = mul32(v, hashConst2);
    return BigInt((v ^ (v >>> 16)) >>> 0);
  });
  return [0, 1, 2, 3].map((k) => words[2 * k] | (words[2 * k + 1] << 32n));
}

const M128 = (1n << 128n) - 1n;
const M64 = (1n << 64n) - 1n;
const PCG_MULT = 0x2360ed051fc65da44385df649fccf645n;

// PCG64 (XSL-RR 128/64), seeded as numpy's pcg64_set_seed; `random()` as Generator.random().
export class NumpyRandom {
  constructor(seed) {
    const [s0, s1, i0, i1] = seedPool(seed);
    this.inc = (((i0 << 64n) | i1) << 1n | 1n) & M128;
    this.state = 0n;
    this.step();
    this.state = (this.state + ((s0 << 64n) | s1)) & M128;
    this.step();
  }

  step() {
    this.state = (this.state * PCG_MULT + this.inc) & M128;
  }

  next64() {
    this.step();
    const hi = this.state >> 64n;
    const x = (hi ^ this.state) & M64;
    const rot = hi >> 58n;
    return ((x >> rot) | (x << ((64n - rot) & 63n))) & M64;
  }

  random() {
    return Number(this.next64() >> 11n) * (1 / 9007199254740992);
  }

  // Generator.choice(n, p=p) for one draw: the first index whose normalised cumulative sum exceeds u.
  choice(p) {
    const cdf = new Float64Array(p.length);
    let s = 0;
    for (let k = 0; k < p.length; k++) cdf[k] = s += p[k];
    const u = this.random();
    const last = cdf[p.length - 1];
    let k = 0;
    while (k < p.length - 1 && !(cdf[k] / last > u)) k++;
    return k;
  }
}

// -- the sampling ------------------------------------------------------------------------------------
// `{temperature, top_k, top_p, seed}` checked as Sampling's __post_init__, with its messages.
export function sampling({ temperature = 0, top_k: topK = 0, top_p: topP = 1, seed = 0 } = {}) {
  const bad = (message) => new TraceInputError('bad_sampling', message);
  if (!(temperature >= 0 && temperature <= MAX_TEMPERATURE)) {
    throw bad(`the temperature must be 0 (greedy) to ${MAX_TEMPERATURE} (${temperature} given)`);
  }
  if (!(topK >= 0)) throw bad(`top_k must be 0 (all tokens) or more, not ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw bad(`top_p must be above 0 and at most 1, not ${topP}`);
  if (!(Number.isInteger(seed) && seed >= 0 && seed <= MAX_SEED)) throw bad(`the seed must be 0 to ${MAX_SEED}, not ${seed}`);
  return { temperature, topK, topP, seed, greedy: temperature === 0 };
}

// (V,) the distribution a token is drawn from: temperature, then top-k, then nucleus (Sampling.probabilities).
function samplingProbabilities(s, logits) {
  const V = logits.length;
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, logits[v] / s.temperature);
  const p = new Float64Array(V);
  let sum = 0;
  for (let v = 0; v < V; v++) sum += p[v] = Math.exp(logits[v] / s.temperature - max);
  for (let v = 0; v < V; v++) p[v] /= sum;
  const order = Array.from({ length: V }, (_, v) => v).sort((a, b) => p[b] - p[a] || a - b); // stable argsort(−p)
  let n = s.topK === 0 ? V : Math.min(s.topK, V);
  if (s.topP < 1) {
    let c = 0;
    let k = 0;
    for (; k < n; k++) if ((c += p[order[k]]) >= s.topP) break; // searchsorted(cumsum, top_p) (left)
    n = Math.min(n, k + 1);
  }
  const kept = new Float64Array(V);
  let total = 0;
  for (let k = 0; k < n; k++) total += kept[order[k]] = p[order[k]];
  for (let v = 0; v < V; v++) kept[v] /= total;
  return kept;
}

// Vocabulary entry k as a token the model wrote (a word piece without its ##, joined to the word).
function written(model, k) {
  const entry = model.vocab[k];
  if (model.tokenizer.pieces && entry.startsWith(WORD_PIECE) && entry.length > WORD_PIECE.length) {
    return { text: entry.slice(WORD_PIECE.length), id: k, unknown: false, join: true };
  }
  return { text: entry, id: k, unknown: false, join: false };
}

export function joinTokens(model, tokens) {
  if (model.tokenizer.kind === 'char') return tokens.map((t) => t.text).join('');
  return tokens.map((t) => (t.join ? t.text : ` ${t.text}`)).join('');
}

// The `length` tokens the model writes after `text` (never the unknown token), as continue_text.
export function continueText(model, text, length = null, how = sampling()) {
  const n = length ?? DEFAULT_LENGTH[model.tokenizer.kind];
  if (!(Number.isInteger(n) && n >= 1 && n <= MAX_CONTINUATION)) {
    throw new TraceInputError('bad_length', `the length must be 1 to ${MAX_CONTINUATION} tokens, not ${n}`);
  }
  const tokens = model.tokenizer.tokenize(text);
  if (!tokens.length) throw new TraceInputError('empty_text', 'there is nothing to continue: type some text');
  const unk = model.tokenizer.unk !== null ? model.tokenizer.index.get(model.tokenizer.unk) : undefined;
  const rng = new NumpyRandom(how.seed);
  const stepper = new Stepper(model);
  let logits = null;
  for (const tok of tokens) logits = stepper.step(tok.id)[1];
  const out = [];
  while (out.length < n) {
    if (unk !== undefined) {
      logits = logits.slice();
      logits[unk] = -Infinity;
    }
    let k = 0;
    if (how.greedy) {
      for (let v = 1; v < logits.length; v++) if (logits[v] > logits[k]) k = v;
    } else {
      k = rng.choice(samplingProbabilities(how, logits));
    }
    out.push(written(model, k));
    if (out.length < n) logits = stepper.step(k)[1];
  }
  return out;
}

// What POST /api/continue answers.
export function continuation(model, text, { length = null, temperature = 0, top_k = 0, top_p = 1, seed = 0 } = {}) {
  const how = sampling({ temperature, top_k, top_p, seed: temperature > 0 ? seed : 0 });
  const tokens = continueText(model, text, length, how);
  return {
    model: model.id,
    text,
    continuation: joinTokens(model, tokens),
    tokens,
    sampling: { temperature, top_k, top_p, seed: how.greedy ? null : how.seed },
  };
}
