// Memory over the whole sentence (plotly):
//   - a heatmap of one quantity, units × tokens, with the current step marked;
//   - the selected units' memory over time;
//   - at the current step, per unit, what was kept (f⊙c_{t−1}) against what was written (i⊙c̃);
//   - retention: how much of what step k wrote still survives at step t (the running product of forget
//     gates), for the selected units.
// Events: 'pick' {unit, step} (a heatmap cell was clicked), 'quantity' (name).

import { archSpec, family, memoryOf, memoryScale, memorySymbol, scaleOf } from '../archs.js';
import { GATES, QUANTITIES, VECTOR_ORDER, showToken } from '../config.js';
import { keptWritten } from '../trace-doc.js';
import { Figure, html } from './figure.js';
import { FEW_TICKS, axis, baseLayout, plot, plotTheme, tokenTicks } from './plot.js';

const UNIT_COLORS = [
  '--gate-output',
  '--gate-input',
  '--gate-candidate',
  '--gate-forget',
  '--gate-update',
  '--gate-reset',
];

const quantityLabel = (q, fam) => {
  if (q === 'cell') return 'cell c';
  if (q === 'hidden') return 'hidden h';
  if (q === 'candidate') return fam === 'gru' ? 'candidate h̃' : 'candidate c̃';
  return `${GATES[q].name} ${GATES[q].symbol}`;
};

export class MemoryPanels extends Figure {
  constructor({ container }) {
    super({ container });
    this.Plotly = null;
    this.trace = null;
    this.layer = 0;
    this.step = 0;
    this.units = [];
    this.quantity = 'forget';
    const section = (cls, title, note) =>
      html(
        'figure',
        { class: `plot-figure ${cls}` },
        html('figcaption', {}, html('strong', { text: title }), note ? ` ${note}` : ''),
        html('div', { class: 'plot' }),
      );
    this.picker = html('div', { class: 'seg-group', role: 'group', 'aria-label': 'heatmap quantity' });
    this.heat = section('heat', 'Units × tokens', '(click a cell to select the unit and jump to the step)');
    this.heat.querySelector('figcaption').append(this.picker);
    this.lines = section('lines', 'Selected units over time');
    this.kept = section('kept', 'Kept vs written now', '(each dot a unit)');
    this.retention = section('retention', 'Retention', '(how much of what step k wrote survives to now)');
    this.note = html('p', { class: 'muted', hidden: true });
    this.grid = html('div', { class: 'plot-grid' }, this.lines, this.kept, this.retention);
    this.container.append(this.heat, this.grid, this.note);
    this.picker.addEventListener('click', (ev) => {
      const b = ev.target.closest('[data-q]');
      if (b) this.emit('quantity', b.dataset.q);
    });
  }

  setPlotly(Plotly) {
    this.Plotly = Plotly;
  }

  setTrace(trace, scales) {
    if (trace !== this.trace) this.cache = new Map();
    this.trace = trace;
    this.scales = scales;
  }

  setPosition(step, layer) {
    if (layer !== this.layer) this.cache = new Map();
    this.step = step;
    this.layer = layer;
  }

  setUnits(units) {
    this.units = units ?? [];
  }

  setQuantity(q) {
    this.quantity = q;
  }

  // Values of a quantity for this layer over all steps, as a units × steps matrix (cached per trace).
  matrix(q) {
    if (this.cache.has(q)) return this.cache.get(q);
    const steps = this.trace.steps;
    const H = this.trace.model.hidden_size;
    const get = (s) => {
      const L = s.layers[this.layer];
      if (q === 'cell') return L.cell;
      if (q === 'hidden') return L.hidden;
      return L.gates[q];
    };
    const m = Array.from({ length: H }, (_, j) => steps.map((s) => get(s)?.[j] ?? null));
    this.cache.set(q, m);
    return m;
  }

  draw(opts) {
    for (const part of this.parts(opts)) part();
  }

  // The plots as separate pieces of work, so the page (page.js) can draw them one task at a time and a keystroke
  // never waits for all of plotly. light: only the step markers move (while playing); the per-step
  // plots wait, dimmed, for a pause.
  parts({ light = false } = {}) {
    const P = this.Plotly;
    if (!P || !this.trace?.done) return [];
    const arch = this.trace.model.arch;
    const fam = family(arch);
    const vectors = archSpec(arch).scales;
    const choices = VECTOR_ORDER.filter((c) => c in vectors);
    const q = choices.includes(this.quantity) ? this.quantity : choices[0];
    this.picker.replaceChildren(
      ...choices.map((c) =>
        html('button', {
          type: 'button',
          class: 'seg',
          dataset: { q: c },
          'aria-pressed': String(c === q),
          text: quantityLabel(c, fam),
        }),
      ),
    );
    const theme = plotTheme();
    const memory = fam !== 'rnn';
    this.kept.hidden = !memory;
    this.retention.hidden = !memory;
    this.note.hidden = memory;
    this.note.textContent = memory
      ? ''
      : 'A plain RNN has no gates: nothing decides what to keep, so there is no kept/written split and no retention curve.';
    this.kept.classList.toggle('behind', light);
    this.retention.classList.toggle('behind', light);
    const parts = [() => this.drawHeat(P, theme, q, fam), () => this.drawLines(P, theme, fam)];
    if (memory && !light) {
      parts.push(
        () => this.drawKept(P, theme, fam),
        () => this.drawRetention(P, theme, fam),
      );
    }
    return parts;
  }

