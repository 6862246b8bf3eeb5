// Gradients through time for the loss at the current step, L_t = −log p(next token):
//   - ‖∂L_t/∂h_k‖ and ‖∂L_t/∂c_k‖ against k on a log axis: the vanishing gradient made visible;
//   - the whole triangle (every t, every k ≤ t) as a heatmap of log10 norms;
//   - a "backward" animation: the gradient travels right-to-left along the unrolled chain, each step's
//     magnitude shown as it arrives. features/figures.js drives it through setBackward(k).
// Events: 'backward' (the play button), 'step' (t, a triangle row was clicked).

import { LINE_DASH, modelColour } from '../colors.js';
import { fmtSci, showToken } from '../config.js';
import { lossStep } from '../trace-doc.js';
import { Figure, html, svg } from './figure.js';
import { FEW_TICKS, axis, baseLayout, plot, plotTheme, tokenTicks } from './plot.js';

const DECADES = 6; // the chain's colour and size span this many powers of ten below the step's own gradient

export class GradientsPanel extends Figure {
  constructor({ container }) {
    super({ container });
    this.Plotly = null;
    this.trace = null;
    this.layer = 0;
    this.step = 0;
    this.cursor = null;
    const figure = (cls, title, note) =>
      html(
        'figure',
        { class: `plot-figure ${cls}` },
        html('figcaption', {}, html('strong', { text: title }), note ? ` ${note}` : ''),
        html('div', { class: 'plot' }),
      );
    this.curve = figure('curve', 'How far back the error reaches', '(log scale)');
    this.triangle = figure('triangle', 'Every step’s loss, every earlier step', '(log10 ‖∂L_t/∂h_k‖; click a row)');
    this.playButton = html('button', {
      type: 'button',
      class: 'primary backward-play',
      text: '◀ send the gradient back',
    });
    this.chainSvg = svg('svg', {
      class: 'chain-svg',
      role: 'img',
      'aria-label': 'gradient flowing back through the steps',
    });
    this.chainNote = html('span', { class: 'muted chain-note', 'aria-live': 'polite' });
    this.chain = html(
      'figure',
      { class: 'plot-figure chain' },
      html(
        'figcaption',
        {},
        html('strong', { text: 'Backward through time' }),
        ' ',
        this.playButton,
        ' ',
        this.chainNote,
      ),
      html('div', { class: 'chain-scroll' }, this.chainSvg),
    );
    this.note = html('p', { class: 'muted grad-note', hidden: true });
    this.container.append(this.note, this.chain, html('div', { class: 'plot-grid two' }, this.curve, this.triangle));
    this.playButton.addEventListener('click', () => this.emit('backward'));
    // The chain fits its width: its spacing is measured here once per resize, not on every frame.
    this.chainWidth = 0;
    new ResizeObserver(([entry]) => {
      const w = Math.floor(entry.contentRect.width);
      if (w === this.chainWidth) return;
      this.chainWidth = w;
      if (this.trace?.done) this.drawChain(this.rows());
    }).observe(this.chain);
  }

  setPlotly(Plotly) {
    this.Plotly = Plotly;
  }

  setTrace(trace, scales) {
    this.trace = trace;
    this.scales = scales;
  }

  setPosition(step, layer) {
    this.step = step;
    this.layer = layer;
  }

  // k: the step the travelling gradient has reached (null: show the whole row at once).
  setBackward(k) {
    this.cursor = k;
  }

  // Only the chain changes while the gradient travels back: the plots stay as they are.
  drawBackward() {
    if (this.trace?.done) this.drawChain(this.rows());
  }

  rows() {
    const g = this.trace?.gradients?.layers?.[this.layer];
    return g ? { h: g.hidden, c: g.cell } : null;
  }

  // The step whose loss is shown: the current one, or, when it has no loss (the last step without a
  // target), the nearest earlier step that has one.
  lossStep(rows) {
    for (let t = this.step; t >= 0; t--) if (rows?.h?.[t]) return t;
    return null;
  }

  // A step with a loss whose row has not arrived (undefined; a row that cannot be is null).
  waiting(rows) {
    const k = lossStep(this.trace, this.step);
    return k !== null && rows?.h?.[k] === undefined;
  }

  draw(opts) {
    for (const part of this.parts(opts)) part();
  }

