// The instant local forward on the server page: the engine (static/js/engine/, in a Web Worker) computes a
// keystroke's forward pass in the page while the server's trace is on its way; tracing.js paints it as
// provisional and the server's steps replace it when they arrive (the server's numbers are authoritative;
// the gradients are only ever the server's). A model's weights are fetched from /api/models/{id}/ (its
// model.json and weights.safetensors, as a static site's models/{id}/) after its first trace has painted,
// and only for the models the server offers (config.localForward.models: those within
// LSTM_EXPLAINER_LOCAL_FORWARD_MAX_BYTES). A model that cannot be loaded is not asked for again: the page
// then traces as it does without the engine.
//
// On when the server says (LSTM_EXPLAINER_LOCAL_FORWARD) or the page's URL has `local=1`; `local=0` turns
// it off (benchmarks/browser_bench.py measures both). A page without a server has the engine already.

import { LocalEngine } from '../local-engine.js';

const WARM_RUNS = 3;

export function localForwardWanted(config, search = window.location.search) {
  const spec = config.localForward;
  if (!spec || config.engine) return false;
  const flag = new URLSearchParams(search).get('local');
  return flag === null ? Boolean(spec.on) : flag === '1';
}

// null when the page does not use it; else {forward(request) → Promise<document | null> | null}.
export function setupLocalForward(page) {
  const { config } = page;
  if (!localForwardWanted(config)) return null;
  const { models, worker } = config.localForward;
  const limits = config.limits;
  const engine = new LocalEngine({
    models: models.map((id) => ({ id, url: `${config.apiBase}/models/${encodeURIComponent(id)}/`, limits })),
    worker: { url: worker },
  });
  const offered = new Set(models);
  const ready = new Set(); // the models in the worker
  const tried = new Set(); // the models asked for (loaded, loading or failed: asked once)

  const forwardOn = (lane, request, incremental) =>
    engine.trace({ ...request, gradients: false }, { lane, incremental });

  // Loaded, then run on the text on screen until the JIT has compiled the engine (the first forward passes
  // of a page take 100-200 ms each, later ones a few ms): only then does a keystroke use it. The last run
  // is on the typist's lane, so the next keystroke computes its new steps only.
  async function warm(model, request) {
    if (!offered.has(model) || tried.has(model)) return;
    tried.add(model);
    try {
      await engine.ensure(model); // can throw at once (a browser without module workers)
      for (let k = 0; k < WARM_RUNS; k++) await forwardOn('warm', request, false);
      await forwardOn('provisional', request, true);
      ready.add(model);
      page.body.dataset.localModels = [...ready].join(' '); // what tests and benchmarks wait for
    } catch {
      // silently without: the server's traces are all the page needs
    }
  }
  page.on('traced', (doc) => warm(doc.model.id, doc.request));

  return {
    // The forward pass of a trace request, as the server's document without gradients; null when the
    // model is not in the worker (yet), or when the engine refuses or a newer forward supersedes it.
    forward(request) {
      if (!ready.has(request.model)) return null;
      return forwardOn('provisional', request, true).catch(() => null);
    },
  };
}
