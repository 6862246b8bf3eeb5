// The minimal-pair figure (features/pair.js computes what it shows): one unit's memory over the tokens of
// two sentences on one chart — a colour per sentence, solid h, dashed c — the difference a − b below it
// with its largest jump marked (the moment the word that differs is written), and what each sentence
// predicts at the end, side by side on one 0–100% scale. It renders and reports input; nothing else.

import { LINE_DASH, pairColour } from '../colors.js';
import { fmt, showToken } from '../config.js';
import { Figure, html } from './figure.js';
import { axis, baseLayout, plot, plotTheme, tokenTicks } from './plot.js';

const pct = (p) => (p < 0.0005 ? '<0.1%' : `${(100 * p).toFixed(p < 0.1 ? 1 : 0)}%`);
// px: a chart shorter than this gives its legend's row to the lines (the title names both sentences).
const LEGEND_FROM = 300;
// The jump's note: an average character's width in ems (the page's sans serif, digits and arrows
// included, a little over), and the smallest size it is drawn at before it takes its short wording.
const CHAR_EM = 0.6;
const MIN_NOTE_PX = 12;
const MIN_TICK_PX = 12; // px: the token labels' smallest size

export class PairView extends Figure {
  constructor({ container }) {
    super({ container });
    this.Plotly = null;
    this.data = null;
    this.input = html('input', {
      type: 'text',
      class: 'pair-input',
      autocomplete: 'off',
      spellcheck: 'false',
      'aria-label': 'the second sentence',
      placeholder: 'the second sentence',
      title: 'the second sentence: change a word or two of the first',
    });
    this.input.addEventListener('input', () => this.emit('text', this.input.value));
    const close = html('button', {
      type: 'button',
      class: 'toggle pair-close',
      title: 'Close the minimal pair (back to the cell diagram)',
      'aria-label': 'close the minimal pair',
      text: '×',
    });
    close.addEventListener('click', () => this.emit('close'));
    this.unitInput = html('input', { type: 'number', class: 'pair-unit', min: 0, step: 1, 'aria-label': 'the unit shown' });
    this.unitInput.addEventListener('change', () => {
      const u = Number.parseInt(this.unitInput.value, 10);
      if (Number.isInteger(u) && u >= 0 && u < (this.data?.H ?? 0)) this.emit('unit', u);
    });
    this.bestButton = html('button', { type: 'button', class: 'toggle pair-best' });
    this.bestButton.addEventListener('click', () => this.emit('unit', -1));
    this.runnersUp = html('span', { class: 'pair-next' });
    this.diagramButton = html('button', {
      type: 'button',
      class: 'toggle pair-diagram',
      title: 'Select this unit in the cell diagram, at the step where the difference jumps',
    });
    this.diagramButton.addEventListener('click', () => {
      const d = this.data;
      this.emit('diagram', { unit: d.unit, step: d.jump ? d.diff[d.jump.k].i : d.step });
    });
    this.title = html('p', { class: 'pair-title' });
    this.note = html('p', { class: 'pair-note muted', 'aria-live': 'polite' });
    this.plotDiv = html('div', { class: 'plot pair-plot' });
    // The chart is drawn to its box's size (plotly keeps an old size across react()): when the box
    // changes (the stage's chrome, the predictions beside it, presenter mode), it is drawn again.
    this.drawn = '';
    let frame = 0;
    const redraw = () => {
      frame = 0;
      if (this.sizeOf() !== this.drawn) this.draw();
    };
    new ResizeObserver(() => {
      if (!frame) frame = requestAnimationFrame(redraw);
    }).observe(this.plotDiv);
    this.preds = html('div', { class: 'pair-preds' });
    const head = html(
      'div',
      { class: 'pair-head' },
      html('h2', { text: 'Minimal pair' }),
      html('span', { class: 'pair-input-field' }, this.input),
      html(
        'span',
        { class: 'pair-unit-field' },
        html('label', {}, 'unit ', this.unitInput),
        ' ',
        this.bestButton,
        this.runnersUp,
        this.diagramButton,
      ),
      close, // in an embed, hidden unless show= names `exit` (the stylesheet)
    );
    this.body = html('div', { class: 'pair-body' }, this.plotDiv, this.preds);
    // The title and the note run on as one paragraph: the chart gets the height.
    this.container.append(head, html('div', { class: 'pair-caption' }, this.title, ' ', this.note), this.body);
  }

