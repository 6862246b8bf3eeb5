// Colour scales. Fixed per quantity so a colour means the same number on every step:
//   gate       [0, 1]   viridis: dark = closed, bright yellow = open (perceptually uniform, colour-blind safe)
//   tanh/cell  [−r, r]  blue ↔ orange diverging around a neutral zero (blue/orange survive red-green blindness)
//   magnitude  log‖∂L/∂h‖, magma-like
// tests/e2e/test_colors.py checks them under simulated protanopia, deuteranopia and tritanopia.

export const STOPS = {
  gate: ['#440154', '#472c7a', '#3b518b', '#2c718e', '#21908d', '#27ad81', '#5cc863', '#aadc32', '#fde725'],
  divergingLight: ['#0d4a8a', '#3478bd', '#8fbbe3', '#d8e7f4', '#f5f5f5', '#fbe0c8', '#f3a763', '#cf6512', '#7f3600'],
  // Dark: zero is a grey lighter than the panels (a near-zero cell stays visible on the strip's black).
  divergingDark: ['#a9d3ff', '#5d9de0', '#2f5d92', '#344a66', '#3b424d', '#5c4430', '#9c5a20', '#e38a36', '#ffc48d'],
  magnitude: ['#1c1044', '#4f127b', '#812581', '#b5367a', '#e55064', '#fb8761', '#fec287', '#fcfdbf'],
};

const LUT_SIZE = 256;

function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

const toLinear = (c) => {
  const s = c / 255;
  return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
};
const fromLinear = (l) => {
  const s = l <= 0.0031308 ? 12.92 * l : 1.055 * l ** (1 / 2.4) - 0.055;
  return Math.round(Math.min(1, Math.max(0, s)) * 255);
};

// OKLab: interpolating here keeps the steps between stops perceptually even.
function rgbToOklab([r, g, b]) {
  const [lr, lg, lb] = [toLinear(r), toLinear(g), toLinear(b)];
  const l = Math.cbrt(0.4122214708 * lr + 0.5363325363 * lg + 0.0514459929 * lb);
  const m = Math.cbrt(0.2119034982 * lr + 0.6806995451 * lg + 0.1073969566 * lb);
  const s = Math.cbrt(0.0883024619 * lr + 0.2817188376 * lg + 0.6299787005 * lb);
  return [
    0.2104542553 * l + 0.793617785 * m - 0.0040720468 * s,
    1.9779984951 * l - 2.428592205 * m + 0.4505937099 * s,
    0.0259040371 * l + 0.7827717662 * m - 0.808675766 * s,
  ];
}

function oklabToRgb([L, a, b]) {
  const l = (L + 0.3963377774 * a + 0.2158037573 * b) ** 3;
  const m = (L - 0.1055613458 * a - 0.0638541728 * b) ** 3;
  const s = (L - 0.0894841775 * a - 1.291485548 * b) ** 3;
  return [
    fromLinear(4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s),
    fromLinear(-1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s),
    fromLinear(-0.0041960863 * l - 0.7034186147 * m + 1.707614701 * s),
  ];
}

const rgbCss = ([r, g, b]) => `rgb(${r},${g},${b})`;

// Relative luminance, to pick black or white text on a coloured cell.
export function luminance([r, g, b]) {
  return 0.2126 * toLinear(r) + 0.7152 * toLinear(g) + 0.0722 * toLinear(b);
}

function buildLut(stops) {
  const labs = stops.map((s) => rgbToOklab(hexToRgb(s)));
  const rgbs = [];
  for (let k = 0; k < LUT_SIZE; k++) {
    const x = (k / (LUT_SIZE - 1)) * (labs.length - 1);
    const j = Math.min(labs.length - 2, Math.floor(x));
    const u = x - j;
    rgbs.push(oklabToRgb(labs[j].map((v, d) => v + (labs[j + 1][d] - v) * u)));
  }
  return { rgbs, css: rgbs.map(rgbCss), text: rgbs.map((c) => (luminance(c) > 0.28 ? '#111' : '#fff')) };
}