  scaleFor(q, fam) {
    const spec = QUANTITIES[q === 'candidate' && fam === 'gru' ? 'gru_candidate' : q];
    return this.scales[scaleOf(this.trace.model.arch, q, spec.scale)];
  }

  drawHeat(P, theme, q, fam) {
    const tokens = this.trace.tokens;
    const z = this.matrix(q);
    const scale = this.scaleFor(q, fam);
    const H = z.length;
    const t = this.step;
    const shapes = [
      { type: 'rect', x0: t + 0.5, x1: t + 1.5, y0: -0.5, y1: H - 0.5, line: { color: theme.fg, width: 2.5 } },
      ...this.units
        .filter((j) => j < H)
        .map((j) => ({
          type: 'rect',
          x0: 0.5,
          x1: tokens.length + 0.5,
          y0: j - 0.5,
          y1: j + 0.5,
          line: { color: theme.accent, width: 1.5 },
        })),
    ];
    // The same data object while only the step moves: plotly then redraws the marker, not the heatmap.
    const key = `${this.trace.id}|${q}|${this.layer}|${scale.name}|${scale.hi}`;
    if (this.heatKey !== key) {
      this.heatKey = key;
      this.heatData = this.heatmapData(tokens, z, scale, H);
    }
    const data = this.heatData;
    const layout = baseLayout(theme, {
      height: Math.min(420, Math.max(200, 40 + H * 4)),
      margin: { l: 52, r: 10, t: 8, b: 40 },
      xaxis: axis(theme, { ...tokenTicks(tokens, showToken), showgrid: false, zeroline: false }),
      yaxis: axis(theme, { title: { text: 'unit' }, autorange: 'reversed', showgrid: false, zeroline: false }),
      shapes,
      datarevision: key,
    });
    const div = this.heat.querySelector('.plot');
    plot(P, div, data, layout).then(() => {
      if (div.dataset.bound) return;
      div.dataset.bound = '1';
      div.on('plotly_click', (ev) => {
        const pt = ev.points?.[0];
        if (pt) this.emit('pick', { unit: pt.y, step: pt.x - 1 });
      });
    });
  }

  heatmapData(tokens, z, scale, H) {
    return [
      {
        type: 'heatmap',
        x: tokens.map((_, k) => k + 1),
        z,
        zmin: scale.lo,
        zmax: scale.hi,
        colorscale: scale.plotly(),
        colorbar: { thickness: 10, len: 0.9, outlinewidth: 0 },
        hovertemplate: 'unit %{y} · step %{x}<br>%{z:.3f}<extra></extra>',
        xgap: tokens.length < 60 ? 1 : 0,
        ygap: H <= 64 ? 1 : 0,
      },
    ];
  }

  drawLines(P, theme, fam) {
    const arch = this.trace.model.arch;
    const z = this.matrix(memoryOf(arch));
    const xs = this.trace.tokens.map((_, k) => k + 1);
    const key = `${this.trace.id}|${this.layer}|${this.units.join()}|${theme.fg}`;
    if (this.linesKey !== key) {
      this.linesKey = key;
      this.linesData = this.lineData(theme, z, xs);
    }
    const data = this.linesData;
    const layout = baseLayout(theme, {
      height: 240,
      showlegend: data.length > 0,
      legend: { orientation: 'h', y: 1.15 },
      xaxis: axis(theme, { ...tokenTicks(this.trace.tokens, showToken, FEW_TICKS) }),
      yaxis: axis(theme, { title: { text: memorySymbol(arch) } }),
      shapes: [this.stepLine(theme)],
      annotations: data.length ? [] : [this.emptyNote(theme, 'select units in the diagram')],
      datarevision: key,
    });
    plot(P, this.lines.querySelector('.plot'), data, layout);
  }

