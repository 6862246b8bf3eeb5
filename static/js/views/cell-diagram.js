// The cell, drawn the way Colah draws it — the cell state as a conveyor belt along the top, yellow
// σ/tanh layer boxes, pink pointwise ops, h_{t−1} and x_t concatenated underneath — except that every
// wire carries its real vector as a strip of unit cells, and hovering a unit fills in the equation.
//
// Two levels of detail: 'research' draws every unit of every wire; 'lecture' (Colah's few marks) hides
// the strips and lets each wire carry only the selected units' numbers, large. Clicking a wire, its
// label or (at the lecture level) its number zooms in: all of that wire's units, large, over the cell.
//
// Events: 'gate' {gate, rect} (a layer box was clicked: open the clamp popover),
//         'unit' {unit, additive} (a unit cell was clicked: select it),
//         'detail' 'lecture' | 'research' (the level toggle was clicked).

import { activationName, family, hasPeepholes, isCoupled, scaleOf, scalesUsed } from '../archs.js';
import { DIAGRAM, GATES, QUANTITIES, STAGES, fmt, fmtFactor, minTextPx, showToken } from '../config.js';
import { Figure, html, label, prefersReducedMotion, svg } from './figure.js';
import { Strip, stripGeometry, unitAt } from './strip.js';

let instances = 0;

const B = DIAGRAM.gateBox;
const R = DIAGRAM.opRadius;

// ---------------------------------------------------------------------------------------------- layouts
// Coordinates are in viewBox units. Each wire, op, box and strip has the stage of the computation it
// belongs to, which orders the animation: 0 inputs, 1 forget, 2 input & candidate, 3 cell update, 4 output.

function lstmLayout(arch) {
  const belt = 150;
  const tanhY = 232;
  const mul = 395; // row of the i·c̃ and o·tanh(c) products
  const boxY = 585;
  const bus = 700;
  const xF = 340;
  const xI = 600;
  const xG = 860;
  const xO = 1120;
  const xH = 1380;
  const xOut = 1530;
  const xX = 280;
  const top = boxY - B.height / 2;
  const cifg = isCoupled(arch, 'input'); // i = 1 − f: no input gate box of its own
  const L = {
    viewBox: [1660, 860],
    box: { x: 235, y: 72, w: 1350, h: 690 },
    wires: [
      { d: `M0 ${belt} H${xF - R}`, stage: 0, cls: 'belt', q: 'c_prev' },
      { d: `M${xF + R} ${belt} H${xG - R}`, stage: 1, cls: 'belt', q: 'kept' },
      { d: `M${xG + R} ${belt} H1660`, stage: 3, cls: 'belt', arrow: true, q: 'cell' },
      { d: `M${xF} ${top} V${belt + R}`, stage: 1, gate: 'forget', arrow: true, q: 'forget' },
      { d: `M${xG} ${top} V${mul + R}`, stage: 2, gate: 'candidate', arrow: true, q: 'candidate' },
      { d: `M${xG} ${mul - R} V${belt + R}`, stage: 2, arrow: true, q: 'written' },
      { d: `M${xO} ${top} V${mul} H${xH - R}`, stage: 4, gate: 'output', arrow: true, q: 'output' },
      { d: `M${xH} ${belt} V${tanhY - 16}`, stage: 4, arrow: true, q: 'cell' },
      { d: `M${xH} ${tanhY + 16} V${mul - R}`, stage: 4, arrow: true, q: 'tanh_cell' },
      { d: `M${xH + R} ${mul} H${xOut} V${bus} H1660`, stage: 4, arrow: true, q: 'hidden' },
      { d: `M${xOut} ${mul} V0`, stage: 4, arrow: true, q: 'hidden' },
      { d: `M0 ${bus} H${xO}`, stage: 0, q: 'h_prev' },
      { d: `M${xX} 860 V${bus}`, stage: 0 },
      ...[xF, xI, xG, xO]
        .filter((x) => !(cifg && x === xI))
        .map((x) => ({ d: `M${x} ${bus} V${boxY + B.height / 2}`, stage: 0, arrow: true })),
    ],
    ops: [
      { kind: 'mul', x: xF, y: belt, stage: 1 },
      { kind: 'add', x: xG, y: belt, stage: 3 },
      { kind: 'mul', x: xG, y: mul, stage: 2 },
      { kind: 'tanh', x: xH, y: tanhY, stage: 4 },
      { kind: 'mul', x: xH, y: mul, stage: 4 },
    ],
    gates: [
      { gate: 'forget', x: xF, y: boxY, stage: 1 },
      { gate: 'candidate', x: xG, y: boxY, stage: 2 },
      { gate: 'output', x: xO, y: boxY, stage: 4 },
    ],
    dots: [
      { x: xX, y: bus },
      { x: xOut, y: mul },
      { x: xH, y: belt },
    ],
    strips: [
      { q: 'c_prev', x: 122, y: belt, labelPos: 'below', stage: 0, outside: true },
      { q: 'kept', x: xI, y: belt, labelPos: 'below', stage: 1 },
      { q: 'cell', x: xO, y: belt, labelPos: 'below', stage: 3 },
      { q: 'forget', x: xF, y: 380, labelPos: 'left', stage: 1 },
      { q: 'input', x: xI, y: 508, lectureY: 480, labelPos: 'left', stage: 2 },
      { q: 'candidate', x: xG, y: 508, lectureY: 480, labelPos: 'left', stage: 2 },
      { q: 'written', x: xG, y: 285, labelPos: 'left', stage: 2 },
      { q: 'output', x: xO, y: 508, lectureY: 480, labelPos: 'left', stage: 4 },
      // lectureY: where a large badge sits when it is not where the grid is (clear of a box or an op).
      { q: 'tanh_cell', x: xH, y: 345, lectureY: 312, labelPos: 'left', stage: 4 },
      { q: 'hidden', x: xOut, y: 590, labelPos: 'left', stage: 4 },
      { q: 'h_prev', x: 122, y: bus, labelPos: 'below', stage: 0, outside: true },
    ],
    texts: [
      { x: 1652, y: belt - 16, base: 'c', sub: 't', cls: 'io', anchor: 'end' },
      { x: 1652, y: bus - 16, base: 'h', sub: 't', cls: 'io', anchor: 'end' },
      { x: xOut + 14, y: 28, base: 'h', sub: 't', cls: 'io' },
    ],
    input: { x: xX, y: 808 },
    legend: { x: 600, y: 790 },
    title: { x: 240, y: 44 },
    units: { x: xOut - 30, y: 44, anchor: 'end' },
  };
  if (cifg) {
    // Coupled gates: the input gate is 1 − f, taken from the forget gate's output.
    L.wires.push({ d: `M${xF} ${top - 22} H${xI - R}`, stage: 2 });
    L.wires.push({ d: `M${xI} ${top - 22 - R} V${mul} H${xG - R}`, stage: 2, gate: 'input', arrow: true, q: 'input' });
    L.ops.push({ kind: 'oneminus', x: xI, y: top - 22, stage: 2 });
    L.dots.push({ x: xF, y: top - 22 });
  } else {
    L.wires.push({ d: `M${xI} ${top} V${mul} H${xG - R}`, stage: 2, gate: 'input', arrow: true, q: 'input' });
    L.gates.splice(1, 0, { gate: 'input', x: xI, y: boxY, stage: 2 });
  }
  if (hasPeepholes(arch)) {
    // Peepholes: the gates also look at the cell state (c_{t−1} for f and i, c_t for o).
    for (const [x, stage] of [
      [xF - 48, 1],
      [xI - 48, 2],
      [xO - 48, 4],
    ]) {
      L.wires.push({ d: `M${x} ${belt} V${top}`, stage, cls: 'peephole', arrow: true });
    }
  }
  return L;
}

