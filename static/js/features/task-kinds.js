// The slides' other shapes of RNN on screen: a classifier's reading (every class's p after the current
// step, and how the verdict moved over the sentence) and a forecaster's series with its forecasts as a line
// chart, in a panel beside the diagram that takes the "Next token" panel's place for those models; the
// attribution (the last loss's gradient × input per token) as the token strip's colouring; and the target
// box asking for a label or the next value. This feature keeps its own state (what it last drew); it reads
// the trace only through trace-doc.js.

import { Scale } from '../colors.js';
import { fmt, showToken } from '../config.js';
import { attributionOf, classesOf, forecastOf, taskKind } from '../trace-doc.js';
import { html } from '../views/figure.js';

const SVG = 'http://www.w3.org/2000/svg';
const pct = (p) => `${(100 * p).toFixed(p < 0.1 ? 1 : 0)}%`;

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

// What each kind's target box asks for (the language model's own label is the page's).
const TARGET_LABEL = {
  classifier: 'True label? <span class="muted">(the loss and the gradients are this label’s)</span>',
  forecaster: 'Next value? <span class="muted">(scores the forecast after the last number)</span>',
};

export class TaskKinds {
  // `anchor`: the "Next token" panel's body; the reading panel is put beside it, in the same column.
  constructor({ anchor, targetInput = null }) {
    this.predictions = anchor.closest('details') ?? anchor;
    this.targetInput = targetInput;
    this.targetLabel = targetInput ? document.querySelector(`label[for="${targetInput.id}"]`) : null;
    this.pageLabel = this.targetLabel?.innerHTML ?? '';
    this.kind = 'language-model';
    this.panel = html('details', { class: 'panel kind-reading', 'data-feature': 'task-kinds', open: true, hidden: true });
    this.title = html('h2', { text: 'Reading' });
    this.body = html('div', { class: 'kind-body' });
    this.panel.append(html('summary', {}, this.title), this.body);
    this.predictions.before(this.panel);
    this.list = html('datalist', { id: 'kind-labels' });
    document.body.append(this.list);
  }

  // The model picked: its kind decides the panel, the target box's question and its suggestions.
  setModel(card) {
    this.kind = card?.task_kind ?? 'language-model';
    const lm = this.kind === 'language-model';
    this.panel.hidden = lm;
    this.predictions.hidden = !lm;
    this.title.textContent = this.kind === 'classifier' ? 'Verdict so far' : 'Series and forecasts';
    if (this.targetLabel) this.targetLabel.innerHTML = lm ? this.pageLabel : TARGET_LABEL[this.kind];
    this.list.replaceChildren(...(card?.classes ?? []).map((c) => html('option', { value: c })));
    if (this.targetInput) {
      if (this.kind === 'classifier') this.targetInput.setAttribute('list', this.list.id);
      else this.targetInput.removeAttribute('list');
      this.targetInput.inputMode = this.kind === 'forecaster' ? 'decimal' : 'text';
    }
  }

  // doc: the trace on screen; t: the displayed step; baseline: the same text without the clamps, or null.
  update({ doc, t, baseline = null }) {
    if (!doc || taskKind(doc) === 'language-model') return;
    if (taskKind(doc) === 'classifier') this.drawClassifier(doc, t, baseline);
    else this.drawForecaster(doc, t, baseline);
  }

  drawClassifier(doc, t, baseline) {
    const rows = classesOf(doc, t);
    if (!rows.length) return;
    const T = doc.tokens.length;
    const target = doc.target?.text ?? null;
    const [best] = rows;
    const base = baseline ? classesOf(baseline, t) : [];
    const baseP = (label) => base.find((r) => r.label === label)?.p ?? null;
    const word = showToken(doc.tokens[t].text);
    const headline = html('p', { class: 'kind-headline', 'aria-live': 'polite' });
    headline.append(`after “${word}”: `, html('strong', { class: 'kind-verdict', text: best.label }), ` ${pct(best.p)}`);
    if (base.length && base[0].label !== best.label) {
      headline.append(html('span', { class: 'pred-change', text: ` (without the clamp: ${base[0].label})` }));
    }
    const list = html('ol', { class: 'kind-classes' });
    for (const r of rows) {
      const b = baseP(r.label);
      const li = html(
        'li',
        { class: `kind-class${r.label === target ? ' target' : ''}`, dataset: { label: r.label } },
        html('span', { class: 'kind-label', text: r.label }),
        html(
          'span',
          { class: 'kind-bar-track' },
          html('span', { class: 'kind-bar', style: `width:${(100 * r.p).toFixed(1)}%` }),
          ...(b !== null ? [html('span', { class: 'kind-ghost', style: `width:${(100 * b).toFixed(1)}%` })] : []),
        ),
        html('span', { class: 'kind-p', text: pct(r.p) }),
      );
      list.append(li);
    }
    const last = doc.steps[T - 1];
    const foot = html('p', { class: 'kind-foot muted' });
    if (target && last?.loss !== null && last?.loss !== undefined) {
      foot.append(`true label “${target}”: loss at the last word ${fmt(last.loss)}; words in orange pushed the verdict towards it, in blue away (gradient × input)`);
    } else {
      foot.append('pick the true label in the target box to see which words the verdict depends on');
    }
    this.body.replaceChildren(headline, list, this.verdictChart(doc, t, target ?? classesOf(doc, T - 1)[0]?.label), foot);
  }

