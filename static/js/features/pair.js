// Minimal pair: two sentences that differ in a word or two ("… staying in Spain …" / "… in France …"),
// read by the same model. One unit's memory over the tokens of both on one chart, their difference
// (where the country is written, the difference steps), and what each predicts at the end. In the URL:
// `pair` (the second sentence) and `pairunit` (−1: the unit that separates the two most after the first
// word where they differ). The second sentence is traced as the page traces its clamp baseline (api.js
// postTrace: the server, or the engine in an exported page) with the first one's model, target and
// clamps; the first is the page's own trace. This module keeps its own state (the second trace, the
// request counter, the typing timer) and reads the page through `page`; views/pair.js only draws.

import { postTrace } from '../api.js';
import { memoryOf } from '../archs.js';
import { PairView } from '../views/pair.js';

// How the tokens of two sentences line up: the common beginning (`prefix` tokens) and the common end
// (`suffix` tokens). Of equal length, every position pairs with the same one (the swapped word too);
// otherwise only the common beginning and end pair up. pairs: [[i in a, j in b]], cue: the first index
// where they differ (null when the two are the same).
export function alignPair(a, b) {
  const n = Math.min(a.length, b.length);
  let prefix = 0;
  while (prefix < n && a[prefix] === b[prefix]) prefix += 1;
  let suffix = 0;
  while (suffix < n - prefix && a[a.length - 1 - suffix] === b[b.length - 1 - suffix]) suffix += 1;
  const sameLength = a.length === b.length;
  const pairs = [];
  if (sameLength) {
    for (let i = 0; i < a.length; i += 1) pairs.push([i, i]);
  } else {
    for (let i = 0; i < prefix; i += 1) pairs.push([i, i]);
    for (let k = suffix; k >= 1; k -= 1) pairs.push([a.length - k, b.length - k]);
  }
  const cue = prefix === a.length && sameLength ? null : prefix;
  return { pairs, prefix, suffix, sameLength, cue };
}

// Where sentence b's tokens sit on sentence a's axis (0-based, fractional in a middle of another length).
export function positionsOnA(al, lenA, lenB) {
  const midA = lenA - al.suffix - al.prefix;
  const midB = lenB - al.suffix - al.prefix;
  return Array.from({ length: lenB }, (_, j) => {
    if (al.sameLength || j < al.prefix) return j;
    if (j >= lenB - al.suffix) return j + lenA - lenB;
    // b's middle spread over a's (an insertion into a sits between its neighbours)
    return midA > 0 ? al.prefix + ((j - al.prefix + 0.5) * midA) / midB - 0.5 : al.prefix - 0.5 + (j - al.prefix + 1) / (midB + 1);
  });
}

const memoryRow = (doc, l, u) => doc.steps.map((s) => s.layers[l][memoryOf(doc.model.arch)][u]);

// The units whose memory differs most between the two from the cue on, most first: [{unit, gap}] (gap:
// the largest |a − b| over the paired steps from the cue; empty without a cue).
export function separatingUnits(a, b, l, al, n = 3) {
  if (al.cue === null) return [];
  const key = memoryOf(a.model.arch);
  const gaps = new Float64Array(a.model.hidden_size);
  for (const [i, j] of al.pairs) {
    if (i < al.cue) continue;
    const ma = a.steps[i].layers[l][key];
    const mb = b.steps[j].layers[l][key];
    for (let u = 0; u < gaps.length; u += 1) gaps[u] = Math.max(gaps[u], Math.abs(ma[u] - mb[u]));
  }
  const order = Array.from(gaps, (gap, unit) => ({ unit, gap })).sort((x, y) => y.gap - x.gap);
  return order.slice(0, n);
}

// The difference a − b of a unit's memory at the paired positions, and where it jumps most (the write
// moment): {diff: [{i, j, d}], jump: {k, from, to, across} | null} (k indexes diff; `across`: from the
// last paired position before words that do not pair, so the jump is over them). Both start at zero.
export function pairDifference(a, b, l, u, al) {
  const ma = memoryRow(a, l, u);
  const mb = memoryRow(b, l, u);
  const diff = al.pairs.map(([i, j]) => ({ i, j, d: ma[i] - mb[j] }));
  let jump = null;
  diff.forEach((p, k) => {
    const from = k > 0 ? diff[k - 1].d : 0;
    const size = Math.abs(p.d - from);
    const across = k > 0 && diff[k - 1].i !== p.i - 1;
    if (!jump || size > jump.size) jump = { k, from, to: p.d, size, across };
  });
  return { diff, jump };
}

// A token's probability after a trace's last step: from its top list or its target, else an upper bound
// (below the top list's last entry): {p, below}.
function probabilityOf(doc, token) {
  const step = doc.steps[doc.steps.length - 1];
  const hit = step.top?.find((r) => r.token === token);
  if (hit) return { p: hit.p, below: false };
  if (step.expected?.token === token && step.expected.p !== null) return { p: step.expected.p, below: false };
  const top = step.top ?? [];
  return { p: top.length ? top[top.length - 1].p : 1, below: true };
}