function gruLayout() {
  const belt = 150;
  const row = 300; // the 1−z row
  const rmul = 400;
  const boxY = 585;
  const bus = 700;
  const xZ = 460;
  const xOne = 720;
  const xR = 980;
  const xN = 1240;
  const xDown = 262;
  const xX = 320;
  const xBr = 860;
  const xUp = 1570;
  const top = boxY - B.height / 2;
  return {
    viewBox: [1660, 860],
    box: { x: 220, y: 72, w: 1380, h: 690 },
    wires: [
      { d: `M0 ${belt} H${xZ - R}`, stage: 0, cls: 'belt', q: 'h_prev' },
      { d: `M${xZ + R} ${belt} H${xN - R}`, stage: 1, cls: 'belt', q: 'gru_keep' },
      { d: `M${xN + R} ${belt} H1660`, stage: 4, cls: 'belt', arrow: true, q: 'hidden' },
      { d: `M${xDown} ${belt} V${bus} H${xR}`, stage: 0, q: 'h_prev' },
      { d: `M${xX} 860 V${bus}`, stage: 0 },
      { d: `M${xZ} ${bus} V${boxY + B.height / 2}`, stage: 0, arrow: true },
      { d: `M${xR} ${bus} V${boxY + B.height / 2}`, stage: 0, arrow: true },
      { d: `M${xZ} ${top} V${belt + R}`, stage: 1, gate: 'update', arrow: true, q: 'update' },
      { d: `M${xZ} ${row} H${xOne - R}`, stage: 1, arrow: true, q: 'update' },
      { d: `M${xOne + R} ${row} H${xN - R}`, stage: 3, arrow: true },
      { d: `M${xR} ${top} V${rmul + R}`, stage: 1, gate: 'reset', arrow: true, q: 'reset' },
      { d: `M${xBr} ${bus} V${rmul} H${xR - R}`, stage: 0, arrow: true },
      { d: `M${xR + R} ${rmul} H${xN - 120} V${boxY} H${xN - B.width / 2}`, stage: 2, arrow: true },
      { d: `M${xN} ${bus} V${boxY + B.height / 2}`, stage: 0, arrow: true },
      { d: `M${xN} ${top} V${row + R}`, stage: 2, gate: 'candidate', arrow: true, q: 'gru_candidate' },
      { d: `M${xN} ${row - R} V${belt + R}`, stage: 3, arrow: true, q: 'gru_write' },
      { d: `M${xUp} ${belt} V0`, stage: 4, arrow: true, q: 'hidden' },
    ],
    ops: [
      { kind: 'mul', x: xZ, y: belt, stage: 1 },
      { kind: 'add', x: xN, y: belt, stage: 4 },
      { kind: 'oneminus', x: xOne, y: row, stage: 3 },
      { kind: 'mul', x: xN, y: row, stage: 3 },
      { kind: 'mul', x: xR, y: rmul, stage: 1 },
    ],
    gates: [
      { gate: 'update', x: xZ, y: boxY, stage: 1 },
      { gate: 'reset', x: xR, y: boxY, stage: 1 },
      { gate: 'candidate', x: xN, y: boxY, stage: 2 },
    ],
    dots: [
      { x: xDown, y: belt },
      { x: xX, y: bus },
      { x: xZ, y: row },
      { x: xBr, y: bus },
      { x: xUp, y: belt },
    ],
    strips: [
      { q: 'h_prev', x: 122, y: belt, labelPos: 'below', stage: 0, outside: true },
      { q: 'gru_keep', x: 850, y: belt, labelPos: 'below', stage: 1 },
      { q: 'hidden', x: 1440, y: belt, labelPos: 'below', stage: 4 },
      { q: 'update', x: xZ, y: 470, labelPos: 'left', stage: 1 },
      { q: 'reset', x: xR, y: 500, lectureY: 480, labelPos: 'right', badgePos: 'left', stage: 1 },
      { q: 'gru_candidate', x: xN, y: 480, labelPos: 'right', stage: 2 },
      // At the lecture level labelled on the left of its number: on the right, the label of the larger
      // number would run into h_t's, under the belt.
      { q: 'gru_write', x: xN, y: 238, labelPos: 'right', lectureLabelPos: 'left', badgePos: 'left', stage: 3 },
    ],
    texts: [
      { x: 1652, y: belt - 16, base: 'h', sub: 't', cls: 'io', anchor: 'end' },
      { x: xUp + 14, y: 28, base: 'h', sub: 't', cls: 'io' },
      { x: xR + R + 10, y: rmul - 12, base: 'r⊙h', sub: 't−1', cls: 'wire-note' },
    ],
    input: { x: xX, y: 808 },
    legend: { x: 640, y: 790 },
    title: { x: 225, y: 44 },
    units: { x: xUp - 30, y: 44, anchor: 'end' },
  };
}

function rnnLayout(arch) {
  const bus = 440;
  const boxY = 300;
  const out = 150;
  const xBox = 700;
  const xX = 330;
  const xJ = 1080;
  return {
    viewBox: [1320, 600],
    box: { x: 250, y: 72, w: 980, h: 440 },
    wires: [
      { d: `M0 ${bus} H${xBox} V${boxY + B.height / 2}`, stage: 0, arrow: true, q: 'h_prev' },
      { d: `M${xX} 600 V${bus}`, stage: 0 },
      { d: `M${xBox} ${boxY - B.height / 2} V${out} H${xJ}`, stage: 1, q: 'hidden' },
      { d: `M${xJ} ${out} V0`, stage: 1, arrow: true, q: 'hidden' },
      { d: `M${xJ} ${out} V${bus} H1320`, stage: 1, arrow: true, q: 'hidden' },
    ],
    ops: [],
    gates: [{ gate: 'hidden', x: xBox, y: boxY, stage: 1, fn: activationName(arch) }],
    dots: [
      { x: xX, y: bus },
      { x: xJ, y: out },
    ],
    strips: [
      { q: 'h_prev', x: 122, y: bus, labelPos: 'below', stage: 0, outside: true },
      { q: 'hidden', x: 890, y: out, labelPos: 'below', stage: 1 },
    ],
    texts: [
      { x: 1312, y: bus - 16, base: 'h', sub: 't', cls: 'io', anchor: 'end' },
      { x: xJ + 14, y: 28, base: 'h', sub: 't', cls: 'io' },
      {
        x: xBox + B.width / 2 + 14,
        y: boxY + 8,
        base: `${activationName(arch)}(W·x + U·h + b)`,
        sub: '',
        cls: 'wire-note',
      },
    ],
    input: { x: xX, y: 548 },
    legend: { x: 760, y: 530 },
    title: { x: 250, y: 44 },
    units: { x: xJ - 30, y: 44, anchor: 'end' },
    // The hidden box is not a gate: it cannot be clamped.
    noClamp: true,
  };
}

