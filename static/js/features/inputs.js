// The page's own controls: the model picker and its card, the text and target boxes, the tint toggle, the
// share button and the panels' open/closed state. Boxes follow the state without moving a caret; a model
// switch keeps what still fits the new model (switchModel).

import { fmt } from '../config.js';
import { tokenizerKind } from '../page.js';

export function setupInputs(page, { errors }) {
  const { config, cards, state, $ } = page;

  // A word model and a char model want different targets: drop one that would not fit. An untouched
  // example sentence becomes the new model's example; units are picked afresh for the new model.
  function switchModel(id) {
    const old = state.values.model;
    const untouched = state.values.text === page.exampleFor(old);
    const same = tokenizerKind(cards.get(id)) === tokenizerKind(cards.get(old));
    return state.set({
      model: id,
      text: untouched ? page.exampleFor(id) : state.values.text,
      target: untouched ? page.exampleTarget(id) : same ? state.values.target : '',
      layer: 0,
      units: null,
      clamps: [],
    });
  }

  function fillModelPicker() {
    const failed = $('failed-models');
    if (failed && config.failed?.length) {
      failed.hidden = false;
      failed.replaceChildren(
        ...config.failed.map((f) =>
          Object.assign(document.createElement('li'), { textContent: `A model failed to load: ${f.path}: ${f.error}` }),
        ),
      );
    }
    const select = $('model-select');
    if (!select) return;
    select.replaceChildren(
      ...config.models.map((c) => {
        const o = document.createElement('option');
        o.value = c.id;
        o.textContent = `${c.title} — ${c.task}`;
        return o;
      }),
    );
  }

  function syncModelCard() {
    const card = cards.get(state.values.model);
    const el = $('model-card');
    if (el) {
      el.replaceChildren();
      if (card) {
        const val = card.metrics?.validation;
        const metrics = val && typeof val.value === 'number' ? `${val.name}: ${fmt(val.value, 3)}` : '';
        const size = `${card.arch.toUpperCase()} · ${card.layers} layer${card.layers > 1 ? 's' : ''} × ${card.hidden_size} units · ${tokenizerKind(card)} tokens`;
        el.append(document.createTextNode(`${card.description ?? ''} `));
        const meta = document.createElement('span');
        meta.className = 'muted';
        meta.textContent = `${size}${metrics ? ` · ${metrics}` : ''}`;
        el.append(meta);
      }
    }
    const targetInput = $('target-input');
    if (targetInput && card) {
      const kind = tokenizerKind(card);
      targetInput.placeholder = kind === 'word' ? 'a word, e.g. Spanish' : 'a character, e.g. e';
      if (card.task_kind === 'classifier') targetInput.placeholder = `a label: ${card.classes.join(' or ')}`;
      if (card.task_kind === 'forecaster') targetInput.placeholder = 'a number, e.g. 42';
    }
    if (state.values.model && !cards.has(state.values.model)) {
      const failed = config.failed?.find((f) => f.path.split(/[\\/]/).pop() === state.values.model);
      errors.say(
        'model',
        failed
          ? `The model “${state.values.model}” failed to load: ${failed.error}`
          : `There is no model “${state.values.model}” on this server; pick one from the list.`,
      );
    }
  }

  function syncInputs(changed = null) {
    const s = state.values;
    const set = (id, key, value) => {
      const el = $(id);
      // Never rewrite the box the user is typing in: it would move the caret.
      if (el && (!changed || changed.has(key)) && el.value !== value && document.activeElement !== el) el.value = value;
    };
    set('model-select', 'model', s.model);
    set('text-input', 'text', s.text);
    set('target-input', 'target', s.target);
    const tint = $('tint-toggle');
    if (tint) tint.checked = s.tint;
  }

  function syncPanels() {
    const open = page.panelsOpen();
    for (const d of document.querySelectorAll('[data-panel]')) {
      const want = open.has(d.dataset.panel);
      if (d.tagName === 'DETAILS') {
        if (d.open !== want) d.open = want;
      } else {
        d.hidden = !want;
      }
    }
  }

  fillModelPicker();
  syncPanels();
  syncModelCard();
  syncInputs();
  const select = $('model-select');
  select?.addEventListener('change', () => switchModel(select.value));
  $('text-input')?.addEventListener('input', (ev) => state.set({ text: ev.target.value }));
  $('target-input')?.addEventListener('input', (ev) => state.set({ target: ev.target.value.trim() }));
  $('tint-toggle')?.addEventListener('change', (ev) => state.set({ tint: ev.target.checked }));
  $('share-button')?.addEventListener('click', async () => {
    const note = $('share-note');
    try {
      await navigator.clipboard.writeText(window.location.href);
      if (note) note.textContent = 'link copied';
    } catch {
      if (note) note.textContent = 'copy the address bar: it holds this view';
    }
  });
  for (const d of document.querySelectorAll('details[data-panel]')) {
    d.addEventListener('toggle', () => {
      const open = page.panelsOpen();
      if (d.open) open.add(d.dataset.panel);
      else open.delete(d.dataset.panel);
      state.set({ panels: [...open] });
    });
  }
  state.subscribe((changed) => {
    if (changed.has('panels')) {
      syncPanels();
      page.loadPlotly();
    }
    if (changed.has('model')) syncModelCard();
    syncInputs(changed);
  });
  return { switchModel };
}
