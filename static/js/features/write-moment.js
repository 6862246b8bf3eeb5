// "Which units wrote here?": the write moment of a lecture (the country goes into the cell at "Spain").
// One button; pressed, it selects the units whose memory changed most at the step on screen,
// |m_t − m_{t−1}| for the memory trace-doc.js names (the cell state of an LSTM, the hidden state
// otherwise), so the diagram draws their values large and the token strip can be tinted by the first.
// The feature keeps no state of its own beyond its note; it reads the page through `page`.

import { memorySymbol } from '../archs.js';
import { memoryAt } from '../trace-doc.js';

export const WRITERS_SHOWN = 3;

// The units of layer l whose memory moved most at step t, largest first: [{unit, delta}].
export function writersAt(trace, t, l, n = WRITERS_SHOWN) {
  const now = memoryAt(trace, t, l);
  if (!now) return [];
  const before = t > 0 ? memoryAt(trace, t - 1, l) : null;
  const moved = Array.from(now, (v, j) => ({ unit: j, delta: v - (before ? before[j] : 0) }));
  moved.sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta));
  return moved.slice(0, n);
}

// page: the page object (page.js); button and note: elements.
export function setupWriteMoment(page, { button, note }) {
  if (!button) return;
  // The note speaks of one step of one text: it goes when either changes.
  page.subscribe((changed) => {
    if (note && ['step', 'text', 'model', 'layer', 'clamps'].some((k) => changed.has(k))) note.textContent = '';
  });
  button.addEventListener('click', () => {
    const doc = page.trace;
    if (!doc?.steps?.length) return;
    const t = page.displayedStep();
    const l = page.layerOf();
    const writers = writersAt(doc, t, l);
    if (!writers.length) return;
    page.set({ units: writers.map((w) => w.unit) });
    if (note) {
      const sym = memorySymbol(doc.model.arch);
      const tok = doc.tokens[t]?.text ?? '';
      note.textContent = `at “${tok}”: ${writers
        .map((w) => `unit ${w.unit} Δ${sym} ${w.delta >= 0 ? '+' : '−'}${Math.abs(w.delta).toFixed(2)}`)
        .join(', ')}`;
    }
  });
}
