// A vector drawn as a strip of unit cells: the glyph every wire of the diagram carries.
// All strips of one diagram share one geometry, so unit j sits at the same spot in every strip and the
// eye can read a unit straight across the cell. Large hidden sizes wrap into rows of smaller cells;
// the selected units are also drawn large, with their numbers. At the lecture level (setLecture) the grid
// is hidden and the wire carries only those numbers, larger, centred where the grid was.
//
// The cells are painted on a <canvas> (inside the SVG, in a foreignObject): one element per strip
// instead of one per unit keeps stepping at 60 fps with 512 units. Only the few marks on top
// (selection, clamps) and the large cells are SVG elements.

import { DIAGRAM, fmt, fmtBadge } from '../config.js';
import { label, svg } from './figure.js';

const XHTML = 'http://www.w3.org/1999/xhtml';
const RESOLUTION = 2; // canvas pixels per viewBox unit: crisp on a projector, still tiny

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

// Which unit is under a point given in the strip's own coordinates (viewBox units), or null.
export function unitAt(geo, x, y) {
  const col = Math.floor(x / geo.pitch);
  const row = Math.floor(y / geo.pitch);
  if (col < 0 || row < 0 || col >= geo.cols || row >= geo.rows) return null;
  const j = row * geo.cols + col;
  return j < geo.H ? j : null;
}

export class Strip {
  // x, y: the centre of the grid (where the wire passes). labelPos: 'left' | 'right' | 'above' | 'below'.
  // badgePos: where the selected units' badges go, 'above' the grid (the default; below it for a strip
  // labelled above) or 'left' of it where the space above is taken. lectureDy: how far below the grid's
  // centre the lecture level's badges go; lectureLabelPos: where the label goes beside them (labelPos if
  // not given).
  constructor(
    parent,
    {
      key,
      x,
      y,
      geometry,
      labelBase,
      labelSub,
      labelPos = 'left',
      lectureLabelPos = labelPos,
      badgePos = 'above',
      bigMax = DIAGRAM.bigCell.max,
      lectureDy = 0,
    },
  ) {
    this.key = key;
    this.lectureDy = lectureDy;
    this.geo = geometry;
    this.bigMax = bigMax;
    this.badgePos = badgePos;
    this.values = null;
    this.scale = null;
    this.selected = [];
    this.clamped = new Set();
    const g = geometry;
    this.origin = { x: x - g.w / 2, y: y - g.h / 2 }; // the grid's corner, in the parent's coordinates
    this.root = svg(
      'g',
      { class: 'strip', 'data-q': key, transform: `translate(${this.origin.x},${this.origin.y})` },
      parent,
    );
    svg('rect', { class: 'strip-bg', x: -3, y: -3, width: g.w + 6, height: g.h + 6, rx: 4 }, this.root);
    const fo = svg('foreignObject', { x: 0, y: 0, width: g.w, height: g.h }, this.root);
    this.canvas = document.createElementNS(XHTML, 'canvas');
    this.canvas.width = Math.ceil(g.w * RESOLUTION);
    this.canvas.height = Math.ceil(g.h * RESOLUTION);
    this.canvas.className = 'strip-canvas';
    Object.assign(this.canvas.dataset, { q: key, cols: g.cols, rows: g.rows, units: g.H });
    this.canvas.setAttribute('role', 'img');
    fo.append(this.canvas);
    this.ctx = this.canvas.getContext('2d');
    this.marks = svg('g', { class: 'sel-marks' }, this.root);
    this.clampLayer = svg('g', { class: 'clamp-marks' }, this.root);
    this.big = svg('g', { class: 'big-cells' }, this.root);
    this.labelSpots = {
      left: { x: -10, y: g.h / 2 + 5, 'text-anchor': 'end' },
      right: { x: g.w + 10, y: g.h / 2 + 5, 'text-anchor': 'start' },
      above: { x: g.w / 2, y: -10, 'text-anchor': 'middle' },
      below: { x: g.w / 2, y: g.h + 22, 'text-anchor': 'middle' },
    };
    const lp = this.labelSpots[labelPos];
    this.labelPos = labelPos;
    this.lectureLabelPos = lectureLabelPos;
    this.labelText = labelSub ? `${labelBase} ${labelSub}` : labelBase;
    this.labelEl = label(this.root, labelBase, labelSub, { class: 'strip-label', ...lp });
    this.canvas.setAttribute('aria-label', `${this.labelText}: ${g.H} values (hover for each)`);
  }