// ------------------------------------------------------------------------------------------- the values
const zeros = (n) => new Array(n).fill(0);
const mul = (a, b) => a.map((v, j) => v * b[j]);

// Every vector the diagram shows at step t of one layer.
export function quantities(fam, cur, prev, below) {
  const H = cur.hidden.length;
  const hPrev = prev?.hidden ?? zeros(H);
  const q = { h_prev: hPrev, hidden: cur.hidden, x: below?.hidden ?? null };
  if (fam === 'lstm') {
    const g = cur.gates;
    const cPrev = prev?.cell ?? zeros(H);
    Object.assign(q, {
      c_prev: cPrev,
      forget: g.forget,
      input: g.input,
      candidate: g.candidate,
      output: g.output,
      kept: mul(g.forget, cPrev),
      written: mul(g.input, g.candidate),
      cell: cur.cell,
      tanh_cell: cur.tanh_cell,
    });
  } else if (fam === 'gru') {
    const g = cur.gates;
    Object.assign(q, {
      update: g.update,
      reset: g.reset,
      gru_candidate: g.candidate,
      gru_keep: mul(g.update, hPrev),
      gru_write: g.candidate.map((n, j) => (1 - g.update[j]) * n),
    });
  }
  return q;
}

const SUB = { 't−1': 'ₜ₋₁', t: 'ₜ' };

// The equation behind one unit of one quantity, with its numbers filled in.
export function equation(fam, arch, key, j, q, cur) {
  const v = (name) => q[name][j];
  const pre = (gate) => cur.preactivations?.[gate]?.[j];
  const clamped = (gate) => (cur.clamped?.[gate] ?? []).includes(j);
  const gateEq = (gate, sym, fn) => {
    const p = pre(gate);
    const value = q[gate === 'candidate' && fam === 'gru' ? 'gru_candidate' : gate][j];
    if (isCoupled(arch, gate)) return `${sym}[${j}] = 1 − f = 1 − ${fmt(q.forget[j])} = ${fmt(value)}`;
    const body = p === undefined ? '' : ` = ${fn}(${fmt(p)})`;
    if (clamped(gate)) {
      const orig = fn === 'σ' ? 1 / (1 + Math.exp(-p)) : Math.tanh(p);
      return `${sym}[${j}] = ${fmt(value)}  — clamped (the network computed ${fn}(${fmt(p)}) = ${fmt(orig)})`;
    }
    return `${sym}[${j}] = ${fn}(pre)${body} = ${fmt(value)}`;
  };
  switch (key) {
    case 'forget':
      return gateEq('forget', 'f', 'σ');
    case 'input':
      return gateEq('input', 'i', 'σ');
    case 'output':
      return gateEq('output', 'o', 'σ');
    case 'update':
      return gateEq('update', 'z', 'σ');
    case 'reset':
      return gateEq('reset', 'r', 'σ');
    case 'candidate':
      return gateEq('candidate', 'c̃', 'tanh');
    case 'gru_candidate':
      return gateEq('candidate', 'h̃', 'tanh');
    case 'c_prev':
      return `c${SUB['t−1']}[${j}] = ${fmt(v('c_prev'))}`;
    case 'h_prev':
      return `h${SUB['t−1']}[${j}] = ${fmt(v('h_prev'))}`;
    case 'x':
      return `x${SUB.t}[${j}] = h of the layer below = ${fmt(v('x'))}`;
    case 'kept':
      return `(f·c${SUB['t−1']})[${j}] = ${fmtFactor(v('forget'))}·${fmtFactor(v('c_prev'))} = ${fmt(v('kept'))}`;
    case 'written':
      return `(i·c̃)[${j}] = ${fmtFactor(v('input'))}·${fmtFactor(v('candidate'))} = ${fmt(v('written'))}`;
    case 'cell':
      return (
        `c[${j}] = f·c${SUB['t−1']} + i·c̃ = ${fmtFactor(v('forget'))}·${fmtFactor(v('c_prev'))} + ` +
        `${fmtFactor(v('input'))}·${fmtFactor(v('candidate'))} = ${fmt(v('cell'))}`
      );
    case 'tanh_cell':
      return `tanh(c)[${j}] = tanh(${fmt(v('cell'))}) = ${fmt(v('tanh_cell'))}`;
    case 'gru_keep':
      return `(z·h${SUB['t−1']})[${j}] = ${fmtFactor(v('update'))}·${fmtFactor(v('h_prev'))} = ${fmt(v('gru_keep'))}`;
    case 'gru_write':
      return `((1−z)·h̃)[${j}] = (1 − ${fmt(v('update'))})·${fmtFactor(v('gru_candidate'))} = ${fmt(v('gru_write'))}`;
    case 'hidden':
      if (fam === 'lstm')
        return `h[${j}] = o·tanh(c) = ${fmtFactor(v('output'))}·${fmtFactor(v('tanh_cell'))} = ${fmt(v('hidden'))}`;
      if (fam === 'gru')
        return (
          `h[${j}] = (1−z)·h̃ + z·h${SUB['t−1']} = (1 − ${fmt(v('update'))})·${fmtFactor(v('gru_candidate'))} + ` +
          `${fmtFactor(v('update'))}·${fmtFactor(v('h_prev'))} = ${fmt(v('hidden'))}`
        );
      return `h[${j}] = ${activationName(arch)}(W·x${SUB.t} + U·h${SUB['t−1']} + b) = ${fmt(v('hidden'))}`;
    default:
      return `${key}[${j}] = ${fmt(v(key))}`;
  }
}

// Whose label keeps its place when two would collide (CellDiagram.declutter): the cell's inputs and
// outputs first, then the gates, then the products between them.
const LABEL_ORDER = ['c_prev', 'cell', 'h_prev', 'hidden', 'forget', 'input', 'candidate', 'output', 'update', 'reset'];
const labelRank = (key) => (LABEL_ORDER.includes(key) ? LABEL_ORDER.indexOf(key) : LABEL_ORDER.length);
const LABEL_SIDES = ['below', 'above', 'left', 'right'];
const LABEL_SLIDES = [0, -0.35, 0.35, -0.7, 0.7]; // along a side, in the label's height (or width)
const CHIP_CHARS = 8; // the token chip's room, in characters: most words

// ------------------------------------------------------------------------------------------ the figure
export class CellDiagram extends Figure {
  // clampable: false draws the gate boxes as pictures, not buttons (compare mode's second model: clamps
  // apply to the main model only).
  constructor({ container, clampable = true }) {
    super({ container });
    this.uid = ++instances;
    this.clampable = clampable;
    this.arch = null;
    this.hidden = 0;
    this.units = [];
    this.scales = null;
    this.view = null;
    this.q = null;
    this.animToken = 0;
    this.level = 'research';
    this.zoom = null; // {key, strip, root, onKey}: the wire shown whole
    this.zoomKey = ''; // the wire asked for (setZoom), open once the values are there
    this.container.classList.add('cell-diagram');
    this.svgRoot = svg('svg', { role: 'group', 'aria-label': 'LSTM cell diagram' }, this.container);
    this.levelBar = this.makeLevelBar();
    this.tooltip = document.createElement('div');
    this.tooltip.className = 'tooltip';
    this.tooltip.setAttribute('role', 'tooltip');
    this.tooltip.hidden = true;
    this.container.append(this.tooltip);
    this.listen();
    // The text keeps a readable size however small the figure is drawn (see fitText).
    this.textScale = { k: 0, min: 0 };
    new ResizeObserver(() => this.fitText()).observe(this.svgRoot);
  }

