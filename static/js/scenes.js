// Scenes: the slides' examples as guided sequences of states (app/scenes/*.json, served by /api/scenes).
// Transport and logic only, no DOM: features/scenes.js (the explorer) and lab.js (the gradient lab) fetch a scene
// here, turn one of its pages into a state change, and give the caption to the scene bar.

import { PANELS, sitePath } from './config.js';

// The explorer fields a page sets; those it leaves out go back to their defaults, so one page's clamps,
// units or compare model never leak into the next. Look and feel (theme, large type, speed) are the
// viewer's, not the scene's, and are never touched.
export const SCENE_FIELDS = [
  'model', 'text', 'target', 'step', 'layer', 'units', 'clamps', 'panels', 'heat', 'tint', 'compare', 'length',
]; // prettier-ignore

export class SceneClient {
  // `preloaded`: name → scene document, for a page that carries its scenes (an exported page).
  constructor(apiBase, preloaded = {}) {
    this.apiBase = apiBase;
    this.cache = new Map(Object.entries(preloaded ?? {}).map(([name, doc]) => [name, Promise.resolve(doc)]));
  }

  // The scene document (a Promise, fetched once per page). Rejects with Error('unknown scene …') for a
  // name the server does not have, or with the server's message for a scene file it refused.
  get(name) {
    if (typeof name !== 'string' || name === '') return Promise.reject(new Error('unknown scene: give a name'));
    if (!this.cache.has(name)) {
      const pending = fetch(`${this.apiBase}/scenes/${encodeURIComponent(name)}`).then(async (res) => {
        if (res.ok) return res.json();
        if (res.status === 404) throw new Error(`unknown scene “${name}”; the gallery at /scenes lists them`);
        const body = await res.json().catch(() => null);
        throw new Error(body?.detail?.message ?? `scene “${name}” could not be loaded (HTTP ${res.status})`);
      });
      pending.catch(() => this.cache.delete(name)); // let a retry ask again
      this.cache.set(name, pending);
    }
    return this.cache.get(name);
  }

  async list() {
    const res = await fetch(`${this.apiBase}/scenes`);
    if (!res.ok) throw new Error(`the scene list could not be loaded (HTTP ${res.status})`);
    return res.json();
  }
}

export function checkPage(scene, index) {
  const n = scene.states.length;
  if (!Number.isInteger(index) || index < 0 || index >= n) {
    throw new Error(`scene “${scene.name}” has ${n} states: give a page from 0 to ${n - 1} (got ${index})`);
  }
}

// The partial state that shows page `index`: `resetFields` back at `defaults`, then the page's own
// fields. Fields this page does not know (`fields`: name → anything) are dropped, and so are panels
// it cannot show, so a scene written for a newer version still plays.
export function pagePartial(scene, index, { fields, defaults, resetFields = SCENE_FIELDS, panels = PANELS }) {
  checkPage(scene, index);
  const out = {};
  for (const k of resetFields) if (k in fields) out[k] = structuredClone(defaults[k]);
  for (const [k, v] of Object.entries(scene.states[index].state)) {
    if (!(k in fields)) continue;
    out[k] = k === 'panels' && panels ? v.filter((p) => panels.includes(p)) : structuredClone(v);
  }
  return out;
}

// What the caption bar shows for page `index`.
export function captionOf(scene, index) {
  const n = scene.states.length;
  return {
    name: scene.name,
    title: scene.title,
    caption: scene.states[index]?.caption ?? '',
    index,
    count: n,
    position: `${index + 1} / ${n}`,
    hasPrev: index > 0,
    hasNext: index < n - 1,
    problems: scene.problems ?? [],
  };
}

// The page after `delta` steps, kept inside the scene.
export function turn(scene, index, delta) {
  return Math.max(0, Math.min(scene.states.length - 1, index + delta));
}

// Where a scene plays: the lab has its own page, the others play in the explorer (or its embed view).
export function sceneHref(scene, index = 0, { embed = false } = {}) {
  const q = `scene=${encodeURIComponent(scene.name)}&page=${index}`;
  if (scene.kind === 'lab') return sitePath(`/lab?${q}${embed ? '&embed=1' : ''}`);
  return sitePath(`${embed ? '/embed' : '/'}?${q}`);
}

// PageDown / n: next page; PageUp / p: previous page; null for any other key.
export function pageKey(key) {
  if (key === 'PageDown' || key === 'n') return 1;
  if (key === 'PageUp' || key === 'p') return -1;
  return null;
}
