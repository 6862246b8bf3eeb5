// The one front-end state. Every control, the keyboard and the embedding hook change it through
// `set()`; every field is declared once here with how it reads from and writes to the URL, so any
// picture on screen can be shared as a link and reloads to the same picture.

import { gateNames } from './archs.js';
import { CHROME, PANELS, QUANTITIES, TIMING } from './config.js';

const int = (lo = -Infinity, hi = Infinity) => ({
  parse: (s) => {
    const n = Number.parseInt(s, 10);
    return Number.isFinite(n) && n >= lo && n <= hi ? n : undefined;
  },
  write: (v) => String(v),
});

const str = (max = 10000) => ({
  parse: (s) => s.slice(0, max),
  write: (v) => v,
});

const bool = {
  parse: (s) => s === '1' || s === 'true',
  write: (v) => (v ? '1' : '0'),
};

const oneOf = (choices) => ({
  parse: (s) => (choices.includes(s) ? s : undefined),
  write: (v) => v,
});

const unitList = {
  parse: (s) => {
    if (s === '') return [];
    const units = s.split(',').map((p) => Number.parseInt(p, 10));
    return units.every((u) => Number.isInteger(u) && u >= 0) ? [...new Set(units)] : undefined;
  },
  write: (v) => v.join(','),
};

const list = (allowed) => ({
  parse: (s) => (s === '' ? [] : s.split(',').filter((p) => allowed.includes(p))),
  write: (v) => v.join(','),
});

const number = (lo, hi) => ({
  parse: (s) => {
    const n = Number(s);
    return Number.isFinite(n) && n >= lo && n <= hi ? n : undefined;
  },
  write: (v) => String(v),
});

// Continuation sampling in the URL: '' is greedy; `temperature:top_k:seed` (e.g. `0.8:40:1234`) samples.
const sampleCodec = {
  parse: (s) => {
    const m = /^(\d+(?:\.\d+)?):(\d+):(\d+)$/.exec(s);
    if (s === '') return '';
    return m && Number(m[1]) > 0 && Number(m[1]) <= 2 && Number(m[3]) < 2 ** 32 ? s : undefined;
  },
  write: (v) => v,
};

// A clamp in the URL: gate:value:layer:units:start:stop, e.g. `forget:0:0:all:3:` (units `3.7` or `all`,
// empty start/stop = open-ended); several clamps are joined by `;`.
export const clampCodec = {
  parse: (s) => {
    if (s === '') return [];
    const out = [];
    for (const part of s.split(';')) {
      const [gate, value, layer, units, start, stop] = part.split(':');
      const v = Number(value);
      const l = Number.parseInt(layer, 10);
      if (!gateNames().includes(gate) || !Number.isFinite(v) || !(l >= 0)) return undefined;
      const us = units === 'all' || units === undefined ? null : units.split('.').map(Number);
      if (us && !us.every((u) => Number.isInteger(u) && u >= 0)) return undefined;
      const parseOpt = (x) => (x === undefined || x === '' ? null : Number.parseInt(x, 10));
      out.push({ gate, value: v, layer: l, units: us, start: parseOpt(start), stop: parseOpt(stop) });
    }
    return out;
  },
  write: (v) =>
    v
      .map((c) =>
        [c.gate, c.value, c.layer, c.units ? c.units.join('.') : 'all', c.start ?? '', c.stop ?? ''].join(':'),
      )
      .join(';'),
};

