// The page: the one owner of what the explorer's features share. It reads the page's configuration, holds
// the state (state.js, mirrored in the URL), the trace on screen and whether it is playing, and schedules
// the repaints: every feature (static/js/features/) registers what it paints and is handed the same frame,
// so none of them keeps a copy of another's state (Distill's `setupX(page)` figures; tensorflow/playground's
// one state). Events between features go through page.on/emit: 'request' (a trace went out), 'tokens' (a
// slow trace's tokens, before its steps), 'traced' (a trace is done and painted), 'trace-error' and 'error'
// (a trace, or a request, failed), 'play' (playing starts), 'gate' (a gate box was clicked), 'baseline'
// (the unclamped run arrived).

import { plotlySource } from './api.js';
import { scales as makeScales } from './colors.js';
import { DEFAULT_PANELS, STARTER, TIMING, sitePath } from './config.js';
import { State } from './state.js';
import { cellRange as traceCellRange } from './trace-doc.js';

export const tokenizerKind = (card) => card?.tokenizer?.kind ?? card?.tokenizer; // "char" | "word"

export function createPage(config) {
  const cards = new Map(config.models.map((c) => [c.id, c]));
  const $ = (id) => document.getElementById(id);
  const body = document.body;
  const firstModel = cards.has(config.defaultModel) ? config.defaultModel : (config.models[0]?.id ?? '');
  const starter = (id) => STARTER[tokenizerKind(cards.get(id)) === 'word' ? 'word' : 'char'];
  const exampleFor = (id) => cards.get(id)?.example ?? starter(id).text;
  const exampleTarget = (id) => cards.get(id)?.example_target ?? (cards.get(id)?.example ? '' : starter(id).target);
  // The text and target a link or a scene leaves out belong to its model: its example sentence, and that
  // sentence's target only when the text is the example too (a link's own text has none of its own).
  const startFor = (given, id) => ({
    ...('text' in given ? {} : { text: exampleFor(id) }),
    ...('target' in given ? {} : { target: 'text' in given ? '' : exampleTarget(id) }),
  });

  // The starting sentence belongs to the model the link names (or the default one).
  const linked = State.parse(window.location.search);
  const linkedModel = linked.model ?? firstModel;
  const state = new State({
    model: firstModel,
    text: exampleFor(linkedModel),
    ...startFor(linked, linkedModel),
    panels: config.embed ? [] : DEFAULT_PANELS,
    theme: window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light',
    ...config.offline?.initial, // the exported view (model, text, target, clamps, ...)
  });

  const listeners = new Map();
  const painters = []; // (frame) => void: what the diagram's frame paints, in order
  const afterPaint = []; // () => void: what follows every full repaint (the clamp panel)
  const panelMakers = []; // (frame) => [part]: plots drawn one task at a time after the frame
  const plotWanted = []; // () => bool: an open panel that needs plotly.js
  const keyBlockers = []; // () => bool: a dialog that has the keyboard
  let trace = null; // the trace on screen: the latest request's, once its displayed step has arrived
  let playing = false;
  let pendingAnimation = 0; // the animation length for the next step change (player.js goTo, taken by the repaint)
  let painted = false;
  let panelsTimer = null;
  let panelsToken = 0; // bumping it stops a panel paint that is drawing its plots one task at a time
  let plotly = null;
  let plotlyLoading = null;

  const values = () => state.values;
  const panelsOpen = () => new Set(state.values.panels);
  const displayedStep = (doc = trace) => {
    const T = doc?.tokens.length ?? 0;
    const s = state.values.step;
    return T === 0 ? 0 : s < 0 || s >= T ? T - 1 : s;
  };
  const layerOf = (doc = trace) => Math.min(state.values.layer, (doc?.model.layers ?? 1) - 1);

  // The symmetric range of the cell scale (trace-doc.js owns what it is), remembered per trace, layer and
  // number of steps: it is asked for on every paint.
  const ranges = new WeakMap();
  function cellRange(doc, layer) {
    const key = `${layer}|${doc.steps.length}`;
    if (ranges.get(doc)?.key === key) return ranges.get(doc).range;
    const range = traceCellRange(doc, layer);
    ranges.set(doc, { key, range });
    return range;
  }

  function scalesFor(doc = trace, layer = layerOf(doc)) {
    const range = doc ? cellRange(doc, layer) : 1;
    return { scales: makeScales(state.values.theme, range), range };
  }

  // What every painter is handed: the trace on screen at its displayed step and layer, and the scales.
  function frame(doc = trace) {
    const t = displayedStep(doc);
    const l = layerOf(doc);
    return { doc, t, l, step: doc.steps[t], ...scalesFor(doc, l) };
  }

  function paintCore({ animateMs = 0 } = {}) {
    if (!trace?.steps[displayedStep()]) return;
    const f = { ...frame(), animateMs };
    for (const paint of painters) paint(f);
    if (!painted) {
      painted = true;
      // Two frames later the diagram is on screen (benchmarks/browser_bench.py reads this mark); only then
      // fetch the (big) plotting library for the panels.
      requestAnimationFrame(() =>
        requestAnimationFrame(() => {
          performance.mark('lstm:first-diagram-paint');
          loadPlotly();
        }),
      );
    }
  }

  function paintPanels() {
    if (!trace?.done) return;
    const f = { ...frame(), plotly, light: playing };
    const parts = panelMakers.flatMap((make) => make(f));
    // One plot per task: a keystroke or the next play frame gets in between (a newer paint stops this one).
    const mine = ++panelsToken;
    const id = trace.id;
    const next = () => {
      if (mine !== panelsToken) return;
      const part = parts.shift();
      if (part) {
        part();
        setTimeout(next);
      } else if (plotly) {
        body.dataset.plotsReady = String(id);
      }
    };
    next();
  }

  // A panel paint waiting for its timer, or drawing its plots one task at a time, stops.
  function cancelPanels() {
    clearTimeout(panelsTimer);
    panelsTimer = null;
    panelsToken += 1;
  }

  // plotly takes far longer than the diagram, so the panels are drawn after the diagram's frame is on
  // screen: at most once per panelsPlayingMs while playing, and once typing pauses for a new trace.
  function schedulePanels(delay = 0) {
    if (playing && panelsTimer) return; // the pending update will show the latest step
    cancelPanels();
    panelsTimer = setTimeout(
      () =>
        requestAnimationFrame(() =>
          setTimeout(() => {
            panelsTimer = null;
            paintPanels();
          }),
        ),
      playing ? TIMING.panelsPlayingMs : delay,
    );
  }

  function repaint({ animateMs = 0, panelDelay = 0 } = {}) {
    paintCore({ animateMs });
    for (const paint of afterPaint) paint();
    schedulePanels(panelDelay);
  }

  // plotly.js is big: fetched only after the diagram has painted, by a script tag (CSP allows 'self'), and
  // only for an open plot panel: parsing it holds the main thread for about a second.
  function loadPlotly({ force = false } = {}) {
    const wanted = force || plotWanted.some((want) => want());
    if (plotly || plotlyLoading || !wanted || !painted) return plotlyLoading;
    // An exported page carries its own copy (plotlySource gives it as a blob: URL).
    plotlyLoading = plotlySource(sitePath(`/vendor/plotly.min.js?v=${encodeURIComponent(config.version)}`)).then(
      (src) =>
        new Promise((resolve, reject) => {
          const script = document.createElement('script');
          script.src = src;
          script.async = true;
          script.onload = () => {
            performance.mark('lstm:plotly-ready'); // parsed and run (benchmarks/browser_bench.py reads it)
            resolve(window.Plotly);
          };
          script.onerror = () => reject(new Error('plotly.js did not load'));
          document.head.append(script);
        }),
    );
    plotlyLoading
      .then((P) => {
        plotly = P;
        paintPanels();
      })
      .catch(() => {
        plotlyLoading = null;
        for (const id of ['memory', 'gradients']) {
          $(id)?.prepend(
            Object.assign(document.createElement('p'), {
              className: 'field-error',
              textContent: 'The plotting library could not be loaded; reload the page to try again.',
            }),
          );
        }
      });
    return plotlyLoading;
  }

  const isTyping = (el) => el && (el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName));

  return {
    config,
    cards,
    state,
    $,
    body,
    values,
    // A view for a container the page has (an embed has fewer), or null.
    view: (Cls, id, extra = {}) => ($(id) ? new Cls({ container: $(id), ...extra }) : null),
    set: (partial, opts) => state.set(partial, opts),
    subscribe: (fn) => state.subscribe(fn),
    panelsOpen,
    exampleFor,
    exampleTarget,
    startFor,

    get trace() {
      return trace;
    },
    showTrace(doc) {
      trace = doc;
    },
    get playing() {
      return playing;
    },
    setPlaying(on) {
      playing = on;
    },
    animateNext(ms) {
      pendingAnimation = ms;
    },
    takeAnimation() {
      const ms = pendingAnimation;
      pendingAnimation = 0;
      return ms;
    },
    displayedStep,
    layerOf,
    cellRange,
    scalesFor,
    frame,

    // Registering what a feature paints, and asking for a repaint.
    paints(fn) {
      painters.push(fn);
    },
    paintsAfter(fn) {
      afterPaint.push(fn);
    },
    panels(fn, { wantsPlotly = null } = {}) {
      panelMakers.push(fn);
      if (wantsPlotly) plotWanted.push(wantsPlotly);
    },
    paintCore,
    repaint,
    schedulePanels,
    cancelPanels,
    get plotly() {
      return plotly;
    },
    loadPlotly,

    // A key for the page (not for a text box, a shortcut of the browser or an open dialog).
    blocksKeys(fn) {
      keyBlockers.push(fn);
    },
    keyForPage(ev) {
      return !(ev.altKey || ev.ctrlKey || ev.metaKey || isTyping(ev.target) || keyBlockers.some((b) => b()));
    },

    on(name, fn) {
      if (!listeners.has(name)) listeners.set(name, []);
      listeners.get(name).push(fn);
    },
    emit(name, ...args) {
      for (const fn of listeners.get(name) ?? []) fn(...args);
    },
  };
}
