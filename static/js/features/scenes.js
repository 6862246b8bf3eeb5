// Scenes: a scene (app/scenes/*.json) is a list of pages; showing one sets its fields and puts every other
// scene field back to its default. The caption bar says where we are; PageDown/PageUp and n/p turn. Keeps
// the playing scene's document and a counter that makes an earlier, slower load give up.

import { FIELDS } from '../state.js';
import { SceneBar } from '../views/scene-bar.js';
import { SceneClient, captionOf, pageKey, pagePartial, sceneHref, turn } from '../scenes.js';

export function setupScenes(page, { player }) {
  const { config, state, body } = page;
  const client = new SceneClient(config.apiBase, config.scenes);
  const bar = page.view(SceneBar, 'scene-bar');
  let scene = null; // the playing scene's document, once fetched
  let asked = 0; // bumping it makes an earlier, slower load give up

  async function load(name, index = 0) {
    const mine = ++asked;
    const doc = await client.get(name);
    const partial = pagePartial(doc, index, { fields: FIELDS, defaults: state.defaults });
    Object.assign(partial, page.startFor(doc.states[index].state, partial.model));
    if (mine !== asked) return state.get();
    if (doc.kind === 'lab') {
      // The gradient lab is a page of its own.
      window.location.assign(sceneHref(doc, index, { embed: config.embed }));
      return state.get();
    }
    scene = doc;
    player.pause();
    state.set({ ...partial, scene: name, page: index }, { source: 'scene' });
    paint();
    return state.get();
  }

  // Show the scene page the state names (or leave the scene when it names none).
  function show() {
    const { scene: name, page: index } = state.values;
    if (!name) {
      asked += 1;
      scene = null;
      paint();
      return Promise.resolve();
    }
    return load(name, index).catch((err) => {
      scene = null;
      bar?.setError(err.message);
      bar?.draw();
    });
  }

  function turnPage(delta) {
    if (!scene) return;
    const next = turn(scene, state.values.page, delta);
    if (next !== state.values.page) load(scene.name, next);
  }

  function paint() {
    if (!bar) return;
    bar.setScene(scene ? captionOf(scene, state.values.page) : null);
    bar.draw();
    body.dataset.scene = scene ? `${scene.name}/${state.values.page}` : '';
  }

  bar
    ?.on('prev', () => turnPage(-1))
    .on('next', () => turnPage(1))
    .on('close', () => state.set({ scene: '', page: 0 }));
  document.addEventListener('keydown', (ev) => {
    const by = scene && page.keyForPage(ev) ? pageKey(ev.key) : null;
    if (by === null) return;
    ev.preventDefault();
    turnPage(by);
  });
  // A scene or page asked for by a link, setState or the close button (load sets source 'scene').
  state.subscribe((changed, values, source) => {
    if ((changed.has('scene') || changed.has('page')) && source !== 'scene') show();
  });
  return { load, show };
}
