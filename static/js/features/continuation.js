// The model writing on after the text (POST /api/continue), for the main model and, in compare mode, the
// second one. Asked for when a trace is done, so typing sends one request per finished trace, not per key.
// Keeps its own answers (the last few) and what the panel shows now.

import { postContinue } from '../api.js';
import { CONTINUATION_CHOICES } from '../config.js';
import { ContinuationPanel } from '../views/continuation.js';

export function setupContinuation(page, { compare }) {
  const { config, cards, state } = page;
  const view = page.view(ContinuationPanel, 'continuation');
  const answers = new Map(); // JSON [model, text, length, sample] → {text, error}; the last few only
  let shown = null; // {prompt, ids}: what the panel shows now; answers for anything else wait

  // The continuation's length for a model: the state's choice, or the model's default (0 in the state).
  function lengthFor(id) {
    const kind = cards.get(id)?.tokenizer === 'word' ? 'word' : 'char';
    return { kind, value: state.values.length || config.continuationLengths[kind] };
  }

  function show() {
    if (!view || !shown) return;
    const { prompt, ids } = shown;
    const { kind, value } = lengthFor(ids[0][1]);
    view.setLength(CONTINUATION_CHOICES[kind], value, kind);
    view.setSampling(state.values.sample);
    view.setEntries(
      ids.map(([side, id]) => ({
        side,
        id,
        arch: cards.get(id)?.arch,
        prompt,
        text: null,
        ...answers.get(JSON.stringify([id, prompt, lengthFor(id).value, state.values.sample])),
      })),
    );
    view.draw();
  }

  function request() {
    const s = state.values;
    if (!view || !page.panelsOpen().has('continuation') || !s.text) return;
    const prompt = s.text;
    const ids = [['main', s.model], ...(compare.on() ? [['other', s.compare]] : [])];
    shown = { prompt, ids };
    for (const [, id] of ids) {
      const { kind, value } = lengthFor(id);
      const key = JSON.stringify([id, prompt, value, s.sample]);
      if (answers.has(key) && !answers.get(key).error) continue; // done or on its way
      answers.set(key, { text: null });
      if (answers.size > 40) answers.delete(answers.keys().next().value);
      // The default length goes unsaid, so an exported page (which stores the default) can answer it.
      const body = { model: id, text: prompt };
      if (value !== config.continuationLengths[kind]) body.length = value;
      if (s.sample) {
        const [temperature, topK, seed] = s.sample.split(':').map(Number);
        Object.assign(body, { temperature, top_k: topK, seed });
      }
      postContinue(config.apiBase, body)
        .then((r) => answers.set(key, { text: r.continuation }))
        .catch((err) => answers.set(key, { text: null, error: err.message })) // asked again next time
        .finally(show);
    }
    show();
  }

  // The model's default length is kept as 0, so a link does not pin it when the model changes.
  view?.on('sample', (sample) => state.set({ sample }));
  view?.on('length', (n) => {
    const { kind } = lengthFor(state.values.model);
    state.set({ length: n === config.continuationLengths[kind] ? 0 : n });
  });
  page.on('traced', request);
  state.subscribe((changed, values) => {
    const opened = changed.has('panels') && values.panels.includes('continuation');
    if (changed.has('compare') || changed.has('length') || changed.has('sample') || opened) request();
  });
}