  setPlotly(Plotly) {
    this.Plotly = Plotly;
  }

  // The second sentence in its box (never rewritten while being typed in: it would move the caret).
  setInput(text) {
    if (document.activeElement !== this.input && this.input.value !== text) this.input.value = text;
  }

  // data: {status: 'empty' | 'waiting' | 'error' | 'same' | 'ready', message, ...} (features/pair.js).
  update(data) {
    this.data = data;
    const d = data;
    this.container.dataset.status = d.status;
    const ready = d.status === 'ready' || d.status === 'same';
    this.body.hidden = !ready;
    this.title.hidden = !ready;
    this.unitInput.closest('.pair-unit-field').hidden = !ready;
    if (d.status === 'empty') this.note.textContent = 'Type a second sentence that differs from the first in a word or two.';
    else if (d.status === 'waiting') this.note.textContent = 'reading the second sentence…';
    else if (d.status === 'error') this.note.textContent = `The second sentence could not be read: ${d.message}`;
    if (!ready) return;
    this.unitInput.max = String(d.H - 1);
    if (document.activeElement !== this.unitInput) this.unitInput.value = String(d.unit);
    this.bestButton.textContent = d.best ? `best: ${d.best.unit}` : 'best';
    this.bestButton.title = d.best
      ? `The unit whose ${d.memory === 'cell' ? 'cell state' : 'hidden state'} differs most between the two after the first word that differs (|Δ| = ${fmt(d.best.gap)})`
      : '';
    this.bestButton.setAttribute('aria-pressed', String(!d.chosen));
    // The next units apart, one click each (the units that differ most between the two sentences).
    this.runnersUp.replaceChildren(
      ...d.apart.slice(1).map((x) => {
        const b = html('button', { type: 'button', class: 'toggle pair-also', text: String(x.unit), title: `|Δ| = ${fmt(x.gap)}` });
        b.addEventListener('click', () => this.emit('unit', x.unit));
        return b;
      }),
    );
    if (d.apart.length > 1) this.runnersUp.prepend('then ');
    this.diagramButton.textContent = '↗ diagram';
    this.diagramButton.setAttribute('aria-label', `unit ${d.unit} in the cell diagram`);
    this.drawTitle();
    this.drawNote();
    this.drawPredictions();
  }

  label(side) {
    const w = this.data.words[side];
    if (!w) return side === 'a' ? 'the first sentence' : 'the second sentence';
    return `“${w.length > 24 ? `${w.slice(0, 23)}…` : w}”`;
  }

  drawTitle() {
    const d = this.data;
    const sym = d.memory === 'cell' ? 'c' : 'h';
    const what = d.memory === 'cell' ? 'cell c (dashed), hidden h (solid)' : `h (a ${d.arch.toUpperCase()}'s memory)`;
    this.title.replaceChildren(
      html('strong', { text: `unit ${d.unit}` }),
      `: ${what} for `,
      html('span', { class: 'pair-a', text: this.label('a') }),
      ' and ',
      html('span', { class: 'pair-b', text: this.label('b') }),
      `; bars: Δ${sym}, their difference`,
    );
  }

  drawNote() {
    const d = this.data;
    if (d.status === 'same') {
      this.note.textContent = 'The two sentences read as the same tokens: change a word of the second one.';
      return;
    }
    const parts = [];
    const al = d.align;
    if (!al.sameLength) {
      parts.push(
        `The sentences have ${d.tokensA.length} and ${d.tokensB.length} tokens: aligned by their common beginning (${al.prefix}) and end (${al.suffix} tokens); the difference is drawn where they pair up.`,
      );
    }
    const j = d.jump;
    if (j) {
      const sym = d.memory === 'cell' ? 'c' : 'h';
      const at = d.diff[j.k];
      const token = d.tokensA[at.i];
      const other = d.tokensB[at.j];
      const where = token === other ? `“${showToken(token)}”` : `“${showToken(token)}” / “${showToken(other)}”`;
      const before = j.k > 0 ? d.tokensA[d.diff[j.k - 1].i] : null;
      parts.push(
        j.across
          ? `Δ${sym} changes most across the words that differ, from “${showToken(before)}” to ${where}: ${fmt(j.from)} → ${fmt(j.to)}.`
          : `Δ${sym} jumps most at ${where} (step ${at.i + 1}): ${fmt(j.from)} → ${fmt(j.to)}.`,
      );
    }
    if (d.clamped) parts.push('Both sentences are read with the clamps.');
    this.note.textContent = parts.join(' ');
  }