  // The SVG scales to its box, and with it its text: where a label would come out under the screen's
  // smallest readable size (minTextPx), --tmin raises it (the stylesheet's font sizes are max(own, --tmin))
  // and the value badges grow to match. data-detail="compact" drops the marks that cannot fit at that size.
  fitText() {
    if (!this.layout) return;
    const box = this.svgRoot.getBoundingClientRect();
    if (!box.width || !box.height) return;
    const [vw, vh] = this.layout.viewBox;
    const k = Math.min(box.width / vw, box.height / vh); // CSS px per viewBox unit (preserveAspectRatio meet)
    const min = minTextPx(window.innerWidth, window.innerHeight);
    if (k === this.textScale.k && min === this.textScale.min) return;
    this.textScale = { k, min };
    const tmin = min / k; // the smallest text, in viewBox units
    this.svgRoot.style.setProperty('--tmin', `${(Math.ceil(tmin * 100) / 100).toFixed(2)}px`);
    const compact = tmin > 24;
    this.svgRoot.dataset.detail = compact ? 'compact' : 'full';
    this.tmin = tmin;
    const badge = Math.max(1, tmin / DIAGRAM.bigCell.valuePx);
    this.badgeScale = badge;
    for (const strip of this.strips?.values() ?? []) {
      strip.setTight(compact);
      strip.setBadgeScale(badge);
    }
    this.zoom?.strip.setBadgeScale(badge);
    this.fitGateBoxes();
    if (this.view) this.drawInput(this.view);
    if (this.view && this.unitsNote) this.drawTitle(this.view);
    this.declutter();
  }

  // Every label clear of every other mark. The layout puts each label on one side of what it names; a
  // label that would run into a number, a layer box, an op, another label or the level toggle there —
  // a figure drawn small, whose text is held at the readable size while the room between wires shrinks
  // with it — tries the other sides (below, above, left, right), and where none is free it is left out:
  // the wire's hover, its zoom and its aria-label still name it. So is the units note at the top.
  declutter() {
    if (!this.strips || !this.layout) return;
    const m = this.svgRoot.getScreenCTM();
    if (!m?.a || !this.svgRoot.getBoundingClientRect().width) return;
    // Screen boxes to viewBox units (the root's own coordinates, where the strips are placed).
    const units = (r) => ({ l: (r.left - m.e) / m.a, r: (r.right - m.e) / m.a, t: (r.top - m.f) / m.d, b: (r.bottom - m.f) / m.d });
    const boxOf = (el) => {
      const r = el.getBoundingClientRect();
      return r.width && r.height ? units(r) : null;
    };
    const marks = '.big-bg, .gate-box > rect.box, .op > *, text.io, .x-input, .legend, .diagram-title';
    const taken = [...this.svgRoot.querySelectorAll(marks), this.levelBar].map(boxOf).filter(Boolean);
    if (this.chipRoom && !this.xStrip) {
      // The room kept for the token's chip and its x_t label, whatever the token (drawInput).
      const fs = Math.max(26, this.tmin ?? 0);
      const { x, y } = this.layout.input;
      taken.push({ l: x - this.chipRoom / 2, r: x + this.chipRoom / 2 + 12 + 1.3 * fs, t: y + 2 - 1.08 * fs, b: y + 2 + 0.46 * fs });
    }
    const [vw, vh] = this.layout.viewBox;
    const E = 1; // viewBox units two boxes may share (a hairline)
    const hits = (a, b) => Math.min(a.r, b.r) - Math.max(a.l, b.l) > E && Math.min(a.b, b.b) - Math.max(a.t, b.t) > E;
    const free = (b) => b.l >= -E && b.t >= -E && b.r <= vw + E && b.b <= vh + E && !taken.some((o) => hits(o, b));
    // A note beside a layer box (the RNN's tanh(W·x + U·h + b)) moves right of the box grown to hold its name.
    const boxes = [...this.svgRoot.querySelectorAll('.gate-box > rect.box')].map(boxOf).filter(Boolean);
    for (const note of this.svgRoot.querySelectorAll('text.wire-note')) {
      note.dataset.x ??= note.getAttribute('x');
      note.setAttribute('x', note.dataset.x);
      const at = boxOf(note);
      const box = at && boxes.find((b) => hits(b, at));
      if (box) note.setAttribute('x', Number(note.dataset.x) + box.r - at.l + 8);
      const moved = boxOf(note);
      if (moved) taken.push(moved);
    }
    const order = [...this.strips.values()].sort((a, b) => labelRank(a.key) - labelRank(b.key));
    for (const strip of order) {
      const el = strip.labelEl;
      el.style.visibility = '';
      const now = boxOf(el);
      if (!now) continue;
      // The label's extent about its anchor point (its baseline, at its text-anchor), in viewBox units.
      const ax = strip.origin.x + Number(el.getAttribute('x'));
      const ay = strip.origin.y + Number(el.getAttribute('y'));
      const w = now.r - now.l;
      const asc = ay - now.t;
      const desc = now.b - ay;
      const gap = Math.max(6, 0.15 * (asc + desc));
      const prefer = strip.preferredLabelPos();
      let placed = null;
      // Each side, then slid along it by part of the label's own size: the nearest free place.
      const tries = [prefer, ...LABEL_SIDES.filter((side) => side !== prefer)].flatMap((pos) =>
        LABEL_SLIDES.map((f) => ({ pos, f })),
      );
      for (const { pos, f } of tries) {
        const spot = strip.labelSpot(pos, { asc, desc, gap });
        if (pos === 'left' || pos === 'right') spot.y += f * (asc + desc);
        else spot.x += f * w;
        const l = strip.origin.x + spot.x - (spot.anchor === 'end' ? w : spot.anchor === 'middle' ? w / 2 : 0);
        const box = { l, r: l + w, t: strip.origin.y + spot.y - asc, b: strip.origin.y + spot.y + desc };
        if (free(box)) {
          placed = { spot, box };
          break;
        }
      }
      if (placed) taken.push(placed.box);
      strip.setLabelSpot(placed?.spot ?? strip.labelSpot(prefer, { asc, desc, gap }), Boolean(placed));
    }
    if (this.unitsNote) {
      // Its line, else the line under it (beside a long title), else left out.
      const el = this.unitsNote;
      el.setAttribute('y', this.layout.units.y);
      el.style.visibility = '';
      const note = boxOf(el);
      if (note && !free(note)) {
        const down = 1.15 * (note.b - note.t);
        if (free({ ...note, t: note.t + down, b: note.b + down })) el.setAttribute('y', this.layout.units.y + down);
        else el.style.visibility = 'hidden';
      }
    }
  }

