// Visual constants: every size, label, colour name and timing the views share lives here, once.
// Colours themselves are CSS variables (app.css) so the themes can change them; scales are in colors.js.

// A gate's look: its symbol as taught (candidate is c̃), its nonlinearity, and the CSS variable of its accent.
export const GATES = {
  forget: { symbol: 'f', name: 'forget gate', fn: 'σ', accent: '--gate-forget' },
  input: { symbol: 'i', name: 'input gate', fn: 'σ', accent: '--gate-input' },
  candidate: { symbol: 'c̃', name: 'candidate', fn: 'tanh', accent: '--gate-candidate' },
  output: { symbol: 'o', name: 'output gate', fn: 'σ', accent: '--gate-output' },
  update: { symbol: 'z', name: 'update gate', fn: 'σ', accent: '--gate-update' },
  reset: { symbol: 'r', name: 'reset gate', fn: 'σ', accent: '--gate-reset' },
  hidden: { symbol: 'h', name: 'hidden layer', fn: 'tanh', accent: '--gate-hidden' },
};

// A gate's look in a given diagram family: the GRU's candidate is a candidate hidden state, h̃, not c̃.
export function gateLook(gate, fam = 'lstm') {
  if (fam === 'gru' && gate === 'candidate') return { ...GATES.candidate, symbol: 'h̃', name: 'candidate state' };
  return GATES[gate];
}

// Each vector a wire can carry: its label (base + subscript), its colour scale and a plain-words hint.
// Scales: `gate` is [0, 1], `tanh` is [−1, 1], `cell` is symmetric around 0 with the trace's own range.
export const QUANTITIES = {
  c_prev: { base: 'c', sub: 't−1', scale: 'cell', hint: 'cell state arriving from the previous step' },
  h_prev: { base: 'h', sub: 't−1', scale: 'tanh', hint: 'hidden state from the previous step' },
  x: { base: 'x', sub: 't', scale: 'tanh', hint: 'input at this step' },
  forget: { base: 'f', sub: 't', scale: 'gate', hint: 'forget gate: 1 keeps, 0 erases' },
  input: { base: 'i', sub: 't', scale: 'gate', hint: 'input gate: how much to write' },
  candidate: { base: 'c̃', sub: 't', scale: 'tanh', hint: 'candidate values to write' },
  output: { base: 'o', sub: 't', scale: 'gate', hint: 'output gate: how much of the memory to show' },
  kept: { base: 'f⊙c', sub: 't−1', scale: 'cell', hint: 'what survives the forget gate' },
  written: { base: 'i⊙c̃', sub: 't', scale: 'tanh', hint: 'what the input gate writes' },
  cell: { base: 'c', sub: 't', scale: 'cell', hint: 'new cell state (the memory)' },
  tanh_cell: { base: 'tanh c', sub: 't', scale: 'tanh', hint: 'memory squashed to [−1, 1]' },
  hidden: { base: 'h', sub: 't', scale: 'tanh', hint: 'new hidden state (the output)' },
  // GRU
  update: { base: 'z', sub: 't', scale: 'gate', hint: 'update gate: 1 keeps the old state, 0 takes the new' },
  reset: { base: 'r', sub: 't', scale: 'gate', hint: 'reset gate: how much old state the candidate sees' },
  gru_candidate: { base: 'h̃', sub: 't', scale: 'tanh', hint: 'candidate state' },
  gru_keep: { base: 'z⊙h', sub: 't−1', scale: 'tanh', hint: 'old state kept' },
  gru_write: { base: '(1−z)⊙h̃', sub: 't', scale: 'tanh', hint: 'new state written' },
};

// The order the panels list an arch's vectors in (the ones it has come from archs.js): as taught, the
// forget gate first.
export const VECTOR_ORDER = ['forget', 'input', 'candidate', 'output', 'update', 'reset', 'cell', 'hidden'];

export const DIAGRAM = {
  strip: { width: 210, maxGridHeight: 50, maxCell: 24, gapFrom: 8 },
  // valuePx: .big-val's font size; room: the width a strip's badges may take (strips are 260 apart);
  // tightHeight: a badge's height in a figure drawn small (Strip.setTight)
  bigCell: { width: 66, height: 34, tightHeight: 25, gap: 5, max: 3, valuePx: 15, room: 250 },
  gateBox: { width: 124, maxWidth: 240, height: 62, radius: 8 }, // maxWidth: the room between two boxes
  opRadius: 19,
  // The smallest diagram text in CSS px: 14 on a 1280×720 screen (the hall's projector), down to 11 in a
  // 640×360 iframe, linear between (by the smaller of width/1280 and height/720). The diagram's own sizes
  // rule wherever they are larger; where they would fall below, the text grows instead of the geometry.
  minText: { px: 14, smallPx: 11, screen: [1280, 720] },
  // The lecture level: each wire carries the selected units' numbers, at least `scale`× a research badge
  // and `overText`× the diagram's smallest text, as far as the room between two wires allows (fewer units,
  // larger numbers), and at most `maxScale`× unless the smallest text needs more: a number 185 wide in the
  // 260 between two wires leaves its label room beside it (a diagram drawn small, both models at once,
  // raises the text so far that 1.4× it would run the numbers into their neighbours' labels);
  // the zoom draws all units of one wire in a grid of this size.
  lecture: {
    scale: 2,
    overText: 1.4,
    maxScale: 2.8,
    zoom: { width: 1180, maxGridHeight: 470, maxCell: 72, gapFrom: 8 },
  },
};

