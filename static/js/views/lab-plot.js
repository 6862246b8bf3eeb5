// The gradient lab's figure: |∂h_T/∂h_{T−k}| against k on a log axis, the unclipped curve dashed behind
// the clipped one, a line at 1, and a one-line readout of where the gradient ends up.
// It only renders: lab.js computes the curves and owns the state.

import { fmtSci } from '../config.js';
import { Figure } from './figure.js';
import { PLOT_CONFIG, axis, baseLayout, plotTheme } from './plot.js';

export class LabPlot extends Figure {
  constructor({ container, plotDiv, readout }) {
    super({ container });
    this.plotDiv = plotDiv;
    this.readout = readout;
    this.Plotly = null;
    this.curve = null;
  }

  setPlotly(Plotly) {
    this.Plotly = Plotly;
  }

  // curve: {k: [...], raw: [...], shown: [...], clip, threshold, factor, verdict}
  setCurve(curve) {
    this.curve = curve;
  }

  draw() {
    const c = this.curve;
    if (!c) return;
    const last = c.shown[c.shown.length - 1];
    const T = c.k[c.k.length - 1];
    this.container.dataset.final = String(last);
    this.container.dataset.verdict = c.verdict;
    const end = c.raw[c.raw.length - 1];
    const clipped = c.clip && end > c.threshold;
    this.readout.textContent =
      `per-step factor W_rec · tanh′ = ${c.factor.toFixed(3)}; after ${T} steps the gradient is ${fmtSci(end)}× ` +
      `— ${c.verdict}${clipped ? `; clipping caps it at ${c.threshold}` : ''}`;
    if (!this.Plotly) return;
    const theme = plotTheme();
    const colour = c.verdict === 'vanishes' ? theme.gate('forget') : c.verdict === 'explodes' ? theme.gate('output') : theme.accent;
    const data = [];
    if (c.clip) {
      data.push({ x: c.k, y: c.raw, mode: 'lines', name: 'without clipping', line: { color: theme.muted, dash: 'dot', width: 2 } });
    }
    data.push({ x: c.k, y: c.shown, mode: 'lines', name: c.clip ? 'clipped' : 'gradient', line: { color: colour, width: 3 } });
    const positive = [...c.raw, ...c.shown].filter((v) => v > 0);
    const lo = Math.max(-30, Math.floor(Math.log10(Math.min(1e-2, ...positive))));
    const hi = Math.min(30, Math.ceil(Math.log10(Math.max(1e2, ...positive))));
    const layout = baseLayout(theme, {
      margin: { l: 64, r: 16, t: 16, b: 52 },
      showlegend: c.clip,
      legend: { x: 0.01, y: 0.99 },
      xaxis: axis(theme, { title: { text: 'steps back k' }, range: [0, T] }),
      yaxis: axis(theme, { title: { text: '|∂h<sub>T</sub> / ∂h<sub>T−k</sub>|' }, type: 'log', range: [lo, hi], exponentformat: 'power' }),
      shapes: [
        { type: 'line', xref: 'paper', x0: 0, x1: 1, y0: 1, y1: 1, line: { color: theme.muted, width: 1 } },
        ...(c.clip
          ? [{ type: 'line', xref: 'paper', x0: 0, x1: 1, y0: c.threshold, y1: c.threshold, line: { color: theme.muted, width: 1, dash: 'dash' } }]
          : []),
      ],
    });
    this.Plotly.react(this.plotDiv, data, layout, PLOT_CONFIG);
  }
}
