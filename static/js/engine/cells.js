// Recurrent cells: one forward step and its backward beside it, as app/nn/cells.py (the reference; names,
// order of operations and conventions follow it line by line, so the two agree to rounding).
//
// The forward runs one row: `xw` is the input projection x·W_ihᵀ + b_ih (G·H,), `hPrev` and `cPrev` are
// (H,). The backward runs n rows at once (one per loss of the gradient triangle) against that one forward:
// `dh` and `dcNext` are (n, H), every cached vector is broadcast over the rows. Weights are stacked in
// PyTorch's order, so one product serves all gates, and each gate is then a named block.
//
//     lstm       i = σ(W_i x + U_i h + b_i)    f = σ(W_f x + U_f h + b_f)
//                g = tanh(W_g x + U_g h + b_g) o = σ(W_o x + U_o h + b_o)
//                c' = f⊙c + i⊙g                h' = o⊙tanh(c')
//     peephole   as lstm, with + p_i⊙c and + p_f⊙c inside i and f, and + p_o⊙c' inside o
//     cifg       as lstm without an input-gate matrix: i = 1 − f
//     gru        r = σ(W_r x + b_ir + U_r h + b_hr)   z = σ(W_z x + b_iz + U_z h + b_hz)
//                n = tanh(W_n x + b_in + r⊙(U_n h + b_hn))   h' = (1 − z)⊙n + z⊙h
//     rnn        h' = tanh(W x + U h + b)      irnn: h' = relu(W x + U h + b)
//
// A clamp replaces a gate's activation on some units by a constant. The constant has no input, so its
// pre-activation receives no gradient: the backward multiplies by `free` (0 where clamped, 1 elsewhere).

import { matVec, mulAdd } from './linalg.js';

const LSTM_GATES = ['input', 'forget', 'candidate', 'output'];
export const PEEPHOLES = ['peephole_input', 'peephole_forget', 'peephole_output'];

// What an architecture has: its weight blocks (stacking order), the gates a trace records and a clamp may
// hold (in the order they are taught), and whether it carries a cell state.
export const SPECS = {
  lstm: { arch: 'lstm', blocks: LSTM_GATES, gates: LSTM_GATES, hasCell: true, peephole: false },
  peephole: { arch: 'peephole', blocks: LSTM_GATES, gates: LSTM_GATES, hasCell: true, peephole: true },
  cifg: { arch: 'cifg', blocks: ['forget', 'candidate', 'output'], gates: LSTM_GATES, hasCell: true, peephole: false },
  // PyTorch stacks GRU weights r, z, n; the trace lists the gates in the order they are usually taught.
  gru: {
    arch: 'gru', blocks: ['reset', 'update', 'candidate'], gates: ['update', 'reset', 'candidate'],
    hasCell: false, peephole: false,
  }, // prettier-ignore
  rnn: { arch: 'rnn', blocks: ['hidden'], gates: [], hasCell: false, peephole: false },
  irnn: { arch: 'irnn', blocks: ['hidden'], gates: [], hasCell: false, peephole: false },
};
export const ARCHS = Object.keys(SPECS);

// The interval a gate's activation lives in: sigmoid gates [0, 1], tanh candidates [−1, 1].
export function gateRange(gate) {
  return gate === 'candidate' ? [-1, 1] : [0, 1];
}

// σ(x) = (1 + tanh(x/2)) / 2, the core's formula: for a very negative x it is the difference of two
// numbers near ½, and using the same formula keeps such tiny gate values equal to the core's too.
function sigmoid(pre) {
  const out = new Float64Array(pre.length);
  for (let k = 0; k < pre.length; k++) out[k] = 0.5 + 0.5 * Math.tanh(0.5 * pre[k]);
  return out;
}

function tanh(pre) {
  const out = new Float64Array(pre.length);
  for (let k = 0; k < pre.length; k++) out[k] = Math.tanh(pre[k]);
  return out;
}

// a + w⊙c (H,)
function plusTimes(a, w, c) {
  const out = new Float64Array(a.length);
  for (let k = 0; k < a.length; k++) out[k] = a[k] + w[k] * c[k];
  return out;
}