  // A layer box widens (about its centre, up to the room between boxes) to hold its name at the
  // raised size; the text sizes are already resolved here, so the lengths are the ones drawn.
  // It grows taller (about its centre) to stack σ/tanh over the name at their raised sizes.
  // A name that the room between boxes cannot hold at that size ("candidate c̃" in a figure drawn
  // small) gives way to its symbol (c̃), or is left out: the box keeps its σ or tanh, as in Colah's
  // figure, instead of running into the next box.
  fitGateBoxes() {
    for (const node of this.gateNodes?.values() ?? []) {
      const name = node.querySelector('.gate-name');
      const fn = node.querySelector('.fn');
      name.style.display = '';
      name.textContent = name.dataset.full;
      let length = name.getComputedTextLength() + 14;
      if (length > B.maxWidth && name.dataset.short) {
        name.textContent = name.dataset.short; // the candidate's symbol, c̃ or h̃
        length = name.getComputedTextLength() + 14;
      }
      const fits = length <= B.maxWidth;
      name.style.display = fits ? '' : 'none';
      const need = Math.min(B.maxWidth, Math.max(B.width, fits ? length : 0, fn.getComputedTextLength() + 14));
      const fnPx = parseFloat(getComputedStyle(fn).fontSize);
      const namePx = fits ? parseFloat(getComputedStyle(name).fontSize) : 0;
      const tall = Math.max(B.height, fnPx + namePx + (this.svgRoot.dataset.detail === 'compact' ? 12 : 18));
      const x = (B.width - need) / 2;
      const y = (B.height - tall) / 2;
      for (const r of node.querySelectorAll(':scope > rect')) {
        r.setAttribute('x', x);
        r.setAttribute('width', need);
        if (r.classList.contains('accent')) r.setAttribute('y', y + tall - 7);
        else {
          r.setAttribute('y', y);
          r.setAttribute('height', tall);
        }
      }
      fn.setAttribute('y', y + 3 + fnPx * 0.85);
      name.setAttribute('y', y + tall - 9 - namePx * 0.18);
    }
  }

  // The level toggle: two buttons, the pressed one is the level drawn.
  makeLevelBar() {
    const bar = html('div', { class: 'detail-toggle', role: 'group', 'aria-label': 'level of detail' });
    const titles = {
      lecture: 'Lecture: the selected units’ numbers on each wire',
      research: 'Research: every unit of every wire',
    };
    for (const level of ['lecture', 'research']) {
      const b = html('button', { type: 'button', class: 'toggle', dataset: { level }, title: titles[level] }, level);
      b.addEventListener('click', () => this.emit('detail', level));
      bar.append(b);
    }
    this.container.append(bar);
    return bar;
  }

  // ---- setters
  setLevel(level) {
    this.level = level === 'lecture' ? 'lecture' : 'research';
    this.svgRoot.dataset.level = this.level;
    for (const b of this.levelBar.children) b.setAttribute('aria-pressed', String(b.dataset.level === this.level));
    for (const strip of this.strips?.values() ?? []) strip.setLecture(this.level === 'lecture');
    if (this.view && this.unitsNote) this.drawTitle(this.view);
    this.declutter();
  }

  setModel(arch, hiddenSize) {
    if (arch === this.arch && hiddenSize === this.hidden) return;
    this.arch = arch;
    this.hidden = hiddenSize;
    this.family = family(arch);
    this.q = null;
    this.build();
  }

  setUnits(units, force = false) {
    const next = units ?? [];
    if (!force && next.join() === this.units.join()) return;
    this.units = next;
    for (const s of this.strips.values()) s.setSelected(this.units);
    this.zoom?.strip.setSelected(this.units);
    if (this.view && this.unitsNote) this.drawTitle(this.view);
    this.declutter();
  }

  setScales(scales, cellRange) {
    this.scales = scales;
    this.cellRange = cellRange;
  }

  // view: {t, T, token, layer, layers, cur, prev, below, clamps (this layer's interventions)}
  update(view, { animateMs = 0 } = {}) {
    this.view = view;
    this.draw(animateMs);
  }

