// The vanishing/exploding-gradient lab (/lab): a scalar recurrence h_t = tanh(W_rec h_{t−1} + x_t).
// Sent back k steps, the gradient is multiplied k times by W_rec · tanh′, so it is (W_rec · tanh′)^k:
// below 1 it vanishes, above 1 it explodes; clipping rescales it to at most the threshold. This module
// owns the page's small state (mirrored in the URL like the explorer's) and plays lab scenes.

import { plotlySource, usePlotlyElement } from './api.js';
import { sitePath } from './config.js';
import { SceneClient, captionOf, pageKey, pagePartial, turn } from './scenes.js';
import { LabPlot } from './views/lab-plot.js';
import { SceneBar } from './views/scene-bar.js';

const config = JSON.parse(document.getElementById('app-config').textContent);
// an exported page (`lstm-explainer export --scene`) carries its own plotly.js
if (config.offline?.plotlyElement) usePlotlyElement(config.offline.plotlyElement);
const $ = (id) => document.getElementById(id);

const num = (lo, hi) => (s) => {
  const n = Number(s);
  return Number.isFinite(n) && n >= lo && n <= hi ? n : undefined;
};
// name → {default, parse}; the sliders' ranges are the template's.
const FIELDS = {
  w: { default: 0.9, parse: num(0, 2) },
  slope: { default: 1, parse: num(0.05, 1) },
  steps: { default: 50, parse: (s) => (Number.isInteger(Number(s)) ? num(1, 200)(s) : undefined) },
  clip: { default: false, parse: (s) => s === '1' || s === 'true' },
  threshold: { default: 10, parse: num(1e-3, 1e6) },
  scene: { default: '', parse: (s) => s.slice(0, 64) },
  page: { default: 0, parse: (s) => (Number.isInteger(Number(s)) && Number(s) >= 0 ? Number(s) : undefined) },
};
const LAB_FIELDS = ['w', 'slope', 'steps', 'clip', 'threshold'];
const defaults = Object.fromEntries(Object.entries(FIELDS).map(([k, f]) => [k, f.default]));
const params = new URLSearchParams(window.location.search);
// A static site has one lab page for both looks: the embed look is the URL's `embed=1`, as the server's is.
if (document.body.dataset.root !== undefined && params.get('embed') === '1') {
  config.embed = true;
  document.body.classList.add('embed');
  document.querySelector('.topbar')?.remove();
}
const values = { ...defaults, ...config.offline?.initial };
for (const [k, f] of Object.entries(FIELDS)) {
  const v = params.has(k) ? f.parse(params.get(k)) : undefined;
  if (v !== undefined) values[k] = v;
}

// The curve for k = 0..T: the product of k factors, and what clipping leaves of it.
export function labCurve({ w, slope, steps, clip, threshold }) {
  const factor = w * slope;
  const k = Array.from({ length: steps + 1 }, (_, i) => i);
  const raw = k.map((i) => Math.abs(factor) ** i);
  const shown = clip ? raw.map((g) => Math.min(g, threshold)) : raw;
  const end = raw[raw.length - 1];
  const verdict = end < 1e-2 ? 'vanishes' : end > 1e2 ? 'explodes' : 'survives';
  return { k, raw, shown, clip, threshold, factor, verdict };
}

const plot = new LabPlot({ container: $('diagram'), plotDiv: $('lab-plot'), readout: $('lab-readout') });
const bar = $('scene-bar') ? new SceneBar({ container: $('scene-bar') }) : null;
const scenes = new SceneClient(config.apiBase, config.scenes);
let scene = null;

function writeUrl() {
  const q = new URLSearchParams();
  for (const [k, f] of Object.entries(FIELDS)) {
    if (values[k] !== f.default) q.set(k, typeof values[k] === 'boolean' ? (values[k] ? '1' : '0') : String(values[k]));
  }
  if (config.embed) q.set('embed', '1');
  const s = q.toString();
  window.history.replaceState(null, '', s ? `${window.location.pathname}?${s}` : window.location.pathname);
}