  drawPredictions() {
    const d = this.data;
    const cell = (side, q) =>
      html(
        'td',
        { class: `pair-p ${side}`, 'aria-label': `${q.below ? 'under ' : ''}${pct(q.p)}` },
        html('span', { class: 'bar' }, html('span', { class: 'fill', style: `width:${q.below ? 0 : 100 * q.p}%` })),
        html('span', { class: 'p', text: q.below && q.p >= 0.0005 ? `<${pct(q.p)}` : pct(q.p) }),
      );
    const lead = (side) => {
      const best = d.predictions.reduce((x, r) => (!x || r[side].p > x[side].p ? r : x), null);
      return best ? `${showToken(best.token)} ${pct(best[side].p)}` : '–';
    };
    const headline = (side) =>
      html('p', { class: 'pair-headline' }, html('span', { class: `pair-${side}`, text: this.label(side) }), ' → ', html('strong', { text: lead(side) }));
    this.preds.replaceChildren(
      headline('a'),
      headline('b'),
      html(
        'table',
        { class: 'pair-table' },
        html(
          'thead',
          {},
          html(
            'tr',
            {},
            html('th', { scope: 'col', text: 'next token' }),
            html('th', { scope: 'col', class: 'pair-a', text: this.label('a') }),
            html('th', { scope: 'col', class: 'pair-b', text: this.label('b') }),
          ),
        ),
        html(
          'tbody',
          {},
          ...d.predictions.map((r) =>
            html('tr', {}, html('th', { scope: 'row', class: 'tok', text: showToken(r.token) }), cell('a', r.a), cell('b', r.b)),
          ),
        ),
        html('caption', { class: 'muted', text: 'after the last token; bars on 0–100%' }),
      ),
    );
  }

  setStep(t) {
    if (!this.data?.series || !this.Plotly || this.body.hidden) return;
    this.data.step = t;
    this.Plotly.relayout(this.plotDiv, { shapes: this.shapes(plotTheme()) });
  }

  shapes(theme) {
    const x = this.data.step + 1;
    return [{ type: 'line', xref: 'x', yref: 'paper', x0: x, x1: x, y0: 0, y1: 1, line: { color: theme.muted, width: 1.5, dash: 'dot' } }];
  }

  sizeOf() {
    return `${this.plotDiv.clientWidth}x${this.plotDiv.clientHeight}`;
  }