  // The chain at once, the plots as separate pieces of work (see MemoryPanels.parts). light: only the
  // markers move (while playing); the curve waits, dimmed, for a pause.
  parts({ light = false } = {}) {
    if (!this.trace?.done) return [];
    const rows = this.rows();
    const t = this.lossStep(rows);
    this.shown = t;
    this.note.hidden = t === this.step;
    if (!rows) {
      this.note.textContent = this.trace.notices?.length
        ? this.trace.notices.join(' ')
        : 'This trace has no gradients.';
    } else if (t === null && this.waiting(rows)) {
      // The page asked for no rows while this panel was closed; they are on their way now.
      this.note.textContent = 'Computing the gradients through time…';
    } else if (t === null) {
      this.note.textContent =
        'No loss yet: there is no next token to predict. Set a target to ask “what should come next?”.';
    } else {
      this.note.textContent = `Step ${this.step + 1} has no next token to predict, so no loss: showing the loss at step ${t + 1}. Set a target to give the last step one.`;
    }
    this.drawChain(rows);
    if (!this.Plotly) return [];
    const theme = plotTheme();
    this.curve.classList.toggle('behind', light);
    const parts = [() => this.drawTriangle(theme, rows)];
    if (!light) parts.unshift(() => this.drawCurve(theme, rows));
    return parts;
  }

  drawCurve(theme, rows) {
    const t = this.shown ?? this.step;
    const data = [];
    const xs = Array.from({ length: t + 1 }, (_, k) => k + 1);
    if (rows?.h?.[t]) {
      data.push({
        type: 'scatter',
        mode: 'lines+markers',
        name: '‖∂L/∂h_k‖',
        x: xs,
        y: rows.h[t],
        // The model's colour (compare mode's first), the quantity in the line style: solid h, dashed c,
        // as in the compare panel's curves.
        line: { color: modelColour('main'), width: 3, dash: LINE_DASH.hidden },
        marker: { symbol: 'circle', size: 6 },
        hovertemplate: '‖∂L/∂h‖ at step %{x}: %{y:.3e}<extra></extra>',
      });
    }
    if (rows?.c?.[t]) {
      data.push({
        type: 'scatter',
        mode: 'lines+markers',
        name: '‖∂L/∂c_k‖',
        x: xs,
        y: rows.c[t],
        line: { color: modelColour('main'), width: 3, dash: LINE_DASH.cell },
        marker: { symbol: 'square', size: 6 },
        hovertemplate: '‖∂L/∂c‖ at step %{x}: %{y:.3e}<extra></extra>',
      });
    }
    const layout = baseLayout(theme, {
      height: 280,
      showlegend: true,
      legend: { orientation: 'h', y: 1.14 },
      xaxis: axis(theme, {
        title: { text: `step k (the loss is at step ${t + 1})` },
        ...tokenTicks(this.trace.tokens.slice(0, t + 1), showToken, FEW_TICKS),
      }),
      yaxis: axis(theme, { type: 'log', title: { text: 'gradient norm' }, exponentformat: 'power' }),
      annotations: data.length
        ? []
        : [
            {
              text: 'no loss at this step',
              xref: 'paper',
              yref: 'paper',
              x: 0.5,
              y: 0.5,
              showarrow: false,
              font: { color: theme.muted },
            },
          ],
    });
    plot(this.Plotly, this.curve.querySelector('.plot'), data, layout);
  }

  drawTriangle(theme, rows) {
    const T = this.trace.tokens.length;
    // The same data object while only the step moves: plotly then redraws the marker, not the heatmap.
    const key = `${this.trace.id}|${this.layer}`;
    if (this.triangleKey !== key) {
      this.triangleKey = key;
      const steps = Array.from({ length: T }, (_, k) => k);
      const z = steps.map((t) =>
        steps.map((k) => {
          const v = rows?.h?.[t]?.[k];
          return v > 0 ? Math.log10(v) : null;
        }),
      );
      this.triangleData = this.heatmapData(z, T);
    }
    const ticks = tokenTicks(this.trace.tokens, showToken, 20);
    const layout = baseLayout(theme, {
      height: 320,
      margin: { l: 52, r: 10, t: 10, b: 44 },
      xaxis: axis(theme, { title: { text: 'back to step k' }, ...ticks, showgrid: false }),
      yaxis: axis(theme, {
        title: { text: 'loss at step t' },
        ...tokenTicks(this.trace.tokens, showToken, 16, [], { upright: true }),
        autorange: 'reversed',
        showgrid: false,
      }),
      shapes: [
        {
          type: 'rect',
          x0: 0.5,
          x1: T + 0.5,
          y0: (this.shown ?? this.step) + 0.5,
          y1: (this.shown ?? this.step) + 1.5,
          line: { color: theme.fg, width: 2 },
        },
      ],
      datarevision: key,
    });
    const div = this.triangle.querySelector('.plot');
    plot(this.Plotly, div, this.triangleData, layout).then(() => {
      if (div.dataset.bound) return;
      div.dataset.bound = '1';
      div.on('plotly_click', (ev) => {
        const pt = ev.points?.[0];
        if (pt) this.emit('step', pt.y - 1);
      });
    });
  }