// Replace clamped units of `act` by their constant; return the activation and its free mask (or null).
function apply(clamp, gate, act) {
  const held = clamp?.[gate];
  if (!held) return [act, null];
  const { free, value } = held;
  for (let k = 0; k < act.length; k++) if (!(free[k] > 0)) act[k] = value[k];
  return [act, free];
}

// ---------------------------------------------------------------------------------------------- forward
// One step. Returns the cache: every intermediate, which is also what a trace records.
// Cache: `pre` (gate → pre-activation), `act` (gate → activation), `free` (gate → mask or null),
// `hPrev`, `cPrev`, `c`, `tanhC`, `h` (and `hwN` for the GRU); all (H,).
export function stepForward(spec, p, xw, hPrev, cPrev, clamp = null) {
  const hw = matVec(p.weight_hh, p.GH, p.H, hPrev, p.bias_hh); // (G·H,) h_prev·W_hhᵀ + b_hh
  if (spec.hasCell) {
    const a = new Float64Array(p.GH);
    for (let j = 0; j < p.GH; j++) a[j] = xw[j] + hw[j];
    return lstmForward(spec, p, a, hPrev, cPrev, clamp);
  }
  if (spec.arch === 'gru') return gruForward(p, xw, hw, hPrev, clamp);
  return rnnForward(spec, xw, hw, hPrev);
}

function lstmForward(spec, p, a, hPrev, cPrev, clamp) {
  const H = p.H;
  const block = (k) => a.subarray(k * H, (k + 1) * H);
  const cifg = spec.arch === 'cifg';
  const n = cifg ? 3 : 4;
  let preI = cifg ? null : block(0);
  let preF = block(n - 3);
  const preG = block(n - 2);
  let preO = block(n - 1);
  if (spec.peephole) {
    preI = plusTimes(preI, p.peephole_input, cPrev);
    preF = plusTimes(preF, p.peephole_forget, cPrev);
  }
  const [f, freeF] = apply(clamp, 'forget', sigmoid(preF));
  let i;
  let freeI;
  if (cifg) {
    const oneMinusF = new Float64Array(H);
    for (let k = 0; k < H; k++) oneMinusF[k] = 1 - f[k];
    [i, freeI] = apply(clamp, 'input', oneMinusF); // coupled: what is forgotten is what may be written
    preI = new Float64Array(H); // 1 − σ(x) = σ(−x): the derived gate's pre-activation, for display
    for (let k = 0; k < H; k++) preI[k] = -preF[k];
  } else {
    [i, freeI] = apply(clamp, 'input', sigmoid(preI));
  }
  const [g, freeG] = apply(clamp, 'candidate', tanh(preG));
  const c = new Float64Array(H); // the conveyor belt: keep some, write some
  for (let k = 0; k < H; k++) c[k] = f[k] * cPrev[k] + i[k] * g[k];
  if (spec.peephole) preO = plusTimes(preO, p.peephole_output, c);
  const [o, freeO] = apply(clamp, 'output', sigmoid(preO));
  const tanhC = tanh(c);
  const h = new Float64Array(H);
  for (let k = 0; k < H; k++) h[k] = o[k] * tanhC[k];
  return {
    pre: { input: preI, forget: preF, candidate: preG, output: preO },
    act: { input: i, forget: f, candidate: g, output: o },
    free: { input: freeI, forget: freeF, candidate: freeG, output: freeO },
    hPrev, cPrev, c, tanhC, h,
  };
}

