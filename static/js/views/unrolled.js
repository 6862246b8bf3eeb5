// The network unrolled over the whole sentence: one small cell per step (and per layer, stacked),
// the belt running through them, the current step marked. Under each cell its token; the cell's shade
// is how likely the model found the actual next token. A click picks the step (and the layer).
// Events: 'step' (t), 'layer' (l).

import { fmt, showToken } from '../config.js';
import { Figure, html, svg } from './figure.js';

const MIN_W = 38; // a cell's width; wider (up to MAX_W) when word tokens need it
const MAX_W = 84;
const GAP = 16;
const BOX_H = 34;
const ROW = 50;

export class Unrolled extends Figure {
  constructor({ container }) {
    super({ container });
    this.tokens = [];
    this.probs = [];
    this.layers = 1;
    this.layer = 0;
    this.step = 0;
    this.scroller = html('div', { class: 'unrolled-scroll' });
    this.svgRoot = svg('svg', { class: 'unrolled-svg', role: 'img' }, this.scroller);
    this.container.append(this.scroller);
    this.svgRoot.addEventListener('click', (ev) => {
      const cell = ev.target.closest('[data-t]');
      if (!cell) return;
      if (cell.dataset.l !== undefined) this.emit('layer', Number(cell.dataset.l));
      this.emit('step', Number(cell.dataset.t));
    });
  }

  // probs[t]: p of the actual next token after step t (null when there is none).
  setTrace(tokens, probs, layers) {
    this.tokens = tokens;
    this.probs = probs;
    this.layers = layers;
    this.dirty = true;
  }

  setPosition(step, layer) {
    this.step = step;
    this.layer = layer;
  }

  draw() {
    if (this.dirty) this.rebuild();
    for (const cell of this.svgRoot.querySelectorAll('.u-cell')) {
      const here = Number(cell.dataset.t) === this.step;
      cell.classList.toggle('current', here && Number(cell.dataset.l) === this.layer);
      cell.classList.toggle('current-step', here);
    }
    // Keep the current step in view, in the next frame (see TokenStrip.draw).
    const W = this.w;
    const x = this.step * (W + GAP);
    requestAnimationFrame(() => {
      const s = this.scroller;
      if (x < s.scrollLeft || x + W + 40 > s.scrollLeft + s.clientWidth) s.scrollLeft = x - s.clientWidth / 2;
    });
  }

  rebuild() {
    this.dirty = false;
    const longest = Math.max(1, ...this.tokens.map((t) => showToken(t.text).length));
    this.w = Math.max(MIN_W, Math.min(MAX_W, 9 * longest + 10));
    const W = this.w;
    const T = this.tokens.length;
    const width = 40 + T * (W + GAP);
    const height = 30 + this.layers * ROW + 30;
    const root = this.svgRoot;
    root.replaceChildren();
    root.setAttribute('viewBox', `0 0 ${width} ${height}`);
    root.setAttribute('width', width);
    root.setAttribute('height', height);
    root.setAttribute('aria-label', `the network unrolled over ${T} steps`);
    for (let l = 0; l < this.layers; l++) {
      // Top layer drawn on top, as in the textbooks.
      const y = 18 + (this.layers - 1 - l) * ROW;
      svg('line', { class: 'u-belt', x1: 6, x2: width - 6, y1: y + 7, y2: y + 7 }, root);
      svg('line', { class: 'u-h', x1: 6, x2: width - 6, y1: y + BOX_H - 6, y2: y + BOX_H - 6 }, root);
      for (let t = 0; t < T; t++) {
        const x = 20 + t * (W + GAP);
        const p = this.probs[t];
        const g = svg('g', { class: 'u-cell', 'data-t': t, 'data-l': l, transform: `translate(${x},${y})` }, root);
        const box = svg('rect', { width: W, height: BOX_H, rx: 6 }, g);
        if (p !== null && p !== undefined && l === this.layers - 1)
          box.style.setProperty('--p', Math.sqrt(p).toFixed(3));
        const title = svg('title', {}, g);
        title.textContent = `step ${t + 1} “${this.tokens[t].text}”${p !== null && p !== undefined ? `: p(next) = ${fmt(p, 3)}` : ''}`;
      }
    }
    for (let t = 0; t < T; t++) {
      const x = 20 + t * (W + GAP) + W / 2;
      const txt = svg(
        'text',
        {
          class: `u-token${this.tokens[t].unknown ? ' unknown' : ''}`,
          x,
          y: height - 8,
          'text-anchor': 'middle',
          'data-t': t,
        },
        root,
      );
      const text = showToken(this.tokens[t].text);
      const fits = Math.floor((W + GAP - 4) / 9);
      txt.textContent = text.length > fits ? `${text.slice(0, fits - 1)}…` : text;
    }
  }
}
