// A vector drawn as a strip of unit cells: the glyph every wire of the diagram carries.
// All strips of one diagram share one geometry, so unit j sits at the same spot in every strip and the
// eye can read a unit straight across the cell. Large hidden sizes wrap into rows of smaller cells;
// the selected units are also drawn large, with their numbers.

import { DIAGRAM, fmt } from '../config.js';
import { label, svg } from './figure.js';

// Pick rows × cols for H units inside width × maxGridHeight, making cells as large as possible.
export function stripGeometry(H, opts = DIAGRAM.strip) {
  let best = null;
  for (let rows = 1; rows <= H; rows++) {
    const cols = Math.ceil(H / rows);
    const pitch = Math.min(opts.width / cols, opts.maxGridHeight / rows, opts.maxCell);
    if (!best || pitch > best.pitch + 1e-9) best = { rows, cols, pitch };
    if (rows * 2 > H) break;
  }
  const { rows, cols, pitch } = best;
  const gap = pitch >= opts.gapFrom ? Math.min(2, pitch * 0.12) : 0;
  return { H, rows, cols, pitch, cell: pitch - gap, w: cols * pitch - gap, h: rows * pitch - gap };
}

export class Strip {
  // x, y: the centre of the grid (where the wire passes). labelPos: 'left' | 'right' | 'above' | 'below'.
  constructor(parent, { key, x, y, geometry, labelBase, labelSub, labelPos = 'left', bigMax = DIAGRAM.bigCell.max }) {
    this.key = key;
    this.geo = geometry;
    this.bigMax = bigMax;
    this.values = null;
    this.scale = null;
    this.selected = [];
    const g = geometry;
    this.root = svg('g', { class: 'strip', 'data-q': key, transform: `translate(${x - g.w / 2},${y - g.h / 2})` }, parent);
    svg('rect', { class: 'strip-bg', x: -3, y: -3, width: g.w + 6, height: g.h + 6, rx: 4 }, this.root);
    this.cells = [];
    const units = svg('g', { class: 'units' }, this.root);
    for (let j = 0; j < g.H; j++) {
      const r = svg(
        'rect',
        {
          class: 'u',
          'data-q': key,
          'data-u': j,
          x: (j % g.cols) * g.pitch,
          y: Math.floor(j / g.cols) * g.pitch,
          width: g.cell,
          height: g.cell,
          rx: g.cell > 10 ? 2 : 0,
        },
        units,
      );
      this.cells.push(r);
    }
    this.marks = svg('g', { class: 'sel-marks' }, this.root);
    this.clampLayer = svg('g', { class: 'clamp-marks' }, this.root);
    this.big = svg('g', { class: 'big-cells' }, this.root);
    const lp = {
      left: { x: -10, y: g.h / 2 + 5, 'text-anchor': 'end' },
      right: { x: g.w + 10, y: g.h / 2 + 5, 'text-anchor': 'start' },
      above: { x: g.w / 2, y: -10, 'text-anchor': 'middle' },
      below: { x: g.w / 2, y: g.h + 22, 'text-anchor': 'middle' },
    }[labelPos];
    this.labelPos = labelPos;
    label(this.root, labelBase, labelSub, { class: 'strip-label', ...lp });
  }

  setValues(values, scale) {
    this.values = values;
    this.scale = scale;
    const n = this.cells.length;
    for (let j = 0; j < n; j++) {
      const c = values ? scale.color(values[j]) : 'transparent';
      // Only touch cells whose colour changed: most of the cost when playing is style writes.
      if (this.cells[j].__fill !== c) {
        this.cells[j].style.fill = c;
        this.cells[j].__fill = c;
      }
    }
    this.drawBig();
  }

  setSelected(units) {
    this.selected = units ?? [];
    this.marks.replaceChildren();
    const g = this.geo;
    for (const j of this.selected) {
      if (j >= g.H) continue;
      svg(
        'rect',
        {
          class: 'sel-mark',
          x: (j % g.cols) * g.pitch - 1.5,
          y: Math.floor(j / g.cols) * g.pitch - 1.5,
          width: g.cell + 3,
          height: g.cell + 3,
        },
        this.marks,
      );
    }
    this.drawBig(true);
  }

  // units: null (none clamped), or the list of clamped unit indices.
  setClamped(units) {
    this.clampLayer.replaceChildren();
    this.clamped = new Set(units ?? []);
    const g = this.geo;
    if (units && units.length === g.H) {
      svg('rect', { class: 'clamp-hatch', x: -3, y: -3, width: g.w + 6, height: g.h + 6, rx: 4 }, this.clampLayer);
    } else if (units) {
      for (const j of units) {
        const x = (j % g.cols) * g.pitch;
        const y = Math.floor(j / g.cols) * g.pitch;
        svg('rect', { class: 'clamp-hatch', x, y, width: g.cell, height: g.cell }, this.clampLayer);
      }
    }
    this.drawBig(true);
  }

  // The selected units, large and with their numbers, in a row above the grid.
  drawBig(rebuild = false) {
    const shown = this.selected.filter((j) => j < this.geo.H).slice(0, this.bigMax);
    const B = DIAGRAM.bigCell;
    if (rebuild || this.big.childElementCount !== shown.length) {
      this.big.replaceChildren();
      const total = shown.length * B.width + (shown.length - 1) * B.gap;
      const x0 = this.geo.w / 2 - total / 2;
      const y0 = this.labelPos === 'above' ? this.geo.h + 8 : -B.height - 8;
      shown.forEach((j, k) => {
        const cell = svg(
          'g',
          {
            class: 'big',
            'data-q': this.key,
            'data-u': j,
            tabindex: 0,
            role: 'img',
            transform: `translate(${x0 + k * (B.width + B.gap)},${y0})`,
          },
          this.big,
        );
        svg('rect', { class: 'u big-bg', 'data-q': this.key, 'data-u': j, width: B.width, height: B.height, rx: 4 }, cell);
        const idx = svg('text', { class: 'big-idx', x: 4, y: 9 }, cell);
        idx.textContent = `#${j}`;
        svg('text', { class: 'big-val', x: B.width / 2, y: B.height - 6, 'text-anchor': 'middle' }, cell);
        if (this.clamped?.has(j)) svg('rect', { class: 'clamp-hatch', width: B.width, height: B.height, rx: 4 }, cell);
      });
    }
    if (!this.values) return;
    for (const cell of this.big.children) {
      const j = Number(cell.dataset.u);
      const v = this.values[j];
      const bg = cell.firstChild;
      bg.style.fill = this.scale.color(v);
      const txt = cell.querySelector('.big-val');
      txt.textContent = fmt(v);
      txt.style.fill = this.scale.textColor(v);
      cell.querySelector('.big-idx').style.fill = this.scale.textColor(v);
    }
  }
}