function gruForward(p, xw, hw, hPrev, clamp) {
  const H = p.H;
  const preR = new Float64Array(H);
  const preZ = new Float64Array(H);
  for (let k = 0; k < H; k++) {
    preR[k] = xw[k] + hw[k];
    preZ[k] = xw[H + k] + hw[H + k];
  }
  const hwN = hw.slice(2 * H, 3 * H);
  const [r, freeR] = apply(clamp, 'reset', sigmoid(preR));
  const [z, freeZ] = apply(clamp, 'update', sigmoid(preZ));
  const preN = new Float64Array(H); // the reset gate scales the recurrent part only (PyTorch's convention)
  for (let k = 0; k < H; k++) preN[k] = xw[2 * H + k] + r[k] * hwN[k];
  const [n, freeN] = apply(clamp, 'candidate', tanh(preN));
  const h = new Float64Array(H);
  for (let k = 0; k < H; k++) h[k] = (1 - z[k]) * n[k] + z[k] * hPrev[k];
  return {
    pre: { update: preZ, reset: preR, candidate: preN },
    act: { update: z, reset: r, candidate: n },
    free: { update: freeZ, reset: freeR, candidate: freeN },
    hPrev, cPrev: null, c: null, tanhC: null, h, hwN,
  };
}

function rnnForward(spec, xw, hw, hPrev) {
  const H = hPrev.length;
  const a = new Float64Array(H);
  for (let k = 0; k < H; k++) a[k] = xw[k] + hw[k];
  const h = new Float64Array(H);
  if (spec.arch === 'irnn') for (let k = 0; k < H; k++) h[k] = Math.max(a[k], 0);
  else for (let k = 0; k < H; k++) h[k] = Math.tanh(a[k]);
  return { pre: { hidden: a }, act: {}, free: {}, hPrev, cPrev: null, c: null, tanhC: null, h };
}

// --------------------------------------------------------------------------------------------- backward
// Backward of `stepForward` for n rows. `dh` (n, H) is ∂L/∂h_t (all paths); `dcNext` (n, H) is ∂L/∂c_t
// through c_{t+1}, or null. Returns what one step hands on:
//   dIh (n, G·H)   gradient of the input-side pre-activation (x·W_ihᵀ + b_ih)
//   dHh (n, G·H)   gradient of the recurrent-side pre-activation (h·W_hhᵀ + b_hh)
//   dhPrev (n, H), dcPrev (n, H) | null
//   dc (n, H) | null   total ∂L/∂c_t at this step, all paths (for the gradient-norm triangle)
//   dpeep          peephole weight gradients per row (n, H)
export function stepBackward(spec, p, cache, dh, dcNext, n) {
  let g;
  if (spec.hasCell) g = lstmBackward(spec, p, cache, dh, dcNext, n);
  else if (spec.arch === 'gru') g = gruBackward(p, cache, dh, n);
  else g = rnnBackward(spec, p, cache, dh, n);
  mulAdd(g.dhPrev, g.dHh, n, p.GH, p.weight_hh_T, p.H); // backprop through h_prev·W_hhᵀ
  return g;
}