// The smallest readable diagram text (CSS px) for a viewport of w × h CSS px.
export function minTextPx(w, h) {
  const { px, smallPx, screen } = DIAGRAM.minText;
  const s = Math.min(w / screen[0], h / screen[1]);
  const u = Math.max(0, Math.min(1, (s - 0.5) / 0.5));
  return smallPx + (px - smallPx) * u;
}

export const TIMING = {
  debounceMs: 120, // typing: at most one re-trace per this many ms (the first keystroke goes at once)
  stepMs: 1000, // one step while playing at 1×
  speeds: [0.25, 0.5, 1, 2, 4, 8],
  backwardMs: 220, // one hop of the backward animation
  panelsPlayingMs: 500, // the plotly panels follow a playing diagram at most this often
  tokensEarlyMs: 60, // a trace whose step is not here this long after its tokens shows the tokens first
  panelsAfterTraceMs: 400, // ...and wait this long after a new trace: they follow once typing pauses
  reconnectMinMs: 250,
  reconnectMaxMs: 8000,
  // The forward animation takes this share of the time until the next step (capped at maxStageMs per stage).
  animShare: 0.6,
  maxStageMs: 260,
};

export const STAGES = ['inputs', 'forget', 'write', 'cell', 'output'];

// How much the model may write in the Continuation panel, by tokenizer (the server's defaults, what a
// request without `length` gets, come in the page config as `continuationLengths`).
export const CONTINUATION_CHOICES = { char: [50, 100, 200, 400], word: [5, 10, 20, 50] };

// Panels that can be opened (and are remembered in the URL).
// `continuation` (the model writing on, from POST /api/continue) is opened on demand: it costs a request.
// `pair` (the minimal-pair chart, features/pair.js) takes the diagram's place on the stage while open.
export const PANELS = ['predictions', 'clamps', 'memory', 'gradients', 'unrolled', 'continuation', 'pair'];

// The controls of an /embed page that `hide=` and `show=` name. `controls` is all the stepping controls at
// once; `text` (a sentence box), `download` (SVG/PNG buttons) and `exit` (the scene bar's ×, which would
// leave the scene mid-slide) are off unless `show=` names them.
export const CHROME = [
  'scene', 'tokens', 'controls', 'reset', 'prev', 'play', 'next', 'end', 'speed', 'position', 'layers',
  'title', 'legend', 'text', 'download', 'exit', 'detail',
];
export const CHROME_GROUPS = { controls: ['reset', 'prev', 'play', 'next', 'end', 'speed', 'position', 'layers'] };
export const CHROME_OFF = ['text', 'download', 'exit'];
export const DEFAULT_PANELS = ['predictions', 'clamps', 'memory', 'gradients', 'unrolled'];

export const PREDICTIONS_SHOWN = 8;

// The first sentence a visitor sees, when the model card brings no `example` (and `example_target`):
// the lecture's long-range example for word models, a plain sentence for character models.
export const STARTER = {
  word: {
    text:
      'I have been staying in Spain for the last 10 years and I enjoyed the food there although the weather ' +
      'was often cold . I can speak fluent',
    target: 'spanish',
  },
  char: { text: 'the cat sat on the mat', target: '' },
};

// How a token is shown in a chip or axis: make whitespace visible.
export function showToken(text) {
  if (text === ' ') return '␣';
  if (text === '\n') return '↵';
  if (text === '\t') return '⇥';
  return text;
}

// Numbers as a lecturer reads them: two decimals, a real minus sign.
export function fmt(v, digits = 2) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  const s = Math.abs(v) < 0.5 * 10 ** -digits ? (0).toFixed(digits) : v.toFixed(digits);
  return s.replace('-', '−');
}

// A number in a unit's badge, which holds five characters: a cell state past ±10 (the long-context scene's
// −14.12 touched both edges of its badge) keeps one decimal, past ±100 none.
export function fmtBadge(v) {
  const a = Math.abs(v);
  return fmt(v, a >= 99.5 ? 0 : a >= 9.995 ? 1 : 2);
}

// A factor inside a product: negative values in parentheses, as on a blackboard.
export function fmtFactor(v, digits = 2) {
  const s = fmt(v, digits);
  return s.startsWith('−') ? `(${s})` : s;
}

export function fmtSci(v) {
  if (v === null || v === undefined) return '–';
  if (v === 0) return '0';
  const e = Math.floor(Math.log10(Math.abs(v)));
  if (e >= -2 && e <= 3) return fmt(v, e >= 1 ? 1 : 3);
  return `${(v / 10 ** e).toFixed(1)}e${e}`.replace('-', '−');
}

// A page's URL on this site. The server's pages sit at fixed absolute paths ('/embed', '/scenes'); a static
// site (`lstm-explainer site`) may be served under any sub-path, so its pages name the site's root
// relative to themselves in <body data-root> ('../' from /embed/) and link to directories ('embed/').
export function sitePath(path) {
  const root = globalThis.document?.body?.dataset.root;
  if (root === undefined) return path;
  const [where, query = ''] = path.split('?');
  const file = where.replace(/^\//, '');
  const dir = file === '' || /\.\w+$/.test(file) || file.endsWith('/') ? file : `${file}/`;
  return `${root}${dir}${query ? `?${query}` : ''}` || './';
}