  // Paint the cells. With `from` and 0 ≤ u < 1 the cells show values part-way from `from` to `values`
  // (the forward animation); the large cells only take the final numbers.
  setValues(values, scale, { from = null, u = 1 } = {}) {
    this.values = values;
    this.scale = scale;
    const { ctx, geo } = this;
    const k = RESOLUTION;
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (!values) return;
    const size = geo.cell * k;
    const round = geo.cell > 10;
    const blend = from && u < 1;
    for (let j = 0; j < geo.H; j++) {
      const v = blend ? from[j] + (values[j] - from[j]) * u : values[j];
      ctx.fillStyle = scale.color(v);
      const x = (j % geo.cols) * geo.pitch * k;
      const y = Math.floor(j / geo.cols) * geo.pitch * k;
      if (round) {
        ctx.beginPath();
        ctx.roundRect(x, y, size, size, 2 * k);
        ctx.fill();
      } else {
        // Touching cells: overlap by a pixel so no background seams show between them.
        ctx.fillRect(x, y, size + 0.5, size + 0.5);
      }
    }
    if (u >= 1) this.drawBig();
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
    const next = new Set(units ?? []);
    if (next.size === this.clamped.size && [...next].every((j) => this.clamped.has(j))) return;
    this.clamped = next;
    this.clampLayer.replaceChildren();
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

  // The lecture level: no grid, the selected units' numbers on the wire (CellDiagram.setLevel).
  setLecture(on) {
    if (Boolean(on) === Boolean(this.lecture)) return;
    this.lecture = Boolean(on);
    this.root.classList.toggle('lecture', this.lecture);
    this.drawBig(true);
  }

  // How much the badges grow: enough for the diagram's smallest text; at the lecture level more
  // (DIAGRAM.lecture), as far as `n` badges side by side leave room for and up to its maxScale.
  scaleFor(n) {
    const B = DIAGRAM.bigCell;
    const { scale, overText, maxScale } = DIAGRAM.lecture;
    const min = this.badgeScale ?? 1;
    if (!this.lecture) return min;
    const fit = B.room / (Math.max(1, Math.min(n, this.bigMax)) * (B.width + B.gap));
    return Math.max(min, Math.min(fit, maxScale, Math.max(scale, min * overText)));
  }

  // A figure drawn small (CellDiagram.fitText: compact) draws its badges with less room about their
  // numbers: grown to the readable size, the full badges ran into the layer boxes under them.
  setTight(on) {
    if (Boolean(on) === Boolean(this.tight)) return;
    this.tight = Boolean(on);
    this.drawBig(true);
  }

  badgeH() {
    return this.tight ? DIAGRAM.bigCell.tightHeight : DIAGRAM.bigCell.height;
  }

  // The badges grow about their row's anchor (the grid's edge) when the diagram is drawn small, so
  // their numbers stay as large as the diagram's smallest text (CellDiagram.fitText).
  setBadgeScale(s) {
    if (s === this.badgeScale) return;
    this.badgeScale = s;
    this.drawBig(true);
  }

  // The badges' row goes under the grid for a strip labelled above it, and for one too near the
  // figure's top for the row grown to scale s (the belt's strips in a figure drawn small).
  badgesBelow(s) {
    return this.labelPos === 'above' || this.origin.y - 8 - this.badgeH() * s < 0;
  }

  placeBig(s) {
    const left = this.badgePos === 'left' && !this.lecture;
    const cx = left ? -8 : this.geo.w / 2;
    let cy = this.badgesBelow(s) ? this.geo.h + 8 : -8;
    if (left) cy = this.geo.h / 2;
    if (this.lecture) cy = this.lectureCy();
    this.big.setAttribute('transform', s === 1 ? '' : `translate(${cx},${cy}) scale(${s}) translate(${-cx},${-cy})`);
  }

  lectureCy() {
    return this.geo.h / 2 + this.lectureDy;
  }

  // At the lecture level the label sits beside the badges, not beside the hidden grid.
  placeLabel(count, s) {
    const B = DIAGRAM.bigCell;
    const beside = this.lecture && count > 0;
    const pos = beside ? this.lectureLabelPos : this.labelPos;
    const at = { ...this.labelSpots[pos] };
    if (beside) {
      const halfW = ((count * B.width + (count - 1) * B.gap) * s) / 2;
      const halfH = (this.badgeH() * s) / 2;
      const cx = this.geo.w / 2;
      const cy = this.lectureCy();
      if (pos === 'left') at.x = cx - halfW - 10;
      else if (pos === 'right') at.x = cx + halfW + 10;
      else if (pos === 'above') at.y = cy - halfH - 10;
      else at.y = cy + halfH + 24;
    }
    this.setLabelSpot({ x: at.x, y: at.y, anchor: at['text-anchor'] });
  }

  // The side the label takes when it is free (the layout's choice).
  preferredLabelPos() {
    return this.lecture && this.big.childElementCount > 0 ? this.lectureLabelPos : this.labelPos;
  }

  // Where the label goes on side `pos` of what it names — the numbers at the lecture level, the grid
  // otherwise — `gap` clear of it, in the strip's coordinates. asc / desc: the label's extent above and
  // below its baseline as drawn (its size is the diagram's to raise), so a raised label keeps clear too.
  // At the research level the label keeps beside the grid, and clear of the badges' row where that is
  // wider or on the same side (a figure drawn small grows its badges past the grid's edges).
  labelSpot(pos, { asc, desc, gap }) {
    const grid = { l: 0, r: this.geo.w, t: 0, b: this.geo.h };
    const badges = this.badgeBox();
    const lecture = this.lecture && badges;
    const box = lecture ? badges : grid;
    const out = !lecture && badges ? badges : box; // the extent the label must clear on its side
    const middle = (box.t + box.b) / 2 + (asc - desc) / 2;
    const centre = (box.l + box.r) / 2;
    if (pos === 'left') return { x: Math.min(box.l, out.l) - gap, y: middle, anchor: 'end' };
    if (pos === 'right') return { x: Math.max(box.r, out.r) + gap, y: middle, anchor: 'start' };
    if (pos === 'above') return { x: centre, y: Math.min(box.t, out.t) - gap - desc, anchor: 'middle' };
    return { x: centre, y: Math.max(box.b, out.b) + gap + asc, anchor: 'middle' };
  }

  // The drawn badges' row, in the strip's coordinates (null when there are none).
  badgeBox() {
    const B = DIAGRAM.bigCell;
    const count = this.big.childElementCount;
    if (!count) return null;
    const s = this.bigScale ?? 1;
    const w = (count * B.width + (count - 1) * B.gap) * s;
    const h = this.badgeH() * s;
    if (this.lecture) {
      const cx = this.geo.w / 2;
      const cy = this.lectureCy();
      return { l: cx - w / 2, r: cx + w / 2, t: cy - h / 2, b: cy + h / 2 };
    }
    if (this.badgePos === 'left') return { l: -8 - w, r: -8, t: this.geo.h / 2 - h / 2, b: this.geo.h / 2 + h / 2 };
    const cx = this.geo.w / 2;
    if (this.badgesBelow(s)) return { l: cx - w / 2, r: cx + w / 2, t: this.geo.h + 8, b: this.geo.h + 8 + h };
    return { l: cx - w / 2, r: cx + w / 2, t: -8 - h, b: -8 };
  }

  // shown: false leaves the label out (no side of what it names was free: CellDiagram.declutter).
  setLabelSpot({ x, y, anchor }, shown = true) {
    this.labelEl.setAttribute('x', x);
    this.labelEl.setAttribute('y', y);
    this.labelEl.setAttribute('text-anchor', anchor);
    this.labelEl.style.visibility = shown ? '' : 'hidden';
  }

  // The selected units, large and with their numbers, in a row above the grid.
  drawBig(rebuild = false) {
    const B = DIAGRAM.bigCell;
    const selected = this.selected.filter((j) => j < this.geo.H);
    const s = this.scaleFor(selected.length);
    // Grown badges (a small figure): only as many as fit in the room between two strips.
    const room = Math.floor(B.room / ((B.width + B.gap) * s) + 1e-6);
    const shown = selected.slice(0, Math.max(1, Math.min(this.bigMax, room)));
    if (rebuild || this.big.childElementCount !== shown.length) {
      this.big.replaceChildren();
      this.bigScale = s;
      this.placeBig(s);
      this.placeLabel(shown.length, s);
      const total = shown.length * B.width + (shown.length - 1) * B.gap;
      const left = this.badgePos === 'left' && !this.lecture;
      const x0 = left ? -8 - total : this.geo.w / 2 - total / 2;
      const cy = this.lecture ? this.lectureCy() : this.geo.h / 2;
      const bh = this.badgeH();
      const y0 = this.lecture || left ? cy - bh / 2 : this.badgesBelow(s) ? this.geo.h + 8 : -bh - 8;
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
        svg('rect', { class: 'big-bg', width: B.width, height: bh, rx: 4 }, cell);
        // The unit's number is said once, in the diagram's title, not in every badge: a 9-unit index
        // in each badge was the smallest (and least read) mark of the figure.
        svg('text', { class: 'big-val', x: B.width / 2, y: bh - (this.tight ? 6 : 9), 'text-anchor': 'middle' }, cell);
        if (this.clamped.has(j)) svg('rect', { class: 'clamp-hatch', width: B.width, height: bh, rx: 4 }, cell);
      });
    }
    if (!this.values) return;
    for (const cell of this.big.children) {
      const j = Number(cell.dataset.u);
      const v = this.values[j];
      cell.firstChild.style.fill = this.scale.color(v);
      const txt = cell.querySelector('.big-val');
      txt.textContent = fmtBadge(v);
      txt.style.fill = this.scale.textColor(v);
      cell.setAttribute('aria-label', `${this.labelText}, unit ${j}: ${fmt(v)}`);
    }
  }
}