  // ---- building the skeleton (once per architecture and size)
  build() {
    const L =
      this.family === 'lstm' ? lstmLayout(this.arch) : this.family === 'gru' ? gruLayout() : rnnLayout(this.arch);
    this.layout = L;
    this.closeZoom(false);
    const root = this.svgRoot;
    root.replaceChildren();
    root.setAttribute('viewBox', `0 0 ${L.viewBox[0]} ${L.viewBox[1]}`);
    root.setAttribute('aria-label', `${this.arch.toUpperCase()} cell diagram`);
    const defs = svg('defs', {}, root);
    const arrowId = `arrow-${this.uid}`;
    const marker = svg(
      'marker',
      {
        id: arrowId,
        viewBox: '0 0 10 10',
        refX: 8,
        refY: 5,
        markerWidth: 5,
        markerHeight: 5,
        orient: 'auto-start-reverse',
      },
      defs,
    );
    svg('path', { d: 'M0 0 L10 5 L0 10 z', class: 'arrowhead' }, marker);
    const hatchId = `hatch-${this.uid}`;
    const hatch = svg(
      'pattern',
      { id: hatchId, width: 8, height: 8, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
      defs,
    );
    svg('rect', { width: 8, height: 8, class: 'hatch-bg' }, hatch);
    svg('line', { x1: 0, y1: 0, x2: 0, y2: 8, class: 'hatch-line' }, hatch);
    root.style.setProperty('--hatch', `url(#${hatchId})`);

    svg('rect', { class: 'cell-box', x: L.box.x, y: L.box.y, width: L.box.w, height: L.box.h, rx: 36 }, root);
    this.title = svg('text', { class: 'diagram-title', x: L.title.x, y: L.title.y }, root);
    this.unitsNote = svg(
      'text',
      { class: 'diagram-units', x: L.units.x, y: L.units.y, 'text-anchor': L.units.anchor },
      root,
    );
    this.legend = svg('g', { class: 'legend', transform: `translate(${L.legend.x},${L.legend.y})` }, root);

    const wires = svg('g', { class: 'wires' }, root);
    for (const w of L.wires) {
      svg(
        'path',
        {
          d: w.d,
          class: `wire ${w.cls ?? ''}`,
          'data-stage': w.stage,
          'data-gate': w.gate,
          'marker-end': w.arrow ? `url(#${arrowId})` : null,
        },
        wires,
      );
    }
    for (const d of L.dots) svg('circle', { class: 'junction', cx: d.x, cy: d.y, r: 6 }, wires);
    this.wireNodes = [...wires.querySelectorAll('.wire')];
    // A wide, invisible stroke over each wire that carries a quantity: what a click on the wire hits.
    const hits = svg('g', { class: 'wire-hits' }, root);
    for (const w of L.wires.filter((x) => x.q)) {
      const hit = svg('path', { d: w.d, class: 'wire-hit', 'data-q': w.q }, hits);
      svg('title', {}, hit).textContent = `${QUANTITIES[w.q].hint}: click for all its units`;
    }

    const ops = svg('g', { class: 'ops' }, root);
    for (const o of L.ops) this.drawOp(ops, o);

    this.gateNodes = new Map();
    const boxes = svg('g', { class: 'gates' }, root);
    for (const gb of L.gates) this.drawGate(boxes, gb, L.noClamp || !this.clampable);

    for (const t of L.texts) {
      label(root, t.base, t.sub, { x: t.x, y: t.y, class: t.cls, 'text-anchor': t.anchor ?? 'start' });
    }

    this.geo = stripGeometry(this.hidden);
    this.strips = new Map();
    const strips = svg('g', { class: 'strips' }, root);
    for (const s of L.strips) {
      const spec = QUANTITIES[s.q];
      const strip = new Strip(strips, {
        key: s.q,
        x: s.x,
        y: s.y,
        geometry: this.geo,
        labelBase: spec.base,
        labelSub: spec.sub,
        labelPos: s.labelPos,
        lectureLabelPos: s.lectureLabelPos,
        badgePos: s.badgePos,
        lectureDy: (s.lectureY ?? s.y) - s.y,
      });
      strip.root.dataset.stage = s.stage;
      strip.root.classList.toggle('outside', Boolean(s.outside));
      strip.setLecture(this.level === 'lecture');
      this.strips.set(s.q, strip);
    }
    this.inputGroup = svg('g', { class: 'x-input', transform: `translate(${L.input.x},${L.input.y})` }, root);
    this.xStrip = null;
    this.zoomLayer = svg('g', { class: 'zoom-layer' }, root);
    this.setUnits(this.units, true);
    this.container.style.setProperty('--aspect', String(L.viewBox[0] / L.viewBox[1]));
    this.textScale = { k: 0, min: 0 };
    this.fitText();
  }

  drawOp(parent, o) {
    const g = svg(
      'g',
      { class: `op op-${o.kind}`, 'data-stage': o.stage, transform: `translate(${o.x},${o.y})` },
      parent,
    );
    if (o.kind === 'tanh') {
      svg('rect', { x: -34, y: -16, width: 68, height: 32, rx: 16 }, g);
    } else {
      svg('circle', { r: R }, g);
    }
    const sym = { mul: '×', add: '+', tanh: 'tanh', oneminus: '1−' }[o.kind];
    const t = svg('text', { 'text-anchor': 'middle', y: o.kind === 'tanh' || o.kind === 'oneminus' ? 6 : 9 }, g);
    t.textContent = sym;
  }

  drawGate(parent, gb, noClamp) {
    const spec = GATES[gb.gate];
    const g = svg(
      'g',
      {
        class: `gate-box${noClamp ? ' no-clamp' : ''}`,
        'data-gate': gb.gate,
        'data-stage': gb.stage,
        transform: `translate(${gb.x - B.width / 2},${gb.y - B.height / 2})`,
        tabindex: noClamp ? null : 0,
        role: noClamp ? 'img' : 'button',
        'aria-label': noClamp ? spec.name : `${spec.name}: click to clamp`,
      },
      parent,
    );
    g.style.setProperty('--accent', `var(${spec.accent})`);
    svg('rect', { class: 'box', width: B.width, height: B.height, rx: B.radius }, g);
    svg('rect', { class: 'accent', x: 0, y: B.height - 7, width: B.width, height: 7, rx: 2 }, g);
    svg('rect', { class: 'hatch', width: B.width, height: B.height, rx: B.radius }, g);
    const fn = svg('text', { class: 'fn', x: B.width / 2, y: B.height * 0.46, 'text-anchor': 'middle' }, g);
    fn.textContent = gb.fn ?? spec.fn;
    const name = svg('text', { class: 'gate-name', x: B.width / 2, y: B.height * 0.84, 'text-anchor': 'middle' }, g);
    const symbol = gb.gate === 'candidate' ? (this.family === 'gru' ? 'h̃' : 'c̃') : '';
    name.dataset.full = symbol ? `candidate ${symbol}` : spec.name.replace(' gate', '');
    if (symbol) name.dataset.short = symbol;
    name.textContent = name.dataset.full;
    const lock = svg('g', { class: 'lock', transform: `translate(${B.width - 22},6)` }, g);
    svg('rect', { x: 2, y: 7, width: 14, height: 10, rx: 2 }, lock);
    svg('path', { d: 'M5 7 V4.5 a4 4 0 0 1 8 0 V7', class: 'shackle' }, lock);
    const cv = svg('text', { class: 'clamp-value', x: B.width / 2, y: -10, 'text-anchor': 'middle' }, g);
    cv.textContent = '';
    this.gateNodes.set(gb.gate, g);
  }

  // ---- painting
  // Which scale a quantity takes is trace-doc.js's to say (an IRNN's unbounded h takes the cell's).
  scaleOf(key) {
    return this.scales[scaleOf(this.arch, key, QUANTITIES[key].scale)];
  }

  // The forward animation, in computation order: each stage's wires flash and its strips move from the
  // previous step's values to this step's, one stage after another.
  animate(q, from, stageMs, mine) {
    // Read once per theme: getComputedStyle on every step would force a style recalculation.
    const theme = document.body.dataset.theme;
    if (this.pulseColors?.theme !== theme) {
      const css = getComputedStyle(this.svgRoot);
      this.pulseColors = {
        theme,
        wire: css.getPropertyValue('--wire').trim(),
        pulse: css.getPropertyValue('--pulse').trim(),
      };
    }
    const { wire, pulse } = this.pulseColors;
    for (const el of this.wireNodes) {
      el.animate([{ stroke: wire }, { stroke: pulse, offset: 0.35 }, { stroke: wire }], {
        duration: stageMs * 1.6,
        delay: Number(el.dataset.stage) * stageMs,
      });
    }
    const start = performance.now();
    const progress = new Map();
    const frame = (now) => {
      if (mine !== this.animToken) return;
      let pending = false;
      for (const [key, strip] of this.strips) {
        const stage = Number(strip.root.dataset.stage);
        const u = Math.max(0, Math.min(1, (now - start - stage * stageMs) / stageMs));
        if (u < 1) pending = true;
        if (progress.get(key) === u) continue;
        progress.set(key, u);
        strip.setValues(q[key], this.scaleOf(key), { from: from[key], u });
      }
      if (pending) requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  }

  draw(animateMs = 0) {
    const v = this.view;
    if (!v || !this.scales) return;
    const q = quantities(this.family, v.cur, v.prev, v.below);
    const from = this.q;
    this.q = q;
    // A newer draw stops the animation of an older one (it checks this counter every frame).
    const mine = ++this.animToken;
    if (animateMs > 0 && from && !prefersReducedMotion()) this.animate(q, from, animateMs / STAGES.length, mine);
    else for (const [key, strip] of this.strips) strip.setValues(q[key], this.scaleOf(key));
    if (this.zoom) this.paintZoom();
    else if (this.zoomKey) this.openZoom(this.zoomKey, { focus: false }); // asked for before the values came
    // Clamped look: a layer box is hatched and locked when its gate is clamped at this step.
    for (const [gate, node] of this.gateNodes) {
      const units = v.cur.clamped?.[gate];
      const clampsHere = (v.clamps ?? []).filter((c) => c.gate === gate);
      node.classList.toggle('clamped', Boolean(units && units.length));
      node.classList.toggle('clamped-elsewhere', !units?.length && clampsHere.length > 0);
      const valueText = node.querySelector('.clamp-value');
      if (units?.length) {
        const c = clampsHere.find((i) => i.start === null || i.start <= v.t) ?? clampsHere[0];
        const scope = units.length === this.hidden ? '' : ` (${units.length} unit${units.length > 1 ? 's' : ''})`;
        valueText.textContent = c ? `clamped = ${fmt(c.value)}${scope}` : 'clamped';
      } else {
        valueText.textContent = '';
      }
      const stripKey = gate === 'candidate' && this.family === 'gru' ? 'gru_candidate' : gate;
      this.strips.get(stripKey)?.setClamped(units?.length ? units : null);
      if (this.zoom?.key === stripKey) this.zoom.strip.setClamped(units?.length ? units : null);
    }
    this.drawInput(v);
    this.drawTitle(v);
    this.drawLegend();
  }

  drawInput(v) {
    const g = this.inputGroup;
    if (v.below) {
      if (!this.xStrip) {
        g.replaceChildren();
        this.xStrip = new Strip(g, {
          key: 'x',
          x: 0,
          y: -8,
          geometry: stripGeometry(v.below.hidden.length),
          labelBase: 'x',
          labelSub: 't',
          labelPos: 'right',
          bigMax: 0,
        });
        this.xStrip.root.dataset.stage = 0;
      }
      this.xStrip.setValues(v.below.hidden, this.scales.tanh);
      g.querySelector('.x-note')?.remove();
      const note = svg('text', { class: 'x-note', x: 0, y: 34, 'text-anchor': 'middle' }, g);
      note.textContent = `= h of layer ${v.layer} (below)`;
      return;
    }
    this.xStrip = null;
    g.replaceChildren();
    const text = `${showToken(v.token.text)}`;
    // The chip holds its token at the size drawn (.x-chip text: 26 units, raised to --tmin).
    const fs = Math.max(26, this.tmin ?? 0);
    const w = Math.max(60, 22 + 0.615 * fs * [...text].length);
    const chip = svg('g', { class: `x-chip${v.token.unknown ? ' unknown' : ''}` }, g);
    svg('rect', { x: -w / 2, y: 2 - 1.08 * fs, width: w, height: 1.54 * fs, rx: 8 }, chip);
    const t = svg('text', { x: 0, y: 2, 'text-anchor': 'middle' }, chip);
    t.textContent = text;
    label(g, 'x', 't', { class: 'io', x: w / 2 + 12, y: 2 });
    if (v.token.unknown) {
      const u = svg('text', { class: 'x-note', x: w / 2 + 60, y: 2 }, g);
      u.textContent = 'unknown → <unk>';
    }
    // The labels keep clear of a chip of CHIP_CHARS characters (declutter), placed again only when a
    // longer token's chip outgrows that: not on every step.
    const room = Math.max(w, 22 + 0.615 * fs * CHIP_CHARS);
    if (room !== this.chipRoom) {
      this.chipRoom = room;
      this.declutter();
    }
  }

  drawTitle(v) {
    const layer = v.layers > 1 ? ` · layer ${v.layer + 1} of ${v.layers}` : '';
    this.title.textContent = `step ${v.t + 1} of ${v.T}: reading “${showToken(v.token.text)}”${layer}`;
    // Which units the badges show, said once for all of them (a small figure has room for fewer).
    const fit = this.strips.get('hidden')?.big.childElementCount ?? 0;
    const shown = this.units.slice(0, Math.max(fit, 1));
    const more = this.units.slice(shown.length, DIAGRAM.bigCell.max);
    const which = `unit${shown.length > 1 ? 's' : ''} ${shown.join(', ')}`;
    const before = this.unitsNote.textContent;
    if (this.level === 'lecture') {
      this.unitsNote.textContent = shown.length ? `${which} · click a wire for all` : 'click a wire to see its units';
    } else {
      const also = more.length ? ` (also selected ${more.join(', ')})` : '';
      this.unitsNote.textContent = shown.length ? `badges: ${which}${also}` : '';
    }
    if (this.unitsNote.textContent !== before) this.declutter(); // a longer note may not fit where it is
    this.svgRoot.setAttribute(
      'aria-label',
      `${this.arch.toUpperCase()} cell at step ${v.t + 1} of ${v.T}, reading ${v.token.text}${layer}`,
    );
  }

  drawLegend() {
    const g = this.legend;
    g.replaceChildren();
    // One entry per scale this arch's vectors are drawn on (archs.js).
    const range = fmt(this.cellRange, 1);
    const all = { gate: ['gates', '0', '1'], tanh: ['tanh', '−1', '1'], cell: ['cell', `−${range}`, `+${range}`] };
    const entries = scalesUsed(this.arch).map((s) => [all[s][0], this.scales[s], all[s][1], all[s][2]]);
    entries.forEach(([name, scale, lo, hi], k) => {
      const x = k * 270;
      const n = 36;
      const t = svg('text', { class: 'legend-name', x: x - 8, y: 19, 'text-anchor': 'end' }, g);
      t.textContent = name;
      const a = svg('text', { class: 'legend-tick', x, y: 44 }, g);
      a.textContent = lo;
      for (let s = 0; s < n; s++) {
        const val = scale.lo + ((scale.hi - scale.lo) * (s + 0.5)) / n;
        svg('rect', { x: x + s * 5, y: 6, width: 5.3, height: 18, style: `fill:${scale.color(val)}` }, g);
      }
      const b = svg('text', { class: 'legend-tick', x: x + n * 5, y: 44, 'text-anchor': 'end' }, g);
      b.textContent = hi;
    });
  }

  // ---- interaction
  // The unit under a pointer event or focused element: a large cell names it; on a strip's canvas it is
  // found from the pointer's position in the strip's own coordinates.
  unitOf(ev) {
    const big = ev.target.closest?.('.big[data-u]');
    if (big) return { key: big.dataset.q, unit: Number(big.dataset.u), el: big };
    if (!ev.target.classList?.contains('strip-canvas')) return null;
    const strip = ev.target.closest('.strip');
    const local = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(strip.getScreenCTM().inverse());
    const key = strip.dataset.q;
    const geo = key === 'x' ? this.xStrip?.geo : strip.closest('.zoom') ? this.zoom?.strip.geo : this.geo;
    const unit = geo ? unitAt(geo, local.x, local.y) : null;
    return unit === null ? null : { key, unit, el: ev.target };
  }

  listen() {
    const root = this.svgRoot;
    let hovered = null;
    root.addEventListener('pointermove', (ev) => {
      const hit = this.unitOf(ev);
      const id = hit && `${hit.key}:${hit.unit}`;
      if (id !== hovered) {
        hovered = id;
        if (hit) this.showTooltip(hit, ev.clientX, ev.clientY);
        else this.hideTooltip();
      } else if (hit) {
        this.placeTooltip(ev.clientX, ev.clientY);
      }
    });
    root.addEventListener('pointerleave', () => {
      hovered = null;
      this.hideTooltip();
    });
    root.addEventListener('focusin', (ev) => {
      const hit = this.unitOf(ev);
      if (hit) {
        const r = hit.el.getBoundingClientRect();
        this.showTooltip(hit, r.right, r.bottom);
      }
    });
    root.addEventListener('focusout', () => this.hideTooltip());
    root.addEventListener('click', (ev) => {
      if (ev.target.closest('.zoom-close, .zoom-bg')) {
        this.zoomTo('');
        return;
      }
      const wire = this.wireOf(ev);
      if (wire) {
        this.zoomTo(wire);
        return;
      }
      const hit = this.unitOf(ev);
      if (hit) {
        this.emit('unit', { unit: hit.unit, additive: ev.shiftKey || ev.ctrlKey || ev.metaKey });
        return;
      }
      const gate = ev.target.closest('.gate-box:not(.no-clamp)');
      if (gate) this.emit('gate', { gate: gate.dataset.gate, rect: gate.getBoundingClientRect() });
    });
    root.addEventListener('keydown', (ev) => {
      if (ev.key !== 'Enter' && ev.key !== ' ') return;
      const gate = ev.target.closest?.('.gate-box:not(.no-clamp)');
      const wire = this.wireOf(ev);
      const hit = this.unitOf(ev);
      if (ev.target.closest?.('.zoom-close')) this.zoomTo('');
      else if (gate) this.emit('gate', { gate: gate.dataset.gate, rect: gate.getBoundingClientRect() });
      else if (wire) this.zoomTo(wire);
      else if (hit) this.emit('unit', { unit: hit.unit, additive: true });
      else return;
      ev.preventDefault();
      ev.stopPropagation();
    });
  }

  // The wire an event asks to see whole: a wire's hit stroke, a strip's label, or at the lecture level
  // one of the numbers the wire carries (there, a click on a number zooms instead of unselecting it).
  wireOf(ev) {
    const t = ev.target;
    if (!t.closest || t.closest('.zoom')) return null;
    const hit = t.closest('.wire-hit');
    if (hit) return hit.dataset.q;
    const strip = t.closest('.strip');
    if (!strip || strip.dataset.q === 'x') return null;
    if (t.closest('.strip-label') || (this.level === 'lecture' && t.closest('.big'))) return strip.dataset.q;
    return null;
  }

  // ---- zoom: one wire's units, all of them, large, over the cell
  // A click asks for a zoom ('' closes it): the page keeps it in the URL ('zoom' event, features/detail-level.js)
  // and hands it back with setZoom, so a reloaded or embedded page reopens it.
  zoomTo(key) {
    this.emit('zoom', key);
    this.setZoom(key);
  }

  // The wire shown whole ('' none), opened as soon as the diagram has its values.
  setZoom(key) {
    this.zoomKey = key || '';
    if (!this.q) return;
    if (this.zoomKey && this.zoom?.key !== this.zoomKey) this.openZoom(this.zoomKey);
    else if (!this.zoomKey && this.zoom) this.closeZoom();
  }

  openZoom(key, { focus = true } = {}) {
    if (!this.q?.[key]) return;
    this.closeZoom(false);
    const [vw, vh] = this.layout.viewBox;
    const spec = QUANTITIES[key];
    const root = svg('g', { class: 'zoom', 'data-q': key, role: 'dialog' }, this.zoomLayer);
    root.setAttribute('aria-label', `${spec.hint}: all ${this.hidden} units`);
    svg('rect', { class: 'zoom-bg', x: 12, y: 12, width: vw - 24, height: vh - 24, rx: 28 }, root);
    const title = label(root, spec.base, spec.sub, { class: 'zoom-title', x: 60, y: 80 });
    // Back to the baseline after the subscript.
    svg('tspan', { dy: spec.sub ? '-0.3em' : null }, title).textContent = ` — ${spec.hint}: all ${this.hidden} units`;
    const close = svg(
      'g',
      { class: 'zoom-close', transform: `translate(${vw - 70},66)`, tabindex: 0, role: 'button' },
      root,
    );
    close.setAttribute('aria-label', 'back to the cell (Esc)');
    svg('circle', { r: 30 }, close);
    svg('text', { 'text-anchor': 'middle', y: 13 }, close).textContent = '×';
    const opts = { ...DIAGRAM.lecture.zoom, maxGridHeight: Math.min(DIAGRAM.lecture.zoom.maxGridHeight, vh - 330) };
    const strip = new Strip(root, {
      key,
      x: vw / 2,
      y: vh / 2 + 40,
      geometry: stripGeometry(this.hidden, opts),
      labelBase: '',
      labelSub: '',
      labelPos: 'below',
    });
    const note = svg('text', { class: 'zoom-note', x: vw / 2, y: vh - 44, 'text-anchor': 'middle' }, root);
    note.textContent = 'hover a unit for its equation · click it to select it · Esc or × to go back';
    this.zoom = { key, strip, root };
    strip.setSelected(this.units);
    strip.setBadgeScale(this.badgeScale ?? 1);
    this.paintZoom();
    this.container.dataset.zoom = key;
    // Esc closes the zoom wherever the focus is, before the page's own Esc (leaving presenter mode) sees it.
    this.zoom.onKey = (ev) => {
      if (ev.key !== 'Escape') return;
      ev.preventDefault();
      ev.stopPropagation();
      this.zoomTo('');
    };
    document.addEventListener('keydown', this.zoom.onKey, true);
    if (focus) close.focus({ preventScroll: true });
  }

  paintZoom() {
    const { key, strip } = this.zoom;
    strip.setValues(this.q[key], this.scaleOf(key));
  }

  closeZoom(refocus = true) {
    if (!this.zoom) return;
    const { key, onKey } = this.zoom;
    document.removeEventListener('keydown', onKey, true);
    this.zoom.root.remove();
    this.zoom = null;
    delete this.container.dataset.zoom;
    this.hideTooltip();
    if (refocus) this.svgRoot.querySelector(`.strip[data-q="${key}"] .big`)?.focus({ preventScroll: true });
  }

  showTooltip({ key, unit }, x, y) {
    if (!this.view || !this.q?.[key]) return;
    const spec = QUANTITIES[key];
    const v = this.view;
    this.tooltip.replaceChildren();
    const title = document.createElement('div');
    title.className = 'tt-title';
    title.textContent = `${spec.hint} · unit ${unit} · step ${v.t + 1} “${showToken(v.token.text)}”`;
    const eq = document.createElement('div');
    eq.className = 'tt-eq';
    eq.textContent =
      key === 'x'
        ? `x${SUB.t}[${unit}] = ${fmt(this.q.x[unit])}`
        : equation(this.family, this.arch, key, unit, this.q, v.cur);
    const hint = document.createElement('div');
    hint.className = 'tt-hint';
    const zoomsIn = this.level === 'lecture' && key !== 'x' && !this.zoom;
    hint.textContent = zoomsIn
      ? 'click: all units of this wire'
      : this.units.includes(unit)
        ? 'click: unselect this unit'
        : 'click: select this unit (shift: add)';
    this.tooltip.append(title, eq, hint);
    this.tooltip.hidden = false;
    this.placeTooltip(x, y);
  }

  placeTooltip(x, y) {
    const box = this.container.getBoundingClientRect();
    const tt = this.tooltip;
    const w = tt.offsetWidth;
    let left = x - box.left + 14;
    if (left + w > box.width) left = Math.max(0, x - box.left - w - 14);
    tt.style.left = `${left}px`;
    tt.style.top = `${y - box.top + 16}px`;
  }

  hideTooltip() {
    this.tooltip.hidden = true;
  }
}
