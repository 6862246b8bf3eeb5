// The diagram's level of detail (lecture / research): the URL's `detail` field, else the page's default
// (state.js detailLevel), drawn by every cell diagram on the page; each diagram's toggle changes the field.
// The main diagram's wire zoom (`zoom`: the wire shown whole, '' none) is kept in the URL too, so a
// reloaded or embedded page reopens it. attach(diagram) hands a diagram made later (compare mode's) the
// same level, and returns it.

import { detailLevel } from '../state.js';

export function setupDetailLevel(state, { embed = false } = {}) {
  const diagrams = new Set();
  let zoomed = null; // the diagram whose zoom the URL keeps
  const level = () => detailLevel(state.values, { embed });
  state.subscribe((changed) => {
    if (['detail', 'present'].some((k) => changed.has(k))) for (const d of diagrams) d.setLevel(level());
    if (changed.has('zoom')) zoomed?.setZoom(state.values.zoom);
  });
  return (diagram, { zoom = false } = {}) => {
    if (!diagram) return diagram;
    diagrams.add(diagram);
    diagram.on('detail', (detail) => state.set({ detail }));
    diagram.setLevel(level());
    if (zoom) {
      zoomed = diagram;
      diagram.on('zoom', (key) => state.set({ zoom: key }));
      diagram.setZoom(state.values.zoom);
    }
    return diagram;
  };
}
