// Clamps: a gate box clicked in the diagram (page event 'gate') opens the clamp panel; a clamp applied goes
// into the state (`clamps`), which retraces. To show what a clamp changed, the same text is traced without
// clamps over REST (a second request on the socket would supersede the clamped one): the baseline, which
// the predictions read too (`baselineFor`). An exported page's banner switches between its clamps and none.

import { postTrace } from '../api.js';
import { family, memoryOf, memoryScale } from '../archs.js';
import { ClampPanel } from '../views/clamp-panel.js';
import { traceKey } from './tracing.js';

export function setupClamps(page, { errors, player }) {
  const { config, state } = page;
  const view = page.view(ClampPanel, 'clamps');
  let baseline = null; // {key, doc}: the same text without clamps, for "what the clamp changed"
  let baselineRequest = 0;

  function baselineFor(doc) {
    if (!baseline || !state.values.clamps.length) return null;
    return baseline.key === traceKey(doc.request) && baseline.doc.tokens.length === doc.tokens.length
      ? baseline.doc
      : null;
  }

  async function fetchBaseline(r) {
    const key = traceKey(r);
    if (baseline?.key === key) return;
    const mine = ++baselineRequest;
    try {
      const doc = await postTrace(config.apiBase, { model: r.model, text: r.text, target: r.target, gradients: false });
      if (mine !== baselineRequest) return;
      baseline = { key, doc };
      page.emit('baseline');
      paintClamps();
    } catch {
      // The clamped trace reports the same error in place; the comparison just stays empty.
    }
  }

  // The clamps listed, and at the step shown the memory with and without them, on the memory's own scale.
  function paintClamps() {
    if (!view) return;
    const doc = page.trace;
    if (doc) view.family = family(doc.model.arch);
    view.setClamps(state.values.clamps, doc?.model.layers ?? 1);
    const base = doc?.done ? baselineFor(doc) : null;
    if (base) {
      const { t, l, scales } = page.frame();
      const arch = doc.model.arch;
      const key = memoryOf(arch);
      const exp = doc.steps[t].expected;
      view.setComparison({
        t,
        key,
        with: doc.steps[t].layers[l][key],
        without: base.steps[t].layers[l][key],
        scale: scales[memoryScale(arch)],
        token: exp?.token,
        withP: exp?.p ?? null,
        withoutP: base.steps[t].expected?.p ?? null,
      });
    } else {
      view.setComparison(null);
    }
    view.draw();
  }

  page.on('request', (r) => {
    if (state.values.clamps.length) fetchBaseline(r);
  });
  page.on('gate', ({ gate, rect }) => {
    const doc = page.trace;
    if (!view || !doc) return;
    player.pause();
    const l = page.layerOf();
    view.open({
      gate,
      rect,
      step: page.displayedStep(),
      selected: (state.values.units ?? []).filter((j) => j < doc.model.hidden_size),
      existing: state.values.clamps.filter((c) => c.gate === gate && c.layer === l),
      layer: l,
      range: page.cards.get(doc.model.id)?.gates?.[gate] ?? [0, 1],
      fam: family(doc.model.arch),
    });
  });
  view
    ?.on('apply', ({ gate, value, units, range }) => {
      const t = page.displayedStep();
      const clamp = {
        gate,
        value,
        layer: page.layerOf(),
        units: units === 'selected' ? [...(state.values.units ?? [])].sort((a, b) => a - b) : null,
        start: range === 'all' ? null : t,
        stop: range === 'step' ? t + 1 : null,
      };
      // Pin the step: the clamp is about this moment, even if the view was following the end.
      const panels = new Set(state.values.panels);
      panels.add('clamps');
      state.set({ clamps: [...state.values.clamps, clamp], step: t, panels: [...panels] });
    })
    .on('remove', (k) => state.set({ clamps: state.values.clamps.filter((_, j) => j !== k) }))
    .on('clear', () => state.set({ clamps: [] }));
  if (view) {
    errors.sink('clamps', (message) => view.setError(message));
    page.blocksKeys(() => view.isOpen);
  }
  page.paintsAfter(paintClamps);
  return { baselineFor };
}

// An exported page: the banner's button switches between the exported clamps and none.
export function setupOfflineClamps(page) {
  const toggle = page.$('offline-clamps');
  const exported = page.config.offline?.initial?.clamps ?? [];
  if (!page.config.offline || !toggle || !exported.length) return;
  const { state } = page;
  const sync = () => toggle.setAttribute('aria-pressed', String(state.values.clamps.length > 0));
  toggle.hidden = false;
  toggle.addEventListener('click', () => state.set({ clamps: state.values.clamps.length ? [] : exported }));
  state.subscribe((changed) => changed.has('clamps') && sync());
  sync();
}