  // p(label) after every step so far: how "not" flips it and "but" turns it.
  verdictChart(doc, t, label) {
    const W = 300;
    const H = 70;
    const T = doc.tokens.length;
    const p = doc.steps.map((s) => s?.classes?.find((r) => r.label === label)?.p ?? null);
    const x = (k) => (T === 1 ? W / 2 : 8 + (k * (W - 16)) / (T - 1));
    const y = (v) => 6 + (1 - v) * (H - 12);
    const pts = p.flatMap((v, k) => (v === null ? [] : [`${x(k).toFixed(1)},${y(v).toFixed(1)}`]));
    const chart = svg(
      'svg',
      { class: 'kind-verdict-chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `p(${label}) after each word` },
      svg('line', { class: 'kind-half', x1: 0, x2: W, y1: y(0.5), y2: y(0.5) }),
      svg('polyline', { class: 'kind-verdict-line', points: pts.join(' ') }),
    );
    if (p[t] !== null) chart.append(svg('circle', { class: 'kind-now', cx: x(t), cy: y(p[t]), r: 4 }));
    const cap = html('p', { class: 'kind-chart-caption muted', text: `p(${label}) word by word (line: 50%)` });
    return html('div', { class: 'kind-chart' }, chart, cap);
  }

  drawForecaster(doc, t, baseline) {
    const f = forecastOf(doc, t);
    if (!f) return;
    const values = doc.tokens.map((tok) => tok.value);
    const headline = html('p', { class: 'kind-headline', 'aria-live': 'polite' });
    headline.append(`after ${doc.tokens[t].text}: forecast `, html('strong', { class: 'kind-verdict', text: fmt(f.value) }));
    if (f.expected !== null) headline.append(` · actual ${fmt(f.expected)} · error ${fmt(f.value - f.expected)}`);
    const bf = baseline ? forecastOf(baseline, t) : null;
    if (bf) headline.append(html('span', { class: 'pred-change', text: ` (without the clamp ${fmt(bf.value)})` }));
    this.body.replaceChildren(headline, this.seriesChart(doc, t, values, baseline));
  }

  // The series (dots and line) and the one-step-ahead forecasts (dashed, each drawn at the step it forecasts).
  seriesChart(doc, t, values, baseline) {
    const W = 320;
    const H = 180;
    const T = values.length;
    const forecasts = doc.steps.map((s) => s?.forecast?.value ?? null);
    const ghost = baseline ? baseline.steps.map((s) => s?.forecast?.value ?? null) : [];
    const target = doc.target?.value ?? null;
    const all = [...values, ...forecasts, ...ghost, target].filter((v) => v !== null && Number.isFinite(v));
    let [lo, hi] = [Math.min(...all), Math.max(...all)];
    if (hi - lo < 1e-9) [lo, hi] = [lo - 1, hi + 1];
    const pad = 0.08 * (hi - lo);
    [lo, hi] = [lo - pad, hi + pad];
    const x = (k) => 8 + (k * (W - 18)) / Math.max(T, 1);
    const y = (v) => 10 + ((hi - v) / (hi - lo)) * (H - 30);
    const line = (vals, shift, cls) => {
      const pts = vals.flatMap((v, k) => (v === null ? [] : [`${x(k + shift).toFixed(1)},${y(v).toFixed(1)}`]));
      return svg('polyline', { class: cls, points: pts.join(' ') });
    };
    const chart = svg(
      'svg',
      { class: 'kind-series-chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'the series and the forecasts' },
      svg('line', { class: 'kind-now-line', x1: x(t), x2: x(t), y1: 6, y2: H - 18 }),
      line(values, 0, 'kind-series-line'),
      ...(ghost.length ? [line(ghost, 1, 'kind-ghost-line')] : []),
      line(forecasts, 1, 'kind-forecast-line'),
    );
    values.forEach((v, k) => chart.append(svg('circle', { class: `kind-dot${k === t ? ' now' : ''}`, cx: x(k), cy: y(v), r: k === t ? 4 : 2.5 })));
    if (forecasts[t] !== null) chart.append(svg('circle', { class: 'kind-forecast-dot', cx: x(t + 1), cy: y(forecasts[t]), r: 4.5 }));
    if (target !== null) chart.append(svg('circle', { class: 'kind-target-dot', cx: x(T), cy: y(target), r: 4 }));
    const legend = html(
      'p',
      { class: 'kind-chart-caption muted' },
      html('span', { class: 'kind-key series' }), ' the series  ',
      html('span', { class: 'kind-key forecast' }), ' forecast of the next value',
      ...(ghost.length ? ['  ', html('span', { class: 'kind-key ghost' }), ' without the clamp'] : []),
    ); // prettier-ignore
    // The axis values are page text, not SVG text: the chart scales with its panel, they keep their size.
    const axis = (v) => html('span', { class: 'kind-axis', text: fmt(v, 1) });
    return html('div', { class: 'kind-chart' }, axis(hi - pad), chart, axis(lo + pad), legend);
  }
}

// The token strip's colouring by the attribution (∂L/∂x_k · x_k of the last loss): red pushed the loss up
// (against the label), blue pulled it down (for it); null when the trace has none yet.
export function attributionTint(doc, theme) {
  const a = attributionOf(doc);
  if (!a || taskKind(doc) === 'language-model') return null;
  let max = 0;
  for (const v of a.values) max = Math.max(max, Math.abs(v));
  const values = Array.from(a.values, (v) => -v); // −attribution: positive where the word helps the label
  const scale = new Scale(theme === 'dark' ? 'divergingDark' : 'divergingLight', -(max || 1), max || 1);
  return { unit: null, label: 'attribution', values, scale };
}
