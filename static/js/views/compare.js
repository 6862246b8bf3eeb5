// Compare mode: two models on the same text. This panel shows what the two cell diagrams cannot: their
// predictions side by side, and their gradient curves through time overlaid on one log axis — the LSTM's
// ‖∂L_t/∂c_k‖ along its cell state, the RNN's ‖∂L_t/∂h_k‖ along its hidden state — for the loss at the
// current step. The seeds' argument on one figure: the RNN's curve falls away, the LSTM's holds.

import { LINE_DASH, modelColour } from '../colors.js';
import { fmtSci, showToken } from '../config.js';
import { Figure, html } from './figure.js';
import { FEW_TICKS, axis, baseLayout, plot, plotTheme, tokenTicks } from './plot.js';
import { Predictions } from './predictions.js';

const SIDES = ['main', 'other'];

export class ComparePanel extends Figure {
  constructor({ container }) {
    super({ container });
    this.Plotly = null;
    this.models = { main: null, other: null };
    this.curve = null;
    this.title = html('p', { class: 'compare-title' });
    this.note = html('p', { class: 'compare-note muted' });
    this.error = html('p', { class: 'field-error compare-error', role: 'alert', hidden: true });
    this.cols = {};
    this.preds = {};
    for (const side of SIDES) {
      const head = html('h3', { class: 'compare-model' });
      const box = html('div', { class: 'predictions' });
      const wait = html('p', { class: 'muted compare-wait', text: 'reading…', hidden: true });
      const root = html('section', { class: 'compare-col', dataset: { side } }, head, wait, box);
      this.cols[side] = { root, head, wait };
      this.preds[side] = new Predictions({ container: box });
    }
    this.curvePlot = html('div', { class: 'plot' });
    this.curveNote = html('p', { class: 'muted compare-curve-note', 'aria-live': 'polite' });
    this.curveFigure = html(
      'figure',
      { class: 'plot-figure compare-curve' },
      html(
        'figcaption',
        {},
        html('strong', { text: 'How far back the error reaches, both models' }),
        ' (log scale: the memory each model carries, c for an LSTM, h otherwise)',
      ),
      this.curvePlot,
      this.curveNote,
    );
    this.body = html(
      'div',
      { class: 'compare-body' },
      html('div', { class: 'compare-preds' }, this.cols.main.root, this.cols.other.root),
      this.curveFigure,
    );
    this.container.append(this.title, this.note, this.error, this.body);
  }

  setPlotly(Plotly) {
    this.Plotly = Plotly;
  }

  // main / other: {id, title, arch} (other null: nothing to compare with).
  setModels(main, other, { clamps = 0 } = {}) {
    this.models = { main, other };
    this.title.replaceChildren(
      'Comparing ',
      html('strong', { class: 'compare-a', text: main?.id ?? '–' }),
      ' with ',
      html('strong', { class: 'compare-b', text: other?.id ?? '–' }),
      ' on the same text, step by step',
    );
    this.note.textContent = clamps
      ? `Clamps apply to ${main?.id} only: ${other?.id} reads the text unclamped.`
      : `Clamps apply to the main model (${main?.id}) only.`;
    for (const side of SIDES) {
      const m = this.models[side];
      this.cols[side].head.replaceChildren(
        html('span', { class: `compare-swatch ${side}` }),
        ` ${m?.id ?? ''} `,
        html('span', { class: 'muted', text: m ? m.arch.toUpperCase() : '' }),
      );
      this.cols[side].root.dataset.model = m?.id ?? '';
    }
  }

  // A reason the two models cannot be compared (the panel then says only that), or null.
  setMessage(message) {
    this.error.textContent = message ?? '';
    this.error.hidden = !message;
    this.body.hidden = Boolean(message);
  }

  // data per side: what Predictions.update takes, or null while that model's trace is on its way.
  setPredictions(main, other) {
    for (const [side, data] of [
      ['main', main],
      ['other', other],
    ]) {
      this.cols[side].wait.hidden = Boolean(data);
      this.preds[side].container.hidden = !data;
      if (data) this.preds[side].update(data);
    }
  }

  // {t, tokens, series: [{side, id, arch, rows, symbol}]} — rows[t][k] for k ≤ t, null where no loss.
  setCurve(curve) {
    this.curve = curve;
  }

  parts() {
    return this.Plotly && this.curve && !this.body.hidden ? [() => this.drawCurve()] : [];
  }

  drawCurve() {
    const { t, tokens, series } = this.curve;
    const theme = plotTheme();
    const xs = Array.from({ length: t + 1 }, (_, k) => k + 1);
    const data = [];
    const kept = [];
    for (const s of series) {
      const row = t === null ? null : s.rows?.[t];
      if (!row) continue;
      const name = `${s.id}: ‖∂L/∂${s.symbol}_k‖`;
      data.push({
        type: 'scatter',
        mode: 'lines+markers',
        name,
        meta: s.side,
        x: xs,
        y: row,
        // Colour is the model (the same two colours everywhere in compare mode), line style the
        // quantity, as in the gradients panel: solid h, dashed c.
        line: { color: modelColour(s.side), width: 3, dash: LINE_DASH[s.symbol === 'c' ? 'cell' : 'hidden'] },
        marker: { size: 6, symbol: s.symbol === 'c' ? 'square' : 'circle' },
        hovertemplate: `${s.id} ‖∂L/∂${s.symbol}‖ at step %{x}: %{y:.3e}<extra></extra>`,
      });
      const ref = row[t];
      if (row[0] > 0 && ref > 0) kept.push(`${s.id} keeps ${fmtSci(row[0] / ref)} of its ‖∂L/∂${s.symbol}‖`);
    }
    const layout = baseLayout(theme, {
      height: 300,
      showlegend: true,
      legend: { orientation: 'h', y: 1.16 },
      xaxis: axis(theme, {
        title: { text: t === null ? 'step k' : `step k (the loss is at step ${t + 1})` },
        ...tokenTicks(tokens.slice(0, (t ?? 0) + 1), showToken, FEW_TICKS),
      }),
      yaxis: axis(theme, { type: 'log', title: { text: 'gradient norm' }, exponentformat: 'power' }),
      annotations: data.length
        ? []
        : [
            {
              text: 'no loss at this step (set a target)',
              xref: 'paper',
              yref: 'paper',
              x: 0.5,
              y: 0.5,
              showarrow: false,
              font: { color: theme.muted },
            },
          ],
    });
    this.curveNote.textContent = kept.length
      ? `From step ${t + 1} back to step 1, along each model's memory: ${kept.join('; ')}.`
      : '';
    plot(this.Plotly, this.curvePlot, data, layout);
  }
}