const LUTS = new Map();
function lut(name) {
  if (!LUTS.has(name)) LUTS.set(name, buildLut(STOPS[name]));
  return LUTS.get(name);
}

// A scale maps a number on [lo, hi] to a colour (values outside are clipped, NaN is grey).
export class Scale {
  constructor(name, lo, hi) {
    this.name = name;
    this.lo = lo;
    this.hi = hi;
    this.lut = lut(name);
  }

  index(v) {
    const u = (v - this.lo) / (this.hi - this.lo);
    return Math.max(0, Math.min(LUT_SIZE - 1, Math.round(u * (LUT_SIZE - 1))));
  }

  color(v) {
    return Number.isFinite(v) ? this.lut.css[this.index(v)] : '#888';
  }

  textColor(v) {
    return Number.isFinite(v) ? this.lut.text[this.index(v)] : '#fff';
  }

  rgb(v) {
    return this.lut.rgbs[this.index(v)];
  }

  // The same scale for plotly heatmaps: [[0, css], ..., [1, css]].
  plotly(n = 11) {
    return Array.from({ length: n }, (_, k) => [k / (n - 1), this.lut.css[Math.round((k / (n - 1)) * 255)]]);
  }
}

// The symmetric range of the cell-state scale: the trace's largest |c|, rounded up to a readable number
// so the legend reads "±2" rather than "±1.8734".
export function niceRange(maxAbs) {
  if (!(maxAbs > 0)) return 1;
  const nice = [1, 1.5, 2, 3, 4, 5, 7.5, 10];
  const e = 10 ** Math.floor(Math.log10(maxAbs));
  for (const n of nice) if (n * e >= maxAbs - 1e-9) return Math.max(1, n * e);
  return Math.max(1, 10 * e);
}

// All scales of one theme; `cellRange` is the symmetric half-width of the cell-state scale.
export function scales(theme, cellRange = 1) {
  const diverging = theme === 'dark' ? 'divergingDark' : 'divergingLight';
  return {
    gate: new Scale('gate', 0, 1),
    tanh: new Scale(diverging, -1, 1),
    cell: new Scale(diverging, -cellRange, cellRange),
    magnitude: new Scale('magnitude', 0, 1),
  };
}

// Lines on the charts: the colour says whose line it is (a model in compare mode, --compare-a/-b; a
// sentence in the minimal-pair view, below), the line style which quantity — solid h, dashed c — never
// the other way round. Colours are CSS variables (app.css), so each theme sets its own.
export const LINE_DASH = { hidden: 'solid', cell: 'dash' };
export const MODEL_COLOURS = { main: '--compare-a', other: '--compare-b' };
export const PAIR_COLOURS = { a: '--pair-a', b: '--pair-b', difference: '--pair-diff' };

// The charts' own colours (views/plot.js plotTheme): text, muted text, grid lines, the panel behind them.
export const CHART_COLOURS = { fg: '--fg', muted: '--muted', grid: '--grid', bg: '--panel', accent: '--accent' };

// A theme's colour by its CSS variable, as the page's stylesheet sets it now (light or dark).
export function themeColour(variable) {
  return getComputedStyle(document.body).getPropertyValue(variable).trim();
}

// The charts' colours of the theme on screen, read in one style lookup: {fg, muted, grid, bg, accent,
// gate(name)} — a gate's colour as the diagram's gate boxes draw it (--gate-<name>).
export function chartColours() {
  const css = getComputedStyle(document.body);
  const v = (variable) => css.getPropertyValue(variable).trim();
  const out = Object.fromEntries(Object.entries(CHART_COLOURS).map(([k, variable]) => [k, v(variable)]));
  const gates = new Map();
  out.gate = (name) => {
    if (!gates.has(name)) gates.set(name, v(`--gate-${name}`));
    return gates.get(name);
  };
  return out;
}

// A model's line colour in compare mode ('main' or 'other'), and a sentence's in the minimal pair.
export const modelColour = (side) => themeColour(MODEL_COLOURS[side === 'main' ? 'main' : 'other']);
export const pairColour = (side) => themeColour(PAIR_COLOURS[side]);