  heatmapData(z, T) {
    const finite = z.flat().filter((v) => v !== null);
    const hi = finite.length ? Math.max(...finite) : 0;
    const lo = finite.length ? Math.max(Math.min(...finite), hi - 8) : -1;
    return [
      {
        type: 'heatmap',
        x: Array.from({ length: T }, (_, k) => k + 1),
        y: Array.from({ length: T }, (_, k) => k + 1),
        z,
        zmin: lo,
        zmax: hi,
        colorscale: this.scales.magnitude.plotly(),
        colorbar: { thickness: 10, title: { text: 'log10', side: 'right' }, outlinewidth: 0 },
        hovertemplate: 'loss at step %{y}, back to step %{x}<br>log10 ‖∂L/∂h‖ = %{z:.2f}<extra></extra>',
        hoverongaps: false,
      },
    ];
  }

  // The unrolled chain up to the current step: a node per step whose size and colour show how much
  // gradient reaches it (relative to the step's own). While animating, only nodes the gradient has
  // reached are lit, and an arrow marks the front.
  drawChain(rows) {
    const t = this.shown ?? this.step;
    const row = rows?.h?.[t];
    const root = this.chainSvg;
    root.replaceChildren();
    this.playButton.disabled = !row;
    const n = t + 1;
    // As wide as the panel: nodes closer together for a long sentence, every token written whole and
    // slanted under its node; a value over every node there is room for (and always the first, the
    // last and the travelling front).
    const dx = Math.max(22, Math.min(58, ((this.chainWidth || 40 + n * 58) - 40) / n));
    const valueEvery = Math.ceil(52 / dx);
    const width = 40 + n * dx;
    const longest = Math.max(1, ...this.trace.tokens.slice(0, n).map((tok) => [...showToken(tok.text)].length));
    const height = 74 + Math.min(12, longest) * 6.2;
    root.setAttribute('viewBox', `0 0 ${width} ${height}`);
    root.setAttribute('width', width);
    root.setAttribute('height', height);
    svg('line', { class: 'chain-line', x1: 20, x2: width - 20, y1: 48, y2: 48 }, root);
    const ref = row ? row[t] || Math.max(...row) : 1;
    const tokens = this.trace.tokens;
    const reached = (k) => this.cursor === null || k >= this.cursor;
    for (let k = 0; k < n; k++) {
      const x = 30 + k * dx;
      const v = row?.[k];
      const rel = v > 0 && ref > 0 ? Math.max(0, Math.min(1, (Math.log10(v / ref) + DECADES) / DECADES)) : 0;
      const lit = row && reached(k);
      const g = svg(
        'g',
        {
          class: `chain-node${lit ? ' lit' : ''}${k === this.cursor ? ' front' : ''}`,
          transform: `translate(${x},48)`,
        },
        root,
      );
      svg(
        'circle',
        { r: lit ? 5 + 15 * rel : 5, style: lit ? `fill:${this.scales.magnitude.color(0.15 + 0.85 * rel)}` : null },
        g,
      );
      const val = svg('text', { class: 'chain-val', y: -26, 'text-anchor': 'middle' }, g);
      const labelled = k === this.cursor || (t - k) % valueEvery === 0;
      val.textContent = lit && labelled ? fmtSci(v) : '';
      const tok = svg('text', { class: 'chain-tok', transform: 'translate(4,30) rotate(-40)', 'text-anchor': 'end' }, g);
      tok.textContent = showToken(tokens[k].text);
    }
    if (this.cursor !== null && row) {
      const x = 30 + this.cursor * dx;
      svg('path', { class: 'chain-front', d: `M${x - 22} 48 l12 -8 v16 z` }, root);
    }
    if (row) {
      const first = row[0];
      const ratio = first > 0 && ref > 0 ? first / ref : 0;
      this.chainNote.textContent =
        this.cursor === null || this.cursor === 0
          ? `‖∂L/∂h‖ on the hidden state, from step ${t + 1} back to step 1: ${fmtSci(ratio)} of its size`
          : `at step ${this.cursor + 1}: ${fmtSci(row[this.cursor])}`;
    } else {
      this.chainNote.textContent = '';
    }
    const scroller = root.parentElement;
    if (scroller && this.cursor !== null) {
      const x = 30 + this.cursor * dx;
      if (x < scroller.scrollLeft || x > scroller.scrollLeft + scroller.clientWidth)
        scroller.scrollLeft = x - scroller.clientWidth / 2;
    }
  }
}
