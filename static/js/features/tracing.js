// Tracing: the page's socket, what it asks for and when. A change of model or clamps traces at once, typing
// at most once per debounce window; a trace's first step is painted as soon as it arrives (a stale trace
// never paints over a newer one: api.js drops every answer but the latest request's), its panels once it
// is done. Keeps its own timers; the trace on screen is the page's.
//
// With the instant local forward (features/local-forward.js), each change also runs the forward pass in
// the page at once, before the debounce, and paints it as provisional (`provisional: true`, body
// data-shown="local") while the server's trace is on its way. Every change has a generation; the trace
// shown is the newest generation's, and of one generation the server's: a local forward never paints
// over a newer keystroke or over the server's answer to its own, and an older request's server trace
// never paints over a newer keystroke's local forward (its own request follows).

import { ApiError, TraceSocket } from '../api.js';
import { TIMING } from '../config.js';
import { fromDocument, sameSteps, strongestUnit } from '../trace-doc.js';

export const socketUrl = (config) =>
  `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}${config.wsPath}`;

// The request a trace is remembered by (the clamp baseline, compare mode).
export const traceKey = (r) => JSON.stringify([r.model, r.text, r.target ?? null]);

export function setupTracing(page, errors, { local = null } = {}) {
  const { config, body, state } = page;
  let generation = 0; // bumped by every change that asks for a new trace
  let debounceTimer = null;
  let lastSent = -Infinity; // when the last trace request went out (performance.now())
  let tokensEarly = null; // a trace's tokens, drawn before its steps if they are slow to come

  const socket = new TraceSocket(socketUrl(config), {
    onUpdate(doc, phase) {
      const t = page.displayedStep(doc);
      if (newerLocal(doc)) return; // its request is on its way: this one would be a step back
      if (phase === 'meta') {
        errors.clear();
        if (doc.notices.length) errors.say('text', doc.notices.join(' '), 'hint');
        // Follow the end while typing; an explicit step beyond the new end falls back to it. The strip is
        // drawn with the diagram when its step arrives; only a trace slow to stream shows its tokens first
        // (one layout of the page instead of two for a keystroke).
        clearTimeout(tokensEarly);
        tokensEarly = setTimeout(() => {
          if (page.trace !== doc && socket.current === doc && !page.trace?.provisional) page.emit('tokens', doc, t);
        }, TIMING.tokensEarlyMs);
        return;
      }
      if (phase === 'step' && doc.steps[t] && page.trace !== doc) {
        // The server's steps replace the local forward of the same change; painted again only if they
        // differ (they agree to float32 precision unless the model changed): 'done' repaints in any case.
        const local = page.trace?.provisional && page.trace.generation === doc.generation ? page.trace : null;
        page.showTrace(doc);
        body.dataset.shown = 'server';
        if (local && sameSteps(local, doc)) return;
        pickDefaultUnit();
        page.paintCore();
        return;
      }
      if (phase === 'view' && doc === page.trace) {
        page.schedulePanels(0); // what a later view asked for (the gradient rows of a panel just opened)
        return;
      }
      if (phase === 'done') {
        if (page.trace !== doc) page.showTrace(doc);
        body.dataset.shown = 'server';
        pickDefaultUnit();
        page.repaint({ panelDelay: TIMING.panelsAfterTraceMs });
        if (!page.trace?.done) return;
        body.dataset.ready = '1';
        body.dataset.traceId = String(doc.id);
        page.emit('traced', doc);
      }
    },
    onError(err) {
      errors.show(err);
      body.dataset.ready = '1';
      body.dataset.error = err.code;
      page.emit('trace-error', err);
    },
    onStatus(status, delay) {
      const el = page.$('connection');
      if (!el) return;
      el.dataset.status = status;
      // Silent while connecting the first time; a lost connection is said, with when it retries.
      el.textContent =
        status === 'reconnecting' && delay ? `connection lost: retrying in ${(delay / 1000).toFixed(1)} s…` : '';
    },
  });

  // The gradient triangle costs about T/2 forwards on the server: it computes the rows only for a page
  // that shows them. The gradients panel asks for every row (its heatmap shows them all), and so does
  // compare mode (its curves follow the loss at the step shown); otherwise none, until one of them opens
  // and the socket's view asks for them.
  function syncGradientView() {
    const rows = page.panelsOpen().has('gradients') || state.values.compare ? 'all' : [];
    if (JSON.stringify(socket.view.rows) !== JSON.stringify(rows)) socket.setView({ rows });
  }

  function request() {
    const s = state.values;
    const r = { model: s.model, text: s.text, gradients: true };
    if (s.target) r.target = s.target;
    if (s.clamps.length) r.interventions = s.clamps;
    return r;
  }

  function requestTrace() {
    clearTimeout(debounceTimer);
    const s = state.values;
    if (!s.model) {
      errors.show(new ApiError('no_model', 'No model is available: start the server with a model directory.'));
      return;
    }
    if (!s.text) {
      errors.say('text', 'Type a sentence to watch the network read it.', 'hint');
      return;
    }
    if ([...s.text].length > config.limits.maxChars) {
      errors.show(
        new ApiError(
          'text_too_long',
          `The text has ${[...s.text].length} characters; the limit is ${config.limits.maxChars}.`,
        ),
      );
      return;
    }
    body.dataset.ready = '0';
    delete body.dataset.error;
    // The panels wait for this trace: plotly painting the old one would hold the thread it arrives on.
    page.cancelPanels();
    const r = request();
    lastSent = performance.now();
    socket.trace(r);
    socket.current.generation = generation;
    page.emit('request', r);
  }

  // A server trace older than the local forward on screen (a keystroke since its request went out).
  const newerLocal = (doc) => page.trace?.provisional && page.trace.generation > doc.generation;

  // A change: a new generation, its forward pass computed in the page at once (when the engine has the model).
  function change() {
    generation += 1;
    const s = state.values;
    if (!local || !s.model || !s.text || [...s.text].length > config.limits.maxChars) return;
    const r = request();
    const mine = generation;
    local.forward(r)?.then((doc) => {
      const shown = page.trace;
      if (!doc || mine !== generation) return; // a newer keystroke
      if (shown && !shown.provisional && shown.generation >= mine) return; // the server's answer is on screen
      const trace = { ...fromDocument(doc, { request: r }), done: false, complete: false };
      page.showTrace(Object.assign(trace, { provisional: true, generation: mine }));
      body.dataset.shown = 'local';
      pickDefaultUnit();
      page.paintCore();
    });
  }

  // Typing: a keystroke traces at once unless a request went out less than debounceMs ago; then it waits
  // for the rest of that window. A fast typist sends at most one request per window, a lone keystroke
  // repaints without delay, and the last text is always traced.
  function scheduleTrace() {
    clearTimeout(debounceTimer);
    const wait = lastSent + TIMING.debounceMs - performance.now();
    if (wait <= 0) requestTrace();
    else debounceTimer = setTimeout(requestTrace, wait);
  }

  function pickDefaultUnit() {
    const doc = page.trace;
    if (state.values.units !== null || !doc) return;
    // The unit with the strongest memory: usually the most interesting one.
    const best = strongestUnit(doc, page.layerOf());
    if (best !== null) state.set({ units: [best] }, { source: 'auto' });
  }

  syncGradientView(); // before the first trace, which carries the view
  state.subscribe((changed) => {
    if (changed.has('panels') || changed.has('compare')) syncGradientView();
    if (changed.has('model') || changed.has('clamps')) {
      change();
      requestTrace();
    } else if (changed.has('text') || changed.has('target')) {
      change();
      scheduleTrace();
    }
  });
  return { requestTrace, sentAny: () => lastSent !== -Infinity };
}