function lstmBackward(spec, p, cache, dh, dcNext, n) {
  const H = p.H;
  const GH = p.GH;
  const { input: i, forget: f, candidate: g, output: o } = cache.act;
  const { input: freeI, forget: freeF, candidate: freeG, output: freeO } = cache.free;
  const { cPrev, c, tanhC } = cache;
  const cifg = spec.arch === 'cifg';
  const peep = spec.peephole;
  // block offsets of each gate's pre-activation gradient within a row of dpre
  const [bI, bF, bG, bO] = cifg ? [-1, 0, H, 2 * H] : [0, H, 2 * H, 3 * H];
  const dpre = new Float64Array(n * GH); // (n, G·H)
  const dcAll = new Float64Array(n * H);
  const dcPrev = new Float64Array(n * H);
  const dpeep = {};
  if (peep) for (const name of PEEPHOLES) dpeep[name] = new Float64Array(n * H);
  for (let r = 0; r < n; r++) {
    const row = r * GH;
    for (let k = 0; k < H; k++) {
      const x = r * H + k;
      // backprop through h = o⊙tanh(c)
      const dO = dh[x] * tanhC[k];
      let dc = dh[x] * o[k] * (1 - tanhC[k] * tanhC[k]);
      if (dcNext) dc = dc + dcNext[x];
      let dpreO = dO * o[k] * (1 - o[k]);
      if (freeO) dpreO *= freeO[k];
      if (peep) {
        dc = dc + dpreO * p.peephole_output[k]; // o peeks at c_t
        dpeep.peephole_output[x] = dpreO * c[k];
      }
      // backprop through c = f⊙c_prev + i⊙g
      const di = dc * g[k];
      const dg = dc * i[k];
      let df = dc * cPrev[k];
      let dcp = dc * f[k];
      let dpreG = dg * (1 - g[k] * g[k]);
      if (freeG) dpreG *= freeG[k];
      let dpreF;
      if (cifg) {
        df = df - (freeI ? di * freeI[k] : di); // i = 1 − f
        dpreF = df * f[k] * (1 - f[k]);
        if (freeF) dpreF *= freeF[k];
      } else {
        let dpreI = di * i[k] * (1 - i[k]);
        if (freeI) dpreI *= freeI[k];
        dpreF = df * f[k] * (1 - f[k]);
        if (freeF) dpreF *= freeF[k];
        if (peep) {
          dcp = dcp + dpreI * p.peephole_input[k] + dpreF * p.peephole_forget[k];
          dpeep.peephole_input[x] = dpreI * cPrev[k];
          dpeep.peephole_forget[x] = dpreF * cPrev[k];
        }
        dpre[row + bI + k] = dpreI;
      }
      dpre[row + bF + k] = dpreF;
      dpre[row + bG + k] = dpreG;
      dpre[row + bO + k] = dpreO;
      dcAll[x] = dc;
      dcPrev[x] = dcp;
    }
  }
  return { dIh: dpre, dHh: dpre, dhPrev: new Float64Array(n * H), dcPrev, dc: dcAll, dpeep };
}

function gruBackward(p, cache, dh, n) {
  const H = p.H;
  const GH = p.GH;
  const { update: z, reset: r, candidate: nn } = cache.act;
  const { update: freeZ, reset: freeR, candidate: freeN } = cache.free;
  const { hPrev, hwN } = cache;
  const dIh = new Float64Array(n * GH); // blocks r, z, n
  const dHh = new Float64Array(n * GH); // blocks r, z, n⊙r
  const dhPrev = new Float64Array(n * H);
  for (let row = 0; row < n; row++) {
    const b = row * GH;
    for (let k = 0; k < H; k++) {
      const x = row * H + k;
      // backprop through h = (1 − z)⊙n + z⊙h_prev
      const dn = dh[x] * (1 - z[k]);
      const dz = dh[x] * (hPrev[k] - nn[k]);
      dhPrev[x] = dh[x] * z[k];
      let dpreN = dn * (1 - nn[k] * nn[k]);
      if (freeN) dpreN *= freeN[k];
      // backprop through n's pre-activation x_n + r⊙hw_n
      let dpreR = dpreN * hwN[k] * r[k] * (1 - r[k]);
      if (freeR) dpreR *= freeR[k];
      let dpreZ = dz * z[k] * (1 - z[k]);
      if (freeZ) dpreZ *= freeZ[k];
      dIh[b + k] = dpreR;
      dIh[b + H + k] = dpreZ;
      dIh[b + 2 * H + k] = dpreN;
      dHh[b + k] = dpreR;
      dHh[b + H + k] = dpreZ;
      dHh[b + 2 * H + k] = dpreN * r[k];
    }
  }
  return { dIh, dHh, dhPrev, dcPrev: null, dc: null, dpeep: {} };
}

function rnnBackward(spec, p, cache, dh, n) {
  const H = p.H;
  const { h } = cache;
  const pre = cache.pre.hidden;
  const dpre = new Float64Array(n * H);
  // backprop through the nonlinearity
  for (let row = 0; row < n; row++) {
    for (let k = 0; k < H; k++) {
      const x = row * H + k;
      dpre[x] = spec.arch === 'irnn' ? dh[x] * (pre[k] > 0 ? 1 : 0) : dh[x] * (1 - h[k] * h[k]);
    }
  }
  return { dIh: dpre, dHh: dpre, dhPrev: new Float64Array(n * H), dcPrev: null, dc: null, dpeep: {} };
}
