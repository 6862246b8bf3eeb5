// What the plotly figures share: the theme's colours (asked of colors.js, the one owner of colours, so
// light/dark follow the page), its type size, and one way to (re)draw a plot.

import { chartColours } from '../colors.js';

// Cached per theme and type size: reading styles on every step would force a style recalculation.
let cached = null;

export function plotTheme() {
  const key = `${document.body.dataset.theme}|${document.body.classList.contains('large')}`;
  if (cached?.key === key) return cached.theme;
  const base = Number.parseFloat(getComputedStyle(document.body).fontSize) || 16;
  const theme = { ...chartColours(), font: base * 0.8 };
  cached = { key, theme };
  return theme;
}

export function baseLayout(theme, extra = {}) {
  return {
    paper_bgcolor: 'rgba(0,0,0,0)',
    plot_bgcolor: 'rgba(0,0,0,0)',
    font: { color: theme.fg, size: theme.font, family: 'inherit' },
    margin: { l: 52, r: 12, t: 30, b: 44 },
    showlegend: false,
    hoverlabel: { font: { size: theme.font } },
    ...extra,
  };
}

export function axis(theme, extra = {}) {
  // automargin: long or rotated token labels push the axis title out instead of covering it.
  return { gridcolor: theme.grid, zerolinecolor: theme.muted, linecolor: theme.muted, automargin: true, ...extra };
}

// How many token labels fit under a small plot and under a wide one.
export const FEW_TICKS = 14;

export const PLOT_CONFIG = { displayModeBar: false, responsive: true };

// Draw into `div`. When the data object is the one drawn last time (the caller caches it) and only the
// step marker moved, relayout just the shapes: a full react() redraws a heatmap, ten times slower.
export function plot(Plotly, div, data, layout) {
  if (div.lastData === data && div.lastRevision === layout.datarevision && div.lastTheme === layout.font.color) {
    return Plotly.relayout(div, { shapes: layout.shapes ?? [] });
  }
  div.lastData = data;
  div.lastRevision = layout.datarevision;
  div.lastTheme = layout.font.color;
  return Plotly.react(div, data, layout, PLOT_CONFIG);
}

// Token axes: x is the step number (1-based, as everywhere on the page), the tick text is the token.
// Every token is labelled — turned on its side when more than maxTicks would crowd the axis — up to
// three times maxTicks; only longer texts are thinned, and then never the tokens of `keep` (0-based
// steps, e.g. the current one), so the word a lecture points at ("spain") always has its tick (and the
// thinned ones next to it make room).
// upright: a vertical axis, whose labels cannot turn: thinned to maxTicks (keeping `keep`).
export function tokenTicks(tokens, show, maxTicks = 40, keep = [], { upright = false } = {}) {
  const T = tokens.length;
  const every = T <= (upright ? 1 : 3) * maxTicks ? 1 : Math.ceil(T / maxTicks);
  const kept = new Set(keep);
  const vals = [];
  const text = [];
  // A thinned tick right beside a kept one would run into it: it gives way.
  const crowds = (k) => every > 1 && keep.some((j) => j !== k && Math.abs(j - k) <= every / 2);
  tokens.forEach((t, k) => {
    if ((k % every === 0 && !crowds(k)) || kept.has(k)) {
      vals.push(k + 1);
      text.push(show(t.text));
    }
  });
  const tickangle = !upright && vals.length > maxTicks ? -60 : 0;
  return { tickmode: 'array', tickvals: vals, ticktext: text, tickangle };
}