// name → {default, codec, always}. `step` −1 means "follow the last token", so typing keeps you at the
// end. `units` null means "not chosen yet": the first trace picks the most active unit. The model, text
// and target are always written: their defaults depend on the model, so leaving one out could read
// back differently.
export const FIELDS = {
  model: { default: '', codec: str(200), always: true },
  text: { default: '', codec: str(20000), always: true },
  target: { default: '', codec: str(200), always: true },
  step: { default: -1, codec: int(-1) },
  layer: { default: 0, codec: int(0) },
  units: { default: null, codec: unitList },
  clamps: { default: [], codec: clampCodec },
  panels: { default: [], codec: list(PANELS) },
  heat: { default: 'forget', codec: str(40) },
  tint: { default: false, codec: bool },
  speed: { default: 1, codec: number(Math.min(...TIMING.speeds), Math.max(...TIMING.speeds)) },
  theme: { default: 'light', codec: oneOf(['light', 'dark']) },
  large: { default: false, codec: bool },
  // Continuation panel: how many tokens the model writes (0 = the server's default, config.continuationLengths).
  length: { default: 0, codec: int(0, 400) }, // POST /api/continue takes 1-400
  // ... and how it picks each token: '' greedy, or `temperature:top_k:seed` (the seed keeps a sample in the link).
  sample: { default: '', codec: sampleCodec },
  // Compare mode: the id of the second model read beside the main one ('' = off).
  compare: { default: '', codec: str(200) },
  // Minimal pair (features/pair.js): a second sentence read by the same model beside the text ('' = none),
  // and the unit its chart shows (−1 = the unit that separates the two sentences most).
  pair: { default: '', codec: str(20000) },
  pairunit: { default: -1, codec: int(-1) },
  // Embedding (docs/embedding.md): the controls an /embed page hides, or the only ones it shows; and
  // presenter mode (large type, no page chrome) on either page.
  hide: { default: [], codec: list(CHROME) },
  show: { default: [], codec: list(CHROME) },
  present: { default: false, codec: bool },
  // The diagram's level of detail: 'lecture' (the selected units' numbers on the wires, few marks) or
  // 'research' (every unit of every wire); '' leaves it to the page: lecture on the stage of presenter
  // mode and /embed, research elsewhere (detailLevel).
  detail: { default: '', codec: oneOf(['', 'lecture', 'research']) },
  // The wire the main diagram shows whole (a click on a wire, views/cell-diagram.js zoom; '' = none).
  zoom: { default: '', codec: oneOf(['', ...Object.keys(QUANTITIES)]) },
  // A playing scene (app/scenes/<scene>.json) and the 0-based index of its page on screen.
  scene: { default: '', codec: str(64) },
  page: { default: 0, codec: int(0) },
};

// The level the diagram is drawn at: the link's, else the page's default.
export function detailLevel(values, { embed = false } = {}) {
  if (values.detail) return values.detail;
  return embed || values.present ? 'lecture' : 'research';
}

function same(a, b) {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

export class State {
  // `defaults` overrides FIELDS' defaults (the server's default model, the page's starter text, ...).
  constructor(defaults = {}, { url = true } = {}) {
    this.defaults = {};
    for (const [k, f] of Object.entries(FIELDS)) this.defaults[k] = k in defaults ? defaults[k] : f.default;
    this.values = { ...this.defaults };
    this.listeners = [];
    this.url = url;
    if (url) this.values = { ...this.values, ...State.parse(window.location.search) };
  }

  // Fields present and valid in a query string (invalid ones are ignored, so an old link still opens).
  static parse(search) {
    const params = new URLSearchParams(search);
    const out = {};
    for (const [k, f] of Object.entries(FIELDS)) {
      if (!params.has(k)) continue;
      const v = f.codec.parse(params.get(k));
      if (v !== undefined) out[k] = v;
    }
    return out;
  }

  // The query string of the current state: only fields that differ from their default.
  query() {
    const params = new URLSearchParams();
    for (const [k, f] of Object.entries(FIELDS)) {
      const v = this.values[k];
      if (v === null || (!f.always && same(v, this.defaults[k]))) continue;
      params.set(k, f.codec.write(v));
    }
    return params.toString();
  }

  get() {
    return structuredClone(this.values);
  }

  // Merge a partial state; unknown keys are refused so a typo in a caller shows up at once.
  set(partial, { source = 'ui' } = {}) {
    const changed = new Set();
    for (const [k, v] of Object.entries(partial)) {
      if (!(k in FIELDS)) throw new Error(`unknown state field ${k}`);
      if (!same(this.values[k], v)) {
        this.values[k] = structuredClone(v);
        changed.add(k);
      }
    }
    if (changed.size === 0) return changed;
    if (this.url) {
      const q = this.query();
      // replaceState, not pushState: typing must not fill the back button with one entry per key.
      window.history.replaceState(null, '', q ? `${window.location.pathname}?${q}` : window.location.pathname);
    }
    for (const fn of this.listeners) fn(changed, this.values, source);
    return changed;
  }

  subscribe(fn) {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((f) => f !== fn);
    };
  }
}
