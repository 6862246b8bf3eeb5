// The architectures' vocabulary, as the server publishes it once from the Python cell specs (app/nn/cells.py
// SPECS, app/api/vocabulary.py) in the page's config: each arch's diagram family, its gates and their
// ranges, which vector is its memory, its hidden nonlinearity and the colour scale of each of its vectors;
// the clampable gate names and the keys of a clamp. Every other module asks here instead of deciding for
// itself (an IRNN's unbounded hidden state is on the `cell` scale in the diagram, the token tint, the clamp
// comparison and the plots alike). Read from the page on first use; a page without the explorer's config
// (a test harness) hands it over with useVocabulary first.

let vocabulary = null;

// The vocabulary as the server published it (the page config's `archs`), for a page that has no config.
export function useVocabulary(archs) {
  vocabulary = archs;
}

function published() {
  if (!vocabulary) {
    const el = globalThis.document?.getElementById('app-config');
    const archs = el ? JSON.parse(el.textContent).archs : null;
    if (!archs) throw new Error('this page carries no arch vocabulary (the page config has no `archs`)');
    vocabulary = archs;
  }
  return vocabulary;
}

const UNKNOWN = { family: 'lstm', gates: {}, memory: 'cell', activation: 'tanh', scales: {}, peephole: false, coupled: [] };

// One arch's entry: {family, gates: {gate: [lo, hi]}, memory, activation, scales: {vector: scale},
// peephole (its gates look at the cell state), coupled: [gates with no weights of their own: CIFG's i = 1 − f]}.
export function archSpec(arch) {
  return published().archs[arch] ?? UNKNOWN;
}

// The diagram family an architecture is drawn with: 'lstm', 'gru' or 'rnn'.
export const family = (arch) => archSpec(arch).family;

// Which vector is the memory: 'cell' (the LSTM family) or 'hidden' (GRU, RNN, IRNN).
export const memoryOf = (arch) => archSpec(arch).memory;

// The memory's symbol on axes and captions.
export const memorySymbol = (arch) => (memoryOf(arch) === 'cell' ? 'c' : 'h');

// Whether the gates look at the cell state, and whether a gate is computed from another (CIFG's input gate).
export const hasPeepholes = (arch) => archSpec(arch).peephole;
export const isCoupled = (arch, gate) => archSpec(arch).coupled.includes(gate);

// The hidden state's nonlinearity as written in an equation: 'ReLU' (an IRNN) or 'tanh'.
export const activationName = (arch) => (archSpec(arch).activation === 'relu' ? 'ReLU' : 'tanh');

// Every clampable gate name, and the keys a clamp has ({gate, value, layer, units, start, stop}).
export const gateNames = () => published().gates;
export const clampFields = () => published().clampFields;

// The colour scale (colors.js scales()) a vector of this arch is drawn on: its published scale ('gate',
// 'tanh' or 'cell'); the previous step's c and h as the new ones; anything else (x, kept, written, ...)
// takes `fallback`, the quantity's own (config.js QUANTITIES).
export function scaleOf(arch, quantity, fallback = 'tanh') {
  const vector = { c_prev: 'cell', h_prev: 'hidden' }[quantity] ?? quantity;
  return archSpec(arch).scales[vector] ?? fallback;
}

// The memory's scale: 'cell' (a cell state, an IRNN's hidden state) or 'tanh'.
export const memoryScale = (arch) => scaleOf(arch, memoryOf(arch));

// The scales an arch's diagram draws on, for its legend: a subset of ['gate', 'tanh', 'cell'].
export function scalesUsed(arch) {
  const used = new Set(Object.values(archSpec(arch).scales));
  return ['gate', 'tanh', 'cell'].filter((s) => used.has(s));
}