  lineData(theme, z, xs) {
    return this.units
      .filter((j) => j < z.length)
      .map((j, k) => ({
        type: 'scatter',
        mode: 'lines+markers',
        x: xs,
        y: z[j],
        name: `#${j}`,
        line: { color: theme.gate(UNIT_COLORS[k % UNIT_COLORS.length].slice(7)), width: 2.5 },
        marker: { size: 5 },
        hovertemplate: `unit ${j} · step %{x}: %{y:.3f}<extra></extra>`,
      }));
  }

  drawKept(P, theme, fam) {
    const t = this.step;
    const steps = this.trace.steps;
    const H = steps[t].layers[this.layer].hidden.length;
    const { kept, written, result } = keptWritten(this.trace, t, this.layer);
    const units = Array.from({ length: H }, (_, j) => j);
    const sel = new Set(this.units);
    const scale = this.scales[memoryScale(this.trace.model.arch)];
    const data = [
      {
        type: 'scatter',
        mode: 'markers',
        x: kept,
        y: written,
        customdata: units.map((j) => [j, result[j]]),
        marker: {
          size: units.map((j) => (sel.has(j) ? 13 : H > 128 ? 5 : 8)),
          color: result,
          cmin: scale.lo,
          cmax: scale.hi,
          colorscale: scale.plotly(),
          line: {
            color: units.map((j) => (sel.has(j) ? theme.fg : theme.muted)),
            width: units.map((j) => (sel.has(j) ? 2 : 0.8)),
          },
        },
        hovertemplate:
          fam === 'lstm'
            ? 'unit %{customdata[0]}<br>kept f·c₍ₜ₋₁₎ = %{x:.3f}<br>written i·c̃ = %{y:.3f}<br>c = %{customdata[1]:.3f}<extra></extra>'
            : 'unit %{customdata[0]}<br>kept z·h₍ₜ₋₁₎ = %{x:.3f}<br>written (1−z)·h̃ = %{y:.3f}<br>h = %{customdata[1]:.3f}<extra></extra>',
      },
    ];
    const annotations = this.units
      .filter((j) => j < H)
      .map((j) => ({
        x: kept[j],
        y: written[j],
        text: `#${j}`,
        showarrow: false,
        yshift: 13,
        font: { color: theme.fg },
      }));
    const layout = baseLayout(theme, {
      height: 240,
      xaxis: axis(theme, { title: { text: fam === 'lstm' ? 'kept  f⊙c₍ₜ₋₁₎' : 'kept  z⊙h₍ₜ₋₁₎' }, zeroline: true }),
      yaxis: axis(theme, { title: { text: fam === 'lstm' ? 'written  i⊙c̃' : 'written  (1−z)⊙h̃' }, zeroline: true }),
      annotations,
    });
    plot(P, this.kept.querySelector('.plot'), data, layout);
  }

  drawRetention(P, theme, fam) {
    const t = this.step;
    const gate = fam === 'lstm' ? 'forget' : 'update';
    const f = this.matrix(gate);
    const data = this.units
      .filter((j) => j < f.length)
      .map((j, k) => {
        // survive[k] = ∏_{s=k+1..t} f_s: what step k wrote, scaled by every later forget gate.
        const ys = new Array(t + 1);
        let prod = 1;
        for (let s = t; s >= 0; s--) {
          ys[s] = prod;
          prod *= f[j][s];
        }
        return {
          type: 'scatter',
          mode: 'lines+markers',
          x: ys.map((_, s) => s + 1),
          y: ys,
          name: `#${j}`,
          line: { color: theme.gate(UNIT_COLORS[k % UNIT_COLORS.length].slice(7)), width: 2.5 },
          hovertemplate: `unit ${j}: of what step %{x} wrote, %{y:.3f} survives at step ${t + 1}<extra></extra>`,
        };
      });
    const layout = baseLayout(theme, {
      height: 240,
      xaxis: axis(theme, {
        title: { text: 'written at step k' },
        range: [0.5, Math.max(2, t + 1) + 0.5],
        ...tokenTicks(this.trace.tokens.slice(0, t + 1), showToken, FEW_TICKS),
      }),
      yaxis: axis(theme, { title: { text: `∏ ${GATES[gate].symbol}` }, range: [0, 1.05] }),
      annotations: data.length ? [] : [this.emptyNote(theme, 'select units in the diagram')],
    });
    plot(P, this.retention.querySelector('.plot'), data, layout);
  }

  stepLine(theme) {
    return {
      type: 'line',
      x0: this.step + 1,
      x1: this.step + 1,
      yref: 'paper',
      y0: 0,
      y1: 1,
      line: { color: theme.muted, width: 2, dash: 'dot' },
    };
  }

  emptyNote(theme, text) {
    return { text, xref: 'paper', yref: 'paper', x: 0.5, y: 0.5, showarrow: false, font: { color: theme.muted } };
  }
}