  draw() {
    const d = this.data;
    if (!d?.series || !this.Plotly || this.body.hidden) return;
    const theme = plotTheme();
    const diffColour = pairColour('difference');
    const xA = d.tokensA.map((_, k) => k + 1);
    const xB = d.xB.map((x) => x + 1);
    const data = [];
    for (const side of ['a', 'b']) {
      const xs = side === 'a' ? xA : xB;
      const toks = side === 'a' ? d.tokensA : d.tokensB;
      for (const q of ['hidden', 'cell']) {
        const ys = d.series[side][q];
        if (!ys) continue;
        const sym = q === 'cell' ? 'c' : 'h';
        data.push({
          type: 'scatter',
          mode: 'lines+markers',
          name: `${this.label(side)} ${sym}`,
          meta: `${side}.${q}`,
          x: xs,
          y: ys,
          text: toks.map(showToken),
          line: { color: pairColour(side), width: 3, dash: LINE_DASH[q] },
          marker: { size: 6, symbol: q === 'cell' ? 'square' : 'circle' },
          hovertemplate: `${sym}[${d.unit}] at “%{text}”: %{y:.3f}<extra>${this.label(side)}</extra>`,
        });
      }
    }
    const jumpK = d.jump?.k ?? -1;
    const sym = d.memory === 'cell' ? 'c' : 'h';
    data.push({
      type: 'bar',
      name: `Δ${sym}`,
      meta: 'difference',
      x: d.diff.map((p) => p.i + 1),
      y: d.diff.map((p) => p.d),
      yaxis: 'y2',
      showlegend: false,
      marker: { color: d.diff.map((_, k) => (k === jumpK ? theme.fg : diffColour)) },
      hovertemplate: `Δ${sym} at step %{x}: %{y:.3f}<extra></extra>`,
    });
    const font = Math.round(theme.font * 1.15); // a chart to be pointed at: a size up from the panels'
    const width = this.plotDiv.clientWidth || 600;
    const height = Math.max(160, this.plotDiv.clientHeight || 320);
    // A short chart (the explorer's page at 720-odd rows) gives its legend's row to the lines (the title
    // above it names each sentence in its colour, and solid h / dashed c) and slants smaller token labels.
    const legend = height >= LEGEND_FROM;
    this.drawn = this.sizeOf();
    const tokens = d.tokensA.map((text) => ({ text }));
    const cue = d.align.cue === null ? [] : [d.align.cue];
    let ticks = tokenTicks(tokens, showToken, Math.max(6, Math.floor(width / (3 * font))), cue);
    // Every token labelled: upright labels a size smaller where slanted ones would run into each other;
    // where even MIN_TICK_PX labels would, every other one (never the word that differs).
    const spacing = (width - 70) / d.tokensA.length;
    if (spacing < font * 1.3) {
      const size = Math.max(MIN_TICK_PX, Math.min(font, Math.floor(spacing) - 1));
      ticks = tokenTicks(tokens, showToken, Math.floor((width - 70) / (size + 1)), cue, { upright: true });
      Object.assign(ticks, { tickangle: -90, tickfont: { size } });
    } else if (!legend) {
      // Slanted at 45° (not 60°) where the labels' spacing allows: a shorter slant leaves the lines more.
      const size = Math.max(12, font - 3);
      ticks.tickfont = { size };
      if (ticks.tickangle && spacing * Math.SQRT1_2 >= size * 1.15) ticks.tickangle = -45;
    }
    // The swapped word is labelled with both sentences' tokens.
    if (d.align.sameLength) {
      ticks.ticktext = ticks.tickvals.map((x, n) =>
        d.tokensA[x - 1] === d.tokensB[x - 1] ? ticks.ticktext[n] : `${showToken(d.tokensA[x - 1])}/${showToken(d.tokensB[x - 1])}`,
      );
    }
    const annotations = [];
    if (d.jump) {
      const at = d.diff[d.jump.k];
      // In the gap above the difference: where it jumps, by how much — on the side of the mark with the
      // more room, and inside the chart (a narrow one gets a smaller size, then the short wording).
      const plotW = width - (this.plotDiv._fullLayout?._size?.l ?? 96) - 12;
      const where = (at.i + 1 - 0.4) / (d.tokensA.length + 0.2);
      const right = where <= 0.5;
      const room = plotW * (right ? 1 - where : where) + 6;
      const values = `${fmt(d.jump.from)} → ${fmt(d.jump.to)}`;
      const fits = (text, size) => text.length * size * CHAR_EM <= room;
      let text = `▼ Δ${sym} jumps here: ${values}`;
      let size = font;
      while (size > MIN_NOTE_PX && !fits(text, size)) size -= 1;
      if (!fits(text, size)) {
        text = `▼ Δ${sym} ${values}`;
        size = font;
        while (size > MIN_NOTE_PX && !fits(text, size)) size -= 1;
      }
      annotations.push({
        x: at.i + 1,
        y: 1,
        xref: 'x',
        yref: 'y2 domain',
        yanchor: 'bottom',
        xanchor: right ? 'left' : 'right',
        text,
        showarrow: false,
        font: { color: theme.fg, size },
      });
    }
    const layout = baseLayout(theme, {
      width,
      height,
      font: { color: theme.fg, size: font, family: 'inherit' },
      showlegend: legend,
      legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom' },
      margin: { l: 56, r: 12, t: legend ? 8 : 14, b: 8 },
      bargap: 0.35,
      xaxis: axis(theme, { ...ticks, range: [0.4, d.tokensA.length + 0.6], anchor: 'y2' }),
      yaxis: axis(theme, { domain: [0.42, 1], nticks: 5, title: { text: `${sym}[${d.unit}]` } }),
      yaxis2: axis(theme, { domain: [0, 0.3], nticks: 3, title: { text: `Δ${sym}` }, zeroline: true }),
      shapes: this.shapes(theme),
      annotations,
      datarevision: JSON.stringify([d.unit, d.tokensA.length, d.series.a.hidden[0], d.series.b.hidden[0], height, width]),
    });
    plot(this.Plotly, this.plotDiv, data, layout);
  }
}
