// What the model predicts next after the current step: the likeliest tokens as bars, with the actual
// next token (or the target, at the last step) highlighted with its probability. Bars are on 0–100%. When gates are
// clamped, the unclamped run's probabilities are drawn beside them as outlined ghost bars.

import { PREDICTIONS_SHOWN, fmt, showToken } from '../config.js';
import { Figure, html } from './figure.js';

const pct = (p) => `${(100 * p).toFixed(p < 0.1 ? 1 : 0)}%`;
// A step's ranked outputs: a language model's next tokens, a classifier's classes (as rows of the same
// kind), none for a forecaster (its forecast is the headline).
const ranked = (step) => step.top ?? step.classes?.map((c) => ({ token: c.label, p: c.p })) ?? [];

export class Predictions extends Figure {
  constructor({ container }) {
    super({ container });
    this.data = null;
    this.headline = html('p', { class: 'pred-headline', 'aria-live': 'polite' });
    this.list = html('ol', { class: 'pred-list' });
    this.legend = html('p', { class: 'pred-legend', hidden: true });
    this.scale = html('p', { class: 'pred-scale', text: 'bar: the probability, on a track of 0–100%' });
    this.container.append(this.headline, this.list, this.legend, this.scale);
  }

  // data: {step: {top, expected, loss}, baseline: same | null, isTarget, isLast}
  update(data) {
    this.data = data;
    this.draw();
  }

  draw() {
    const d = this.data;
    if (!d) return;
    const { step, baseline } = d;
    const exp = step.expected ?? null;
    const what = d.isTarget ? 'target' : 'actual next';
    this.headline.replaceChildren();
    if (step.forecast) {
      const f = step.forecast;
      this.headline.append('forecast ', html('strong', { class: 'tok', text: fmt(f.value) }));
      if (f.expected !== null) this.headline.append(` · actual ${fmt(f.expected)}`);
    } else if (exp) {
      this.headline.append(
        `${what} `,
        html('strong', { class: 'tok', text: `“${showToken(exp.token)}”` }),
        ` p = ${fmt(exp.p, 3)}`,
      );
      if (baseline?.expected) {
        this.headline.append(
          html('span', { class: 'pred-change', text: ` (without the clamp ${fmt(baseline.expected.p, 3)})` }),
        );
      }
      if (step.loss !== null && step.loss !== undefined)
        this.headline.append(html('span', { class: 'loss', text: ` · loss ${fmt(step.loss)}` }));
    } else {
      this.headline.append(d.isLast ? 'last step: set a target to ask “what should come next?”' : '');
    }
    const rows = ranked(step).slice(0, PREDICTIONS_SHOWN);
    const inTop = exp && rows.some((r) => r.token === exp.token);
    const baseP = (token) => {
      if (!baseline) return null;
      const hit = ranked(baseline).find((r) => r.token === token);
      if (hit) return hit.p;
      return baseline.expected?.token === token ? baseline.expected.p : null;
    };
    const row = (r, extra = '') => {
      const isExp = exp && r.token === exp.token;
      const b = baseP(r.token);
      // On the absolute scale: the track is p = 1, so an RNN's 18% is a short bar beside an LSTM's 99%
      // (scaled to the top row, every model would look sure of itself).
      const bar = html('span', { class: 'bar' }, html('span', { class: 'fill', style: `width:${100 * r.p}%` }));
      if (b !== null) bar.append(html('span', { class: 'ghost', style: `width:${100 * b}%` }));
      return html(
        'li',
        {
          class: `${isExp ? 'expected' : ''} ${extra}`,
          'aria-label': `${r.token}: ${pct(r.p)}${isExp ? ` (${what})` : ''}`,
        },
        html('span', { class: 'tok', text: showToken(r.token) }),
        bar,
        html(
          'span',
          { class: 'p' },
          pct(r.p),
          b !== null ? html('span', { class: 'was', text: ` was ${pct(b)}` }) : '',
        ),
      );
    };
    const items = rows.map((r) => row(r));
    if (exp && !inTop) items.push(row({ token: exp.token, p: exp.p }, 'outside'));
    this.list.replaceChildren(...items);
    this.legend.hidden = !baseline;
    this.legend.replaceChildren(
      html('span', { class: 'key-fill' }),
      ' with the clamp  ',
      html('span', { class: 'key-ghost' }),
      ' without it (“was”)',
    );
  }
}