function set(partial) {
  Object.assign(values, partial);
  writeUrl();
  render();
}

function syncControls() {
  const slider = (id, v, text) => {
    if ($(id).value !== String(v)) $(id).value = String(v);
    $(`${id}-out`).textContent = text;
  };
  slider('lab-w', values.w, values.w.toFixed(2));
  slider('lab-slope', values.slope, values.slope.toFixed(2));
  slider('lab-steps', values.steps, String(values.steps));
  $('lab-clip').checked = values.clip;
  if (document.activeElement !== $('lab-threshold')) $('lab-threshold').value = String(values.threshold);
  $('lab-threshold').disabled = !values.clip;
}

function render() {
  syncControls();
  plot.setCurve(labCurve(values));
  plot.draw();
  if (bar) {
    bar.setScene(scene ? captionOf(scene, values.page) : null);
    bar.draw();
  }
  document.body.dataset.ready = '1';
}

async function loadScene(name, index = 0) {
  const doc = await scenes.get(name);
  const partial = pagePartial(doc, index, { fields: FIELDS, defaults, resetFields: LAB_FIELDS });
  scene = doc;
  set({ ...partial, scene: name, page: index });
  return { ...values };
}

function turnPage(delta) {
  if (!scene) return;
  const next = turn(scene, values.page, delta);
  if (next !== values.page) loadScene(scene.name, next);
}

// ----------------------------------------------------------------------------------------- inputs
$('lab-w').addEventListener('input', (ev) => set({ w: Number(ev.target.value) }));
$('lab-slope').addEventListener('input', (ev) => set({ slope: Number(ev.target.value) }));
$('lab-steps').addEventListener('input', (ev) => set({ steps: Number(ev.target.value) }));
$('lab-clip').addEventListener('change', (ev) => set({ clip: ev.target.checked }));
$('lab-threshold').addEventListener('change', (ev) => {
  const v = FIELDS.threshold.parse(ev.target.value);
  if (v !== undefined) set({ threshold: v });
  else ev.target.value = String(values.threshold);
});
bar?.on('prev', () => turnPage(-1)).on('next', () => turnPage(1)).on('close', () => {
  scene = null;
  set({ scene: '', page: 0 });
});
document.addEventListener('keydown', (ev) => {
  if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
  // A focused slider keeps PageUp/PageDown (they move it); n and p still turn the page.
  const t = ev.target;
  const slider = t.tagName === 'INPUT' && (t.type === 'range' || t.type === 'checkbox');
  if (['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName) && !(slider && (ev.key === 'n' || ev.key === 'p'))) return;
  const delta = scene ? pageKey(ev.key) : null;
  if (delta === null) return;
  ev.preventDefault();
  turnPage(delta);
});

// plotly.js from the server (no CDN), loaded as the explorer loads it: a script tag the CSP allows.
async function loadPlotly() {
  const script = document.createElement('script');
  script.src = await plotlySource(sitePath(`/vendor/plotly.min.js?v=${encodeURIComponent(config.version)}`));
  script.async = true;
  script.onload = () => {
    plot.setPlotly(window.Plotly);
    plot.draw();
    document.body.dataset.plotsReady = '1';
  };
  script.onerror = () => {
    $('lab-readout').textContent = 'The plotting library could not be loaded; reload the page to try again.';
  };
  document.head.append(script);
}

window.lstmExplainer = {
  version: config.version,
  getState: () => ({ ...values }),
  setState: (partial) => set(Object.fromEntries(Object.entries(partial).filter(([k]) => k in FIELDS))),
  loadScene,
};

document.body.dataset.theme = window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
if (values.scene) {
  loadScene(values.scene, values.page).catch((err) => {
    bar?.setError(err.message);
    bar?.draw();
  });
}
render();
loadPlotly();