// The rows of "what each predicts at the end": each sentence's two likeliest next tokens, with both
// sentences' probability of each, on one absolute scale.
export function endPredictions(a, b) {
  const lead = (doc) => (doc.steps[doc.steps.length - 1].top ?? []).slice(0, 2).map((r) => r.token);
  const tokens = [...new Set([...lead(a), ...lead(b)])];
  return tokens.map((token) => ({ token, a: probabilityOf(a, token), b: probabilityOf(b, token) }));
}

// page: the page object (page.js); container and button: elements.
export function setupPair(page, { container, button }) {
  if (!container) return;
  const done = () => (page.trace?.done ? page.trace : null);
  const view = new PairView({ container });
  let other = null; // {key, doc} | {key, error}: the second sentence's trace
  let asked = 0; // bumping it makes an older answer give up
  let typing = null;

  const open = () => page.values().panels.includes('pair');
  const mark = (v) => {
    if (v === null) delete document.body.dataset.pairReady;
    else document.body.dataset.pairReady = v;
  };

  async function fetchOther(a, key) {
    const mine = ++asked;
    other = { key, doc: null };
    mark('0');
    const request = { ...a.request, text: page.values().pair, gradients: false };
    try {
      const doc = await postTrace(page.config.apiBase, request);
      if (mine === asked) other = { key, doc };
    } catch (err) {
      if (mine === asked) other = { key, error: err.message };
    }
    if (mine === asked) refresh();
  }

  function refresh() {
    const s = page.values();
    if (button) button.setAttribute('aria-pressed', String(open()));
    if (!open()) {
      mark(null);
      return;
    }
    view.setInput(s.pair);
    const a = done();
    if (!s.pair) {
      view.update({ status: 'empty' });
      mark('1');
      return;
    }
    if (!a || a.request.text !== s.text) {
      view.update({ status: 'waiting' });
      mark('0');
      return;
    }
    const key = JSON.stringify([a.request.model, s.pair, a.request.target ?? null, a.request.interventions ?? []]);
    if (other?.key !== key) {
      view.update({ status: 'waiting' });
      fetchOther(a, key);
      return;
    }
    if (other.error) {
      view.update({ status: 'error', message: other.error });
      mark('1');
      return;
    }
    if (!other.doc) return; // on its way
    const b = other.doc;
    const l = page.layerOf();
    const textsA = a.tokens.map((t) => t.text);
    const textsB = b.tokens.map((t) => t.text);
    const al = alignPair(textsA, textsB);
    const apart = separatingUnits(a, b, l, al);
    const best = apart[0] ?? null;
    const H = a.model.hidden_size;
    const unit = s.pairunit >= 0 && s.pairunit < H ? s.pairunit : (best?.unit ?? 0);
    const series = (doc) => ({
      hidden: doc.steps.map((st) => st.layers[l].hidden[unit]),
      cell: memoryOf(doc.model.arch) === 'cell' ? doc.steps.map((st) => st.layers[l].cell[unit]) : null,
    });
    const { diff, jump } = pairDifference(a, b, l, unit, al);
    const differs = (texts, len) => texts.slice(al.prefix, len - al.suffix).join(' ');
    view.update({
      status: al.cue === null ? 'same' : 'ready',
      tokensA: textsA,
      tokensB: textsB,
      xB: positionsOnA(al, textsA.length, textsB.length),
      align: al,
      words: { a: differs(textsA, textsA.length), b: differs(textsB, textsB.length) },
      arch: a.model.arch,
      memory: memoryOf(a.model.arch),
      unit,
      chosen: s.pairunit >= 0 && s.pairunit < H,
      best,
      apart,
      H,
      series: { a: series(a), b: series(b) },
      diff,
      jump,
      predictions: endPredictions(a, b),
      step: page.displayedStep(),
      clamped: (a.request.interventions ?? []).length > 0,
    });
    const plotly = page.loadPlotly({ force: true });
    if (!plotly) {
      mark('0');
      return;
    }
    plotly
      .then((P) => {
        view.setPlotly(P);
        view.draw();
        mark('1');
      })
      .catch(() => mark('1')); // page.js says in the panels that plotly.js did not load
  }

  view
    .on('text', (text) => {
      clearTimeout(typing);
      typing = setTimeout(() => page.set({ pair: text }), 150);
    })
    .on('unit', (u) => page.set({ pairunit: u }))
    // The unit in the cell diagram, at the step where the difference jumps: the write, drawn large.
    .on('diagram', ({ unit, step }) => {
      const T = done()?.tokens.length ?? 0;
      const panels = page.values().panels.filter((p) => p !== 'pair');
      page.set({ units: [unit], step: step === T - 1 ? -1 : step, panels });
    })
    .on('close', () => page.set({ panels: page.values().panels.filter((p) => p !== 'pair') }));

  button?.addEventListener('click', () => {
    const s = page.values();
    if (open()) {
      page.set({ panels: s.panels.filter((p) => p !== 'pair') });
      return;
    }
    // A copy of the sentence to change a word of, unless a second sentence is already there.
    page.set({ panels: [...s.panels, 'pair'], pair: s.pair || s.text });
  });

  page.subscribe((changed) => {
    if (['pair', 'pairunit', 'panels', 'layer', 'theme', 'large', 'present'].some((k) => changed.has(k))) refresh();
    else if (changed.has('step') && open()) view.setStep(page.displayedStep());
  });
  page.on('traced', refresh);
  refresh();
}
