// The diagram's level of detail (lecture / research): the URL's `detail` field, else the page's default
// (state.js detailLevel), drawn by every cell diagram on the page; each diagram's toggle changes the field.
// attach(diagram) hands a diagram made later (compare mode's) the same level, and returns it.

import { detailLevel } from './state.js';

export function setupDetailLevel(state, { embed = false } = {}) {
  const diagrams = new Set();
  const level = () => detailLevel(state.values, { embed });
  state.subscribe((changed) => {
    if (!['detail', 'present'].some((k) => changed.has(k))) return;
    for (const d of diagrams) d.setLevel(level());
  });
  return (diagram) => {
    if (!diagram) return diagram;
    diagrams.add(diagram);
    diagram.on('detail', (detail) => state.set({ detail }));
    diagram.setLevel(level());
    return diagram;
  };
}
