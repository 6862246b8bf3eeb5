// Compare mode: a second model reads the same text (state `compare` names it; '' = off). Its traces go over
// a socket of their own, opened the first time compare mode is switched on, so its requests supersede only
// each other: api.js drops every answer but the latest request's, and neither model's stale answer can
// paint over a newer one. Clamps apply to the main model only. Both diagrams follow the one `step`. This
// module keeps the second trace and its socket; the page's frame gives the main one.

import { TraceSocket } from '../api.js';
import { scales as makeScales } from '../colors.js';
import { defaultPartner, partners, whyNot } from '../compare-models.js';
import { diagramFrame, memoryRows, strongestUnit } from '../trace-doc.js';
import { CellDiagram } from '../views/cell-diagram.js';
import { ComparePanel } from '../views/compare.js';
import { socketUrl, traceKey } from './tracing.js';

export function setupCompare(page, { attachDetail }) {
  const { config, cards, state, body, $ } = page;
  let diagram = null; // made when compare mode is first switched on
  let panel = null;
  let socket = null;
  let other = null; // the second model's trace on screen
  let sentKey = ''; // the request last sent on the socket
  let diagramKey = '';

  const problem = () => whyNot(cards, state.values.model, state.values.compare);
  const on = () => Boolean(state.values.compare) && !problem();

  function request() {
    const s = state.values;
    if (!diagram || !on() || !s.text) return;
    const r = { model: s.compare, text: s.text, gradients: true };
    if (s.target) r.target = s.target;
    const key = traceKey(r);
    if (key === sentKey) return;
    sentKey = key;
    socket ??= new TraceSocket(socketUrl(config), { onUpdate, onError });
    body.dataset.compareReady = '0';
    delete body.dataset.compareError;
    diagram.container.classList.add('stale');
    socket.trace(r);
  }

  function onUpdate(doc, phase) {
    if (phase !== 'done' || doc.request.model !== state.values.compare) return; // switched meanwhile
    other = doc;
    panel?.setMessage(problem());
    if (page.trace) paint(page.frame());
    if (page.plotly && panel && !page.playing) {
      panel.setPlotly(page.plotly);
      for (const part of panel.parts()) part();
    }
    body.dataset.compareReady = '1';
    body.dataset.compareTraceId = String(doc.id);
  }

  function onError(err, r) {
    if (r.model !== state.values.compare) return;
    sentKey = '';
    panel?.setMessage(`${r.model}: ${err.message}`);
    body.dataset.compareReady = '1';
    body.dataset.compareError = err.code;
  }

  // The second diagram, the predictions side by side and the overlaid gradient curves at the shown step.
  function paint({ doc: main, animateMs = 0 }) {
    if (!on() || !main) return;
    const predictions = (x) => {
      const k = Math.min(page.displayedStep(main), x.tokens.length - 1);
      const last = k === x.tokens.length - 1;
      return x.steps[k] ? { step: x.steps[k], baseline: null, isTarget: last && Boolean(x.target), isLast: last } : null;
    };
    // Nothing from a model that is no longer the one compared (its answer was dropped on arrival).
    const doc = other?.model.id === state.values.compare ? other : null;
    if (!doc) {
      panel?.setPredictions(predictions(main), null);
      return;
    }
    // The same text and target as the main trace (typing may have moved the main one on already).
    const fresh = doc.request.text === main.request.text && (doc.target?.text ?? '') === (main.target?.text ?? '');
    const t = Math.min(page.displayedStep(main), doc.tokens.length - 1);
    const l = Math.min(state.values.layer, doc.model.layers - 1);
    if (!doc.steps[t]) return;
    const range = page.cellRange(doc, l);
    const key = JSON.stringify([doc.id, t, l, range, state.values.theme]);
    if (diagram && (key !== diagramKey || animateMs)) {
      diagramKey = key;
      diagram.setModel(doc.model.arch, doc.model.hidden_size);
      diagram.setScales(makeScales(state.values.theme, range), range);
      // Unit j of one model has nothing to do with unit j of the other: the second shows its own strongest.
      diagram.setUnits([strongestUnit(doc, l) ?? 0]);
      diagram.update(diagramFrame(doc, t, l, []), { animateMs });
    }
    diagram?.container.classList.toggle('stale', !fresh);
    if (!panel) return;
    panel.setPredictions(predictions(main), fresh ? predictions(doc) : null);
    // The loss at the shown step, or the nearest earlier one that has a loss (as the gradients panel does).
    const series = [
      { side: 'main', doc: main, layer: page.layerOf(main) },
      { side: 'other', doc: fresh ? doc : null, layer: l },
    ].map(({ side, doc: x, layer }) => ({ side, id: x?.model.id, arch: x?.model.arch, ...memoryRows(x, layer) }));
    let lossAt = page.displayedStep(main);
    while (lossAt >= 0 && !series[0].rows?.[lossAt]) lossAt -= 1;
    panel.setCurve({ t: lossAt >= 0 ? lossAt : null, tokens: main.tokens, series: series.filter((x) => x.rows) });
  }

  // What the page shows of compare mode: the toggle, the picker, the second diagram and the compare panel.
  function sync() {
    const s = state.values;
    const comparing = Boolean(s.compare);
    const why = problem();
    if (comparing) {
      diagram ??= attachDetail(page.view(CellDiagram, 'compare-diagram', { clampable: false }));
      panel ??= page.view(ComparePanel, 'compare');
    }
    body.classList.toggle('comparing', comparing && !why);
    if ($('compare')) $('compare').hidden = !comparing;
    if ($('compare-diagram')) $('compare-diagram').hidden = !comparing || Boolean(why);
    if ($('diagram')) $('diagram').dataset.model = comparing ? s.model : '';
    if ($('compare-diagram')) $('compare-diagram').dataset.model = s.compare;
    const toggle = $('compare-toggle');
    if (toggle) {
      const none = !defaultPartner(cards, s.model);
      toggle.setAttribute('aria-pressed', String(comparing));
      toggle.disabled = none && !comparing;
      toggle.title = none
        ? `No other model on this server reads text with the vocabulary of ${s.model}: nothing to compare it with.`
        : 'Read the same text with a second model, side by side';
    }
    const select = $('compare-select');
    if (select) {
      select.hidden = !comparing;
      const ok = new Set(partners(cards, s.model));
      select.replaceChildren(
        ...config.models
          .filter((c) => c.id !== s.model)
          .map((c) => {
            const o = document.createElement('option');
            o.value = c.id;
            o.textContent = ok.has(c.id) ? c.id : `${c.id} (different vocabulary)`;
            o.disabled = !ok.has(c.id);
            return o;
          }),
      );
      select.value = s.compare;
    }
    panel?.setModels(cards.get(s.model), cards.get(s.compare) ?? { id: s.compare, arch: '' }, {
      clamps: s.clamps.length,
    });
    panel?.setMessage(why);
    if (!comparing || why) {
      other = null;
      sentKey = '';
      diagramKey = '';
      delete body.dataset.compareReady;
    }
  }

  page.paints(paint);
  page.panels(
    ({ plotly, light }) => {
      if (!panel || !on() || light) return [];
      panel.setPlotly(plotly);
      return panel.parts();
    },
    { wantsPlotly: () => Boolean(panel) && on() },
  );
  page.on('request', request);

  $('compare-toggle')?.addEventListener('click', () => {
    const s = state.values;
    state.set({ compare: s.compare ? '' : defaultPartner(cards, s.model) });
  });
  $('compare-select')?.addEventListener('change', (ev) => state.set({ compare: ev.target.value }));
  state.subscribe((changed, values, source) => {
    // A new main model keeps the second one only if the two can still be compared; else its twin.
    const lost = values.compare && whyNot(cards, values.model, values.compare);
    if (changed.has('model') && !changed.has('compare') && lost) {
      state.set({ compare: defaultPartner(cards, values.model) }, { source });
      return;
    }
    if (['model', 'compare', 'clamps'].some((k) => changed.has(k))) sync();
    if (changed.has('compare')) {
      request();
      page.loadPlotly();
    }
  });
  sync();

  return {
    on,
    // The second trace on screen, for the page's hook (getCompareTrace).
    trace: () => (on() && other?.model.id === state.values.compare ? other : null),
  };
}
