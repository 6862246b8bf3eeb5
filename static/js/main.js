// The only module that knows every other: it reads the page's configuration, creates the views that
// the page has containers for, sends traces when the state asks for them, paints the answers, and owns
// every timer (the typing throttle, play, the backward animation; reconnecting lives in api.js).

import { ApiError, TraceSocket, plotlySource, postContinue, postTrace, useEngine, usePlotlyElement } from './api.js';
import { scales as makeScales } from './colors.js';
import { defaultPartner, partners, whyNot } from './compare-models.js';
import {
  CHROME,
  CHROME_GROUPS,
  CHROME_OFF,
  CONTINUATION_CHOICES,
  DEFAULT_PANELS,
  STAGES,
  STARTER,
  TIMING,
  family,
  fmt,
  sitePath,
} from './config.js';
import { diagramSvg, download, svgToPng } from './diagram-export.js';
import { guardKeyboardUntilActivated, installEmbedApi } from './embed-api.js';
import { LocalEngine } from './local-engine.js';
import { SceneClient, captionOf, pageKey, pagePartial, sceneHref, turn } from './scenes.js';
import { TaskKinds, attributionTint } from './features/task-kinds.js';
import { setupPair } from './features/pair.js';
import { setupCompareTabs, setupModelCard, setupStage } from './stage.js';
import { setupDetailLevel } from './detail-level.js';
import { setupWriteMoment } from './write-moment.js';
import { cellRange as traceCellRange, memoryAt, memoryOf, memoryRows, scaleOf, strongestUnit } from './trace-doc.js';
import { FIELDS, State } from './state.js';
import { CellDiagram } from './views/cell-diagram.js';
import { ClampPanel } from './views/clamp-panel.js';
import { ComparePanel } from './views/compare.js';
import { ContinuationPanel } from './views/continuation.js';
import { Controls } from './views/controls.js';
import { EmbedDialog, embedUrl } from './views/embed-dialog.js';
import { GradientsPanel } from './views/gradients.js';
import { HelpOverlay } from './views/help-overlay.js';
import { MemoryPanels } from './views/memory-panels.js';
import { Predictions } from './views/predictions.js';
import { SceneBar } from './views/scene-bar.js';
import { TokenStrip } from './views/tokens.js';
import { Unrolled } from './views/unrolled.js';

const config = JSON.parse(document.getElementById('app-config').textContent);
const cards = new Map(config.models.map((c) => [c.id, c]));
const $ = (id) => document.getElementById(id);
const body = document.body;
// A page without a server (`lstm-explainer export`, `lstm-explainer site`) traces with the engine it carries.
if (config.engine) useEngine(new LocalEngine(config.engine));
if (config.offline?.plotlyElement) usePlotlyElement(config.offline.plotlyElement);

const firstModel = cards.has(config.defaultModel) ? config.defaultModel : (config.models[0]?.id ?? '');
const tokenizerKind = (card) => card?.tokenizer?.kind ?? card?.tokenizer; // "char" | "word"
const starter = (id) => STARTER[tokenizerKind(cards.get(id)) === 'word' ? 'word' : 'char'];
const exampleFor = (id) => cards.get(id)?.example ?? starter(id).text;
const exampleTarget = (id) => cards.get(id)?.example_target ?? (cards.get(id)?.example ? '' : starter(id).target);

// The starting sentence belongs to the model the link names (or the default one).
const linkedModel = State.parse(window.location.search).model ?? firstModel;
const state = new State({
  model: firstModel,
  text: exampleFor(linkedModel),
  target: exampleTarget(linkedModel),
  panels: config.embed ? [] : DEFAULT_PANELS,
  theme: window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light',
  ...config.offline?.initial, // the exported view (model, text, target, clamps, ...)
});

// ------------------------------------------------------------------------------------------ the views
const make = (Cls, id, extra = {}) => ($(id) ? new Cls({ container: $(id), ...extra }) : null);
const views = {
  diagram: make(CellDiagram, 'diagram'),
  tokens: make(TokenStrip, 'tokens'),
  controls: make(Controls, 'controls'),
  predictions: make(Predictions, 'predictions'),
  clamps: make(ClampPanel, 'clamps'),
  memory: make(MemoryPanels, 'memory'),
  gradients: make(GradientsPanel, 'gradients'),
  unrolled: make(Unrolled, 'unrolled'),
  sceneBar: make(SceneBar, 'scene-bar'),
  compareDiagram: null, // compare mode's views are made when it is first switched on (compareViews)
  compare: null,
  continuation: make(ContinuationPanel, 'continuation'),
  // a classifier's reading or a forecaster's chart, in the "Next token" panel's place for those models
  kinds: $('predictions') ? new TaskKinds({ anchor: $('predictions'), targetInput: $('target-input') }) : null,
};
const attachDetail = setupDetailLevel(state, { embed: config.embed });
attachDetail(views.diagram);

// ------------------------------------------------------------------------------------- what we know
let trace = null; // the trace on screen: the latest request's, once its displayed step has arrived
let baseline = null; // {key, doc}: the same text without clamps, for "what the clamp changed"
let baselineRequest = 0;
let plotly = null;
let painted = false;
let playing = false;
let playToken = 0; // bumping it stops the timers of an earlier play, which check it before acting
let backwardToken = 0; // the same for the backward animation
let debounceTimer = null;
let lastSent = -Infinity; // when the last trace request went out (performance.now())
let lastDiagramKey = '';
let panelsTimer = null;
let tokensEarly = null; // a trace's tokens, drawn before its steps if they are slow to come
let panelsToken = 0; // bumping it stops a panel paint that is drawing its plots one task at a time
let pendingAnimation = 0; // the animation length for the next step change (set by goTo, used by the repaint)

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

function currentScales(doc = trace) {
  const range = doc ? cellRange(doc, layerOf(doc)) : 1;
  return { scales: makeScales(state.values.theme, range), range };
}

// --------------------------------------------------------------------------------------- painting
// What a cell diagram draws for step t of layer l of a trace.
function diagramFrame(doc, t, l, clamps) {
  const step = doc.steps[t];
  return {
    t,
    T: doc.tokens.length,
    token: doc.tokens[t],
    layer: l,
    layers: doc.model.layers,
    cur: step.layers[l],
    prev: t > 0 ? doc.steps[t - 1]?.layers[l] : null,
    below: l > 0 ? step.layers[l - 1] : null,
    clamps,
  };
}

function paintCore({ animateMs = 0 } = {}) {
  const doc = trace;
  if (!doc) return;
  const t = displayedStep(doc);
  const l = layerOf(doc);
  const step = doc.steps[t];
  if (!step) return;
  const s = state.values;
  const T = doc.tokens.length;
  const { scales, range } = currentScales(doc);
  const units = (s.units ?? []).filter((j) => j < doc.model.hidden_size);
  const layerClamps = s.clamps.filter((c) => c.layer === l);
  // The same picture again (the `done` frame after the step frames, mostly): skip the diagram's redraw.
  const key = JSON.stringify([doc.id, t, l, range, s.theme, units, layerClamps]);
  if (views.diagram && (key !== lastDiagramKey || animateMs)) {
    lastDiagramKey = key;
    views.diagram.setModel(doc.model.arch, doc.model.hidden_size);
    views.diagram.setScales(scales, range);
    views.diagram.setUnits(units);
    views.diagram.update(diagramFrame(doc, t, l, layerClamps), { animateMs });
    views.diagram.container.classList.remove('stale');
  }
  if (views.tokens) {
    views.tokens.setTokens(doc.tokens);
    views.tokens.setStep(t);
    const unit = units[0];
    const arch = doc.model.arch;
    const tintOn = s.tint && unit !== undefined && doc.steps.length === T;
    // The memory's own vector on the memory's own scale, as the diagram draws it (trace-doc.js).
    views.tokens.setTint(
      tintOn
        ? {
            unit,
            values: doc.steps.map((_, k) => memoryAt(doc, k, l)[unit]),
            scale: scales[scaleOf(arch, memoryOf(arch))],
          }
        : attributionTint(doc, s.theme),
    );
    views.tokens.draw();
  }
  paintControls();
  paintPredictions();
  if (views.unrolled && doc.steps.length === T) {
    if (views.unrolled.tokens !== doc.tokens) {
      views.unrolled.setTrace(
        doc.tokens,
        doc.steps.map((st) => st.expected?.p ?? null),
        doc.model.layers,
      );
    }
    views.unrolled.setPosition(t, l);
    views.unrolled.draw();
  }
  paintCompare({ animateMs });
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

function paintControls() {
  if (!views.controls) return;
  const T = trace?.tokens.length ?? 0;
  const t = displayedStep();
  views.controls.setPosition(t, T, trace?.tokens[t]);
  views.controls.setPlaying(playing);
  views.controls.setSpeed(state.values.speed);
  views.controls.setLayers(trace?.model.layers ?? 1, layerOf());
  views.controls.draw();
}

function paintPredictions() {
  if (!views.predictions || !trace) return;
  const t = displayedStep();
  const step = trace.steps[t];
  if (!step) return;
  if (!step.top) {
    views.kinds?.update({ doc: trace, t, baseline: baselineFor(trace) }); // a classifier or a forecaster
    return;
  }
  const base = baselineFor(trace)?.steps[t] ?? null;
  views.predictions.update({
    step,
    baseline: base,
    isTarget: t === trace.tokens.length - 1 && Boolean(trace.target ?? state.values.target),
    isLast: t === trace.tokens.length - 1,
  });
}

function baselineFor(doc) {
  if (!baseline || !state.values.clamps.length) return null;
  return baseline.key === traceKey(doc.request) && baseline.doc.tokens.length === doc.tokens.length
    ? baseline.doc
    : null;
}

function paintClamps() {
  const v = views.clamps;
  if (!v) return;
  if (trace) v.family = family(trace.model.arch);
  v.setClamps(state.values.clamps, trace?.model.layers ?? 1);
  const base = trace?.done ? baselineFor(trace) : null;
  if (base) {
    const t = displayedStep();
    const l = layerOf();
    const fam = family(trace.model.arch);
    const key = fam === 'lstm' ? 'cell' : 'hidden';
    const { scales } = currentScales();
    const exp = trace.steps[t].expected;
    v.setComparison({
      t,
      key,
      with: trace.steps[t].layers[l][key],
      without: base.steps[t].layers[l][key],
      scale: fam === 'lstm' ? scales.cell : scales.tanh,
      token: exp?.token,
      withP: exp?.p ?? null,
      withoutP: base.steps[t].expected?.p ?? null,
    });
  } else {
    v.setComparison(null);
  }
  v.draw();
}

function paintPanels() {
  if (!trace?.done) return;
  const open = panelsOpen();
  const t = displayedStep();
  const l = layerOf();
  const { scales } = currentScales();
  const light = playing;
  const parts = [];
  if (views.memory && open.has('memory') && plotly) {
    views.memory.setPlotly(plotly);
    views.memory.setTrace(trace, scales);
    views.memory.setPosition(t, l);
    views.memory.setUnits(state.values.units);
    views.memory.setQuantity(state.values.heat);
    parts.push(...views.memory.parts({ light }));
  }
  if (views.gradients && open.has('gradients')) {
    views.gradients.setPlotly(plotly);
    views.gradients.setTrace(trace, scales);
    views.gradients.setPosition(t, l);
    parts.push(...views.gradients.parts({ light }));
  }
  if (views.compare && compareOn() && !light) {
    views.compare.setPlotly(plotly);
    parts.push(...views.compare.parts());
  }
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

function paintAll({ animateMs = 0, panelDelay = 0 } = {}) {
  paintCore({ animateMs });
  paintClamps();
  schedulePanels(panelDelay);
}

// A panel paint waiting for its timer, or drawing its plots one task at a time, stops.
function cancelPanels() {
  clearTimeout(panelsTimer);
  panelsTimer = null;
  panelsToken += 1;
}

// plotly takes far longer than the diagram, so the panels are drawn after the diagram's frame is on
// screen: at most once per panelsPlayingMs while playing, and once typing pauses for a new trace.
function schedulePanels(delay) {
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

function markReady() {
  if (!trace?.done) return;
  body.dataset.ready = '1';
  body.dataset.traceId = String(trace.id);
  traced();
}

// ---------------------------------------------------------------------------------------- tracing
const socket = new TraceSocket(
  `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}${config.wsPath}`,
  {
    onUpdate(doc, phase) {
      const t = displayedStep(doc);
      if (phase === 'meta') {
        clearErrors();
        if (doc.notices.length) fieldMessage('text', doc.notices.join(' '), 'hint');
        // Follow the end while typing; an explicit step beyond the new end falls back to it. The strip is
        // drawn with the diagram when its step arrives; only a trace slow to stream shows its tokens first
        // (one layout of the page instead of two for a keystroke).
        clearTimeout(tokensEarly);
        tokensEarly = setTimeout(() => {
          if (!views.tokens || trace === doc || socket.current !== doc) return;
          views.tokens.setTokens(doc.tokens);
          views.tokens.setStep(t);
          views.tokens.draw();
        }, TIMING.tokensEarlyMs);
        return;
      }
      if (phase === 'step' && doc.steps[t] && trace !== doc) {
        trace = doc;
        pickDefaultUnit();
        paintCore();
        return;
      }
      if (phase === 'view' && doc === trace) {
        schedulePanels(0); // what a later view asked for (the gradient rows of a panel just opened)
        return;
      }
      if (phase === 'done') {
        if (trace !== doc) trace = doc;
        pickDefaultUnit();
        paintAll({ panelDelay: TIMING.panelsAfterTraceMs });
        markReady();
        requestContinuations();
      }
    },
    onError(err) {
      showError(err);
      body.dataset.ready = '1';
      body.dataset.error = err.code;
      settleTraceWaiters(err);
    },
    onStatus(status, delay) {
      const el = $('connection');
      if (!el) return;
      el.dataset.status = status;
      // Silent while connecting the first time; a lost connection is said, with when it retries.
      el.textContent =
        status === 'reconnecting' && delay ? `connection lost: retrying in ${(delay / 1000).toFixed(1)} s…` : '';
    },
  },
);
syncGradientView(); // before the first trace, which carries the view

const traceKey = (r) => JSON.stringify([r.model, r.text, r.target ?? null]);

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
    showError(new ApiError('no_model', 'No model is available: start the server with a model directory.'));
    return;
  }
  if (!s.text) {
    fieldMessage('text', 'Type a sentence to watch the network read it.', 'hint');
    return;
  }
  if ([...s.text].length > config.limits.maxChars) {
    showError(
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
  cancelPanels();
  const r = request();
  lastSent = performance.now();
  socket.trace(r);
  requestCompare();
  if (s.clamps.length) fetchBaseline(r);
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

// The unclamped run goes over REST: a second request on the socket would supersede the clamped one.
async function fetchBaseline(r) {
  const key = traceKey(r);
  if (baseline?.key === key) return;
  const mine = ++baselineRequest;
  try {
    const doc = await postTrace(config.apiBase, { model: r.model, text: r.text, target: r.target, gradients: false });
    if (mine !== baselineRequest) return;
    baseline = { key, doc };
    paintPredictions();
    paintClamps();
  } catch {
    // The clamped trace reports the same error in place; the comparison just stays empty.
  }
}

function pickDefaultUnit() {
  if (state.values.units !== null || !trace) return;
  // The unit with the strongest memory: usually the most interesting one.
  const best = strongestUnit(trace, layerOf());
  if (best !== null) state.set({ units: [best] }, { source: 'auto' });
}

// ----------------------------------------------------------------------------------------- errors
// Each error goes next to its cause: the text box, the target box, the model picker or the clamps.
function fieldFor(code) {
  if (/target/.test(code)) return 'target';
  if (/intervention|clamp/.test(code)) return 'clamps';
  if (/model/.test(code)) return 'model';
  return 'text';
}

function fieldMessage(field, message, kind = 'error') {
  if (field === 'clamps' && views.clamps) {
    views.clamps.setError(message);
    return;
  }
  const el = $(`${field}-error`);
  if (!el) return;
  el.textContent = message;
  el.hidden = !message;
  el.classList.toggle('hint', kind === 'hint');
  const input = $(`${field}-input`);
  if (input) {
    if (message && kind === 'error') input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }
}

function showError(err) {
  fieldMessage(fieldFor(err.code), err.message);
  views.diagram?.container.classList.add('stale');
}

function clearErrors() {
  for (const f of ['text', 'target', 'model']) fieldMessage(f, '');
  views.clamps?.setError(null);
  delete body.dataset.error;
}

// ----------------------------------------------------------------------------------------- timers
function playInterval() {
  return TIMING.stepMs / state.values.speed;
}

function animMs() {
  return Math.min(TIMING.maxStageMs * STAGES.length, playInterval() * TIMING.animShare);
}

function goTo(t, { animate = false } = {}) {
  const T = trace?.tokens.length ?? 0;
  if (!T) return;
  const clamped = Math.max(0, Math.min(T - 1, t));
  const next = clamped === T - 1 ? -1 : clamped;
  const from = displayedStep();
  pendingAnimation = animate && clamped === from + 1 ? animMs() : 0;
  state.set({ step: next });
}

function play() {
  if (!trace) return;
  stopBackward();
  playing = true;
  const mine = ++playToken;
  if (displayedStep() >= trace.tokens.length - 1) goTo(0);
  const tick = () => {
    if (mine !== playToken) return;
    const t = displayedStep();
    goTo(t + 1, { animate: true });
    // Stop on arriving at the last token, so the button says "play" as soon as there is nothing left.
    if (t + 1 >= trace.tokens.length - 1) pause();
    else setTimeout(tick, playInterval());
  };
  setTimeout(tick, playInterval());
  paintControls();
}

function pause() {
  const was = playing;
  playing = false;
  playToken += 1;
  paintControls();
  if (was) schedulePanels(0); // bring the per-step plots up to date
}

function stopBackward() {
  backwardToken += 1;
  views.gradients?.setBackward(null);
}

function playBackward() {
  if (!views.gradients || !trace?.done) return;
  pause();
  const mine = ++backwardToken;
  let k = views.gradients.shown ?? displayedStep();
  const hop = () => {
    if (mine !== backwardToken) return;
    views.gradients.setBackward(k);
    views.gradients.drawBackward();
    k -= 1;
    if (k >= 0) setTimeout(hop, TIMING.backwardMs);
  };
  hop();
}

// --------------------------------------------------------------------------- state → page and back
state.subscribe((changed, values, source) => {
  // A scene or page asked for by a link, setState or the close button (loadScene sets source 'scene').
  if ((changed.has('scene') || changed.has('page')) && source !== 'scene') showScenePage();
  if (['theme', 'large', 'present', 'hide', 'show'].some((k) => changed.has(k))) applyLook();
  if (changed.has('panels')) {
    syncPanels();
    loadPlotly();
  }
  if (changed.has('panels') || changed.has('compare')) syncGradientView();
  if (changed.has('model')) syncModelCard();
  syncInputs(changed);
  if (changed.has('model') || changed.has('clamps')) {
    requestTrace();
  } else if (changed.has('text') || changed.has('target')) {
    scheduleTrace();
  }
  const looks = ['step', 'layer', 'units', 'theme', 'tint', 'heat', 'panels', 'large', 'present'];
  const repaint = looks.some((k) => changed.has(k));
  // 'auto' changes (the first trace picking a unit) are painted by whoever made them.
  if (repaint && trace && source !== 'auto') {
    if (changed.has('step') || changed.has('layer')) stopBackward();
    const animateMs = changed.has('step') && changed.size === 1 ? pendingAnimation : 0;
    pendingAnimation = 0;
    if (changed.has('theme') || changed.has('large') || changed.has('present')) {
      // Plot colours and sizes come from the CSS: let the new stylesheet apply first.
      requestAnimationFrame(() => paintAll());
    } else {
      paintAll({ animateMs });
    }
  }
  if (changed.has('speed')) paintControls();
});

function applyLook() {
  body.dataset.theme = state.values.theme;
  body.classList.toggle('large', state.values.large || state.values.present);
  body.classList.toggle('present', state.values.present);
  body.dataset.hidden = chromeHidden().join(' ');
  $('theme-toggle')?.setAttribute('aria-pressed', String(state.values.theme === 'dark'));
  $('large-toggle')?.setAttribute('aria-pressed', String(state.values.large));
  $('present-toggle')?.setAttribute('aria-pressed', String(state.values.present));
}

// The gradient triangle costs about T/2 forwards on the server: it computes the rows only for a page
// that shows them. The gradients panel asks for every row (its heatmap shows them all), and so does
// compare mode (its curves follow the loss at the step shown); otherwise none, until one of them opens
// and the socket's view asks for them. (`compare` itself, not compareOn: this runs before that exists.)
function syncGradientView() {
  const rows = panelsOpen().has('gradients') || state.values.compare ? 'all' : [];
  if (JSON.stringify(socket.view.rows) !== JSON.stringify(rows)) socket.setView({ rows });
}

function syncPanels() {
  const open = panelsOpen();
  for (const d of document.querySelectorAll('[data-panel]')) {
    const want = open.has(d.dataset.panel);
    if (d.tagName === 'DETAILS') {
      if (d.open !== want) d.open = want;
    } else {
      d.hidden = !want;
    }
  }
}

function syncModelCard() {
  const card = cards.get(state.values.model);
  const el = $('model-card');
  if (el) {
    el.replaceChildren();
    if (card) {
      const val = card.metrics?.validation;
      const metrics = val && typeof val.value === 'number' ? `${val.name}: ${fmt(val.value, 3)}` : '';
      const size = `${card.arch.toUpperCase()} · ${card.layers} layer${card.layers > 1 ? 's' : ''} × ${card.hidden_size} units · ${tokenizerKind(card)} tokens`;
      el.append(document.createTextNode(`${card.description ?? ''} `));
      const meta = document.createElement('span');
      meta.className = 'muted';
      meta.textContent = `${size}${metrics ? ` · ${metrics}` : ''}`;
      el.append(meta);
    }
  }
  const targetInput = $('target-input');
  if (targetInput && card) {
    const kind = tokenizerKind(card);
    targetInput.placeholder = kind === 'word' ? 'a word, e.g. Spanish' : 'a character, e.g. e';
    if (card.task_kind === 'classifier') targetInput.placeholder = `a label: ${card.classes.join(' or ')}`;
    if (card.task_kind === 'forecaster') targetInput.placeholder = 'a number, e.g. 42';
  }
  views.kinds?.setModel(card);
  if (state.values.model && !cards.has(state.values.model)) {
    const failed = config.failed?.find((f) => f.path.split(/[\\/]/).pop() === state.values.model);
    fieldMessage(
      'model',
      failed
        ? `The model “${state.values.model}” failed to load: ${failed.error}`
        : `There is no model “${state.values.model}” on this server; pick one from the list.`,
    );
  }
}

function syncInputs(changed = null) {
  const s = state.values;
  const set = (id, key, value) => {
    const el = $(id);
    // Never rewrite the box the user is typing in: it would move the caret.
    if (el && (!changed || changed.has(key)) && el.value !== value && document.activeElement !== el) el.value = value;
  };
  set('model-select', 'model', s.model);
  set('text-input', 'text', s.text);
  set('target-input', 'target', s.target);
  const tint = $('tint-toggle');
  if (tint) tint.checked = s.tint;
}

// ------------------------------------------------------------------------------- views → state
views.tokens?.on('step', (t) => goTo(t));
views.unrolled?.on('step', (t) => goTo(t)).on('layer', (l) => state.set({ layer: l }));
views.memory?.on('pick', ({ unit, step }) => {
  state.set({ units: [unit], step: step === (trace?.tokens.length ?? 0) - 1 ? -1 : step });
});
views.memory?.on('quantity', (q) => state.set({ heat: q }));
views.gradients?.on('step', (t) => goTo(t)).on('backward', playBackward);
// The model's default length is kept as 0, so a link does not pin it when the model changes.
views.continuation?.on('sample', (sample) => state.set({ sample }));
views.continuation?.on('length', (n) => {
  const { kind } = continuationLength(state.values.model);
  state.set({ length: n === config.continuationLengths[kind] ? 0 : n });
});
views.controls
  ?.on('prev', () => goTo(displayedStep() - 1))
  .on('next', () => goTo(displayedStep() + 1, { animate: true }))
  .on('reset', () => {
    pause();
    goTo(0);
  })
  .on('end', () => goTo(Infinity))
  .on('play', play)
  .on('pause', pause)
  .on('speed', (speed) => state.set({ speed }))
  .on('layer', (l) => state.set({ layer: l }));

views.diagram
  ?.on('unit', ({ unit, additive }) => {
    const units = state.values.units ?? [];
    let next;
    if (units.includes(unit)) next = units.filter((u) => u !== unit);
    else next = additive ? [...units, unit] : [unit];
    state.set({ units: next });
  })
  .on('gate', ({ gate, rect }) => {
    if (!views.clamps || !trace) return;
    pause();
    const l = layerOf();
    views.clamps.open({
      gate,
      rect,
      step: displayedStep(),
      selected: (state.values.units ?? []).filter((j) => j < trace.model.hidden_size),
      existing: state.values.clamps.filter((c) => c.gate === gate && c.layer === l),
      layer: l,
      range: cards.get(trace.model.id)?.gates?.[gate] ?? [0, 1],
      fam: family(trace.model.arch),
    });
  });

views.clamps
  ?.on('apply', ({ gate, value, units, range }) => {
    const t = displayedStep();
    const clamp = {
      gate,
      value,
      layer: layerOf(),
      units: units === 'selected' ? [...(state.values.units ?? [])].sort((a, b) => a - b) : null,
      start: range === 'all' ? null : t,
      stop: range === 'step' ? t + 1 : null,
    };
    // Pin the step: the clamp is about this moment, even if the view was following the end.
    const panels = new Set(state.values.panels);
    panels.add('clamps');
    state.set({ clamps: [...state.values.clamps, clamp], step: t, panels: [...panels] });
  })
  .on('remove', (k) => state.set({ clamps: state.values.clamps.filter((_, j) => j !== k) }))
  .on('clear', () => state.set({ clamps: [] }));

// ---------------------------------------------------------------------------------- page controls
// A word model and a char model want different targets: drop one that would not fit. An untouched
// example sentence becomes the new model's example; units are picked afresh for the new model.
function switchModel(id) {
  const old = state.values.model;
  const untouched = state.values.text === exampleFor(old);
  const same = tokenizerKind(cards.get(id)) === tokenizerKind(cards.get(old));
  return state.set({
    model: id,
    text: untouched ? exampleFor(id) : state.values.text,
    target: untouched ? exampleTarget(id) : same ? state.values.target : '',
    layer: 0,
    units: null,
    clamps: [],
  });
}

function bindInputs() {
  const select = $('model-select');
  if (select) {
    select.addEventListener('change', () => switchModel(select.value));
  }
  $('text-input')?.addEventListener('input', (ev) => state.set({ text: ev.target.value }));
  $('target-input')?.addEventListener('input', (ev) => state.set({ target: ev.target.value.trim() }));
  $('theme-toggle')?.addEventListener('click', () =>
    state.set({ theme: state.values.theme === 'dark' ? 'light' : 'dark' }),
  );
  $('large-toggle')?.addEventListener('click', () => state.set({ large: !state.values.large }));
  $('tint-toggle')?.addEventListener('change', (ev) => state.set({ tint: ev.target.checked }));
  $('share-button')?.addEventListener('click', async () => {
    const note = $('share-note');
    try {
      await navigator.clipboard.writeText(window.location.href);
      if (note) note.textContent = 'link copied';
    } catch {
      if (note) note.textContent = 'copy the address bar: it holds this view';
    }
  });
  for (const d of document.querySelectorAll('details[data-panel]')) {
    d.addEventListener('toggle', () => {
      const open = panelsOpen();
      if (d.open) open.add(d.dataset.panel);
      else open.delete(d.dataset.panel);
      state.set({ panels: [...open] });
    });
  }
}

function isTyping(el) {
  return el && (el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName));
}

document.addEventListener('keydown', (ev) => {
  if (ev.altKey || ev.ctrlKey || ev.metaKey || isTyping(ev.target) || views.clamps?.isOpen) return;
  const pageBy = scene ? pageKey(ev.key) : null;
  if (pageBy !== null) {
    ev.preventDefault();
    turnPage(pageBy);
    return;
  }
  const onButton = ev.target.closest?.('button, summary, [role="button"], a');
  switch (ev.key) {
    case 'ArrowLeft':
      goTo(displayedStep() - 1);
      break;
    case 'ArrowRight':
      goTo(displayedStep() + 1, { animate: true });
      break;
    case 'Home':
      goTo(0);
      break;
    case 'End':
      goTo(Infinity);
      break;
    case ' ':
      if (onButton) return; // space already presses the focused button
      if (playing) pause();
      else play();
      break;
    default:
      return;
  }
  ev.preventDefault();
});

function fillModelPicker() {
  const failed = $('failed-models');
  if (failed && config.failed?.length) {
    failed.hidden = false;
    failed.replaceChildren(
      ...config.failed.map((f) =>
        Object.assign(document.createElement('li'), { textContent: `A model failed to load: ${f.path}: ${f.error}` }),
      ),
    );
  }
  const select = $('model-select');
  if (!select) return;
  select.replaceChildren(
    ...config.models.map((c) => {
      const o = document.createElement('option');
      o.value = c.id;
      o.textContent = `${c.title} — ${c.task}`;
      return o;
    }),
  );
}

// plotly.js is big: fetched only after the diagram has painted, by a script tag (CSP allows 'self').
let plotlyLoading = null;
function loadPlotly({ force = false } = {}) {
  // Only for an open plot panel: parsing plotly.js holds the main thread for about a second.
  const open = panelsOpen();
  const wanted =
    force ||
    (views.memory && open.has('memory')) ||
    (views.gradients && open.has('gradients')) ||
    (views.compare && compareOn());
  if (plotly || plotlyLoading || !wanted || !painted) return plotlyLoading;
  // An exported page carries its own copy (plotlySource gives it as a blob: URL).
  plotlyLoading = plotlySource(sitePath(`/vendor/plotly.min.js?v=${encodeURIComponent(config.version)}`)).then(
    (src) =>
      new Promise((resolve, reject) => {
        const script = document.createElement('script');
        script.src = src;
        script.async = true;
        script.onload = () => resolve(window.Plotly);
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

// An exported page: the banner's button switches between the exported clamps and none.
function setupOffline() {
  if (!config.offline) return;
  const toggle = $('offline-clamps');
  const exported = config.offline.initial?.clamps ?? [];
  if (!toggle || !exported.length) return;
  const sync = () => toggle.setAttribute('aria-pressed', String(state.values.clamps.length > 0));
  toggle.hidden = false;
  toggle.addEventListener('click', () => state.set({ clamps: state.values.clamps.length ? [] : exported }));
  state.subscribe((changed) => changed.has('clamps') && sync());
  sync();
}

// ----------------------------------------------------------------------------------------- scenes
// A scene (app/scenes/*.json) is a list of pages; showing one sets its fields and puts every other
// scene field back to its default. The caption bar says where we are; PageDown/PageUp and n/p turn.
const scenes = new SceneClient(config.apiBase, config.scenes);
let scene = null; // the playing scene's document, once fetched
let sceneRequest = 0; // bumping it makes an earlier, slower loadScene give up

async function loadScene(name, index = 0) {
  const mine = ++sceneRequest;
  const doc = await scenes.get(name);
  const partial = pagePartial(doc, index, { fields: FIELDS, defaults: state.defaults });
  // Text and target left out belong to the page's model: its example, or no target for a given text.
  const given = doc.states[index].state;
  if (!('text' in given)) partial.text = exampleFor(partial.model);
  if (!('target' in given)) partial.target = 'text' in given ? '' : exampleTarget(partial.model);
  if (mine !== sceneRequest) return state.get();
  if (doc.kind === 'lab') {
    // The gradient lab is a page of its own.
    window.location.assign(sceneHref(doc, index, { embed: config.embed }));
    return state.get();
  }
  scene = doc;
  pause();
  state.set({ ...partial, scene: name, page: index }, { source: 'scene' });
  paintScene();
  return state.get();
}

// Show the scene page the state names (or leave the scene when it names none).
function showScenePage() {
  const { scene: name, page } = state.values;
  if (!name) {
    sceneRequest += 1;
    scene = null;
    paintScene();
    return Promise.resolve();
  }
  return loadScene(name, page).catch((err) => {
    scene = null;
    views.sceneBar?.setError(err.message);
    views.sceneBar?.draw();
  });
}

function turnPage(delta) {
  if (!scene) return;
  const next = turn(scene, state.values.page, delta);
  if (next !== state.values.page) loadScene(scene.name, next);
}

function paintScene() {
  const bar = views.sceneBar;
  if (!bar) return;
  bar.setScene(scene ? captionOf(scene, state.values.page) : null);
  bar.draw();
  body.dataset.scene = scene ? `${scene.name}/${state.values.page}` : '';
}

views.sceneBar
  ?.on('prev', () => turnPage(-1))
  .on('next', () => turnPage(1))
  .on('close', () => state.set({ scene: '', page: 0 }));

// ----------------------------------------------------------------------------------------- compare mode
// A second model reads the same text (state `compare` names it; '' = off). Its traces go over a socket of
// their own, opened the first time compare mode is switched on, so its requests supersede only each other:
// api.js drops every answer but the latest request's, and neither model's stale answer can paint over a
// newer one. Clamps apply to the main model only. Both diagrams follow the one `step`.
let compareSocket = null;
let compareTrace = null; // the second model's trace on screen
let compareKey = ''; // the request last sent on compareSocket
let compareDiagramKey = '';

const compareProblem = () => whyNot(cards, state.values.model, state.values.compare);
const compareOn = () => Boolean(state.values.compare) && !compareProblem();

function requestCompare() {
  const s = state.values;
  if (!views.compareDiagram || !compareOn() || !s.text) return;
  const r = { model: s.compare, text: s.text, gradients: true };
  if (s.target) r.target = s.target;
  const key = traceKey(r);
  if (key === compareKey) return;
  compareKey = key;
  compareSocket ??= new TraceSocket(
    `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}${config.wsPath}`,
    { onUpdate: onCompareUpdate, onError: onCompareError },
  );
  body.dataset.compareReady = '0';
  delete body.dataset.compareError;
  views.compareDiagram.container.classList.add('stale');
  compareSocket.trace(r);
}

function onCompareUpdate(doc, phase) {
  if (phase !== 'done' || doc.request.model !== state.values.compare) return; // switched meanwhile
  compareTrace = doc;
  views.compare?.setMessage(compareProblem());
  paintCompare();
  if (plotly && views.compare && !playing) {
    views.compare.setPlotly(plotly);
    for (const part of views.compare.parts()) part();
  }
  body.dataset.compareReady = '1';
  body.dataset.compareTraceId = String(doc.id);
}

function onCompareError(err, request) {
  if (request.model !== state.values.compare) return;
  compareKey = '';
  views.compare?.setMessage(`${request.model}: ${err.message}`);
  body.dataset.compareReady = '1';
  body.dataset.compareError = err.code;
}

// The second diagram, the predictions side by side and the overlaid gradient curves at the shown step.
function paintCompare({ animateMs = 0 } = {}) {
  const main = trace;
  if (!compareOn() || !main) return;
  const predictions = (x) => {
    const k = Math.min(displayedStep(main), x.tokens.length - 1);
    const last = k === x.tokens.length - 1;
    return x.steps[k]
      ? { step: x.steps[k], baseline: null, isTarget: last && Boolean(x.target), isLast: last }
      : null;
  };
  // Nothing from a model that is no longer the one compared (its answer was dropped on arrival).
  const doc = compareTrace?.model.id === state.values.compare ? compareTrace : null;
  if (!doc) {
    views.compare?.setPredictions(predictions(main), null);
    return;
  }
  // The same text and target as the main trace (typing may have moved the main one on already).
  const fresh = doc.request.text === main.request.text && (doc.target?.text ?? '') === (main.target?.text ?? '');
  const t = Math.min(displayedStep(main), doc.tokens.length - 1);
  const l = Math.min(state.values.layer, doc.model.layers - 1);
  const step = doc.steps[t];
  if (!step) return;
  const d = views.compareDiagram;
  const range = cellRange(doc, l);
  const key = JSON.stringify([doc.id, t, l, range, state.values.theme]);
  if (d && (key !== compareDiagramKey || animateMs)) {
    compareDiagramKey = key;
    d.setModel(doc.model.arch, doc.model.hidden_size);
    d.setScales(makeScales(state.values.theme, range), range);
    // Unit j of one model has nothing to do with unit j of the other: the second shows its own strongest.
    d.setUnits([strongestUnit(doc, l) ?? 0]);
    d.update(diagramFrame(doc, t, l, []), { animateMs });
  }
  d?.container.classList.toggle('stale', !fresh);
  const v = views.compare;
  if (!v) return;
  v.setPredictions(predictions(main), fresh ? predictions(doc) : null);
  // The loss at the shown step, or the nearest earlier one that has a loss (as the gradients panel does).
  const series = [
    { side: 'main', doc: main, layer: layerOf(main) },
    { side: 'other', doc: fresh ? doc : null, layer: l },
  ].map(({ side, doc: x, layer }) => ({ side, id: x?.model.id, arch: x?.model.arch, ...memoryRows(x, layer) }));
  let lossAt = displayedStep(main);
  while (lossAt >= 0 && !series[0].rows?.[lossAt]) lossAt -= 1;
  v.setCurve({ t: lossAt >= 0 ? lossAt : null, tokens: main.tokens, series: series.filter((x) => x.rows) });
}

// What the page shows of compare mode: the toggle, the picker, the second diagram and the compare panel.
function syncCompare() {
  const s = state.values;
  const on = Boolean(s.compare);
  const problem = compareProblem();
  if (on) {
    views.compareDiagram ??= attachDetail(make(CellDiagram, 'compare-diagram', { clampable: false }));
    views.compare ??= make(ComparePanel, 'compare');
  }
  body.classList.toggle('comparing', on && !problem);
  if ($('compare')) $('compare').hidden = !on;
  if ($('compare-diagram')) $('compare-diagram').hidden = !on || Boolean(problem);
  if ($('diagram')) $('diagram').dataset.model = on ? s.model : '';
  if ($('compare-diagram')) $('compare-diagram').dataset.model = s.compare;
  const toggle = $('compare-toggle');
  if (toggle) {
    const none = !defaultPartner(cards, s.model);
    toggle.setAttribute('aria-pressed', String(on));
    toggle.disabled = none && !on;
    toggle.title = none
      ? `No other model on this server reads text with the vocabulary of ${s.model}: nothing to compare it with.`
      : 'Read the same text with a second model, side by side';
  }
  const select = $('compare-select');
  if (select) {
    select.hidden = !on;
    const ok = new Set(partners(cards, s.model));
    select.replaceChildren(
      ...config.models
        .filter((c) => c.id !== s.model)
        .map((c) => {
          const o = document.createElement('option');
          o.value = c.id;
          o.textContent = ok.has(c.id) ? c.id : `${c.id} (different vocabulary)`;
          o.disabled = !ok.has(c.id);
          return o;
        }),
    );
    select.value = s.compare;
  }
  views.compare?.setModels(cards.get(s.model), cards.get(s.compare) ?? { id: s.compare, arch: '' }, {
    clamps: s.clamps.length,
  });
  views.compare?.setMessage(problem);
  if (!on || problem) {
    compareTrace = null;
    compareKey = '';
    compareDiagramKey = '';
    delete body.dataset.compareReady;
  }
}

// ------------------------------------------------------------------------------------------ continuation
// The model writing on after the text (POST /api/continue), for the main model and, in compare mode, the
// second one. Asked for when a trace is done, so typing sends one request per finished trace, not per key.
const continuations = new Map(); // JSON [model, text, length, sample] → {text, error}; the last few only
let continuationView = null; // {prompt, ids, length}: what the panel shows now; answers for anything else wait

// The continuation's length for a model: the state's choice, or the model's default (0 in the state).
function continuationLength(id) {
  const kind = cards.get(id)?.tokenizer === 'word' ? 'word' : 'char';
  return { kind, value: state.values.length || config.continuationLengths[kind] };
}

function showContinuations() {
  const v = views.continuation;
  if (!v || !continuationView) return;
  const { prompt, ids } = continuationView;
  const { kind, value } = continuationLength(ids[0][1]);
  v.setLength(CONTINUATION_CHOICES[kind], value, kind);
  v.setSampling(state.values.sample);
  v.setEntries(
    ids.map(([side, id]) => ({
      side,
      id,
      arch: cards.get(id)?.arch,
      prompt,
      text: null,
      ...continuations.get(JSON.stringify([id, prompt, continuationLength(id).value, state.values.sample])),
    })),
  );
  v.draw();
}

function requestContinuations() {
  const s = state.values;
  if (!views.continuation || !panelsOpen().has('continuation') || !s.text) return;
  const prompt = s.text;
  const ids = [['main', s.model], ...(compareOn() ? [['other', s.compare]] : [])];
  continuationView = { prompt, ids };
  for (const [, id] of ids) {
    const { kind, value } = continuationLength(id);
    const key = JSON.stringify([id, prompt, value, s.sample]);
    if (continuations.has(key) && !continuations.get(key).error) continue; // done or on its way
    continuations.set(key, { text: null });
    if (continuations.size > 40) continuations.delete(continuations.keys().next().value);
    // The default length goes unsaid, so an exported page (which stores the default) can answer it.
    const body = { model: id, text: prompt };
    if (value !== config.continuationLengths[kind]) body.length = value;
    if (s.sample) {
      const [temperature, topK, seed] = s.sample.split(':').map(Number);
      Object.assign(body, { temperature, top_k: topK, seed });
    }
    postContinue(config.apiBase, body)
      .then((r) => continuations.set(key, { text: r.continuation }))
      .catch((err) => continuations.set(key, { text: null, error: err.message })) // asked again next time
      .finally(showContinuations);
  }
  showContinuations();
}

function setupCompare() {
  $('compare-toggle')?.addEventListener('click', () => {
    const s = state.values;
    state.set({ compare: s.compare ? '' : defaultPartner(cards, s.model) });
  });
  $('compare-select')?.addEventListener('change', (ev) => state.set({ compare: ev.target.value }));
  state.subscribe((changed, values, source) => {
    // A new main model keeps the second one only if the two can still be compared; else its twin.
    const lost = values.compare && whyNot(cards, values.model, values.compare);
    if (changed.has('model') && !changed.has('compare') && lost) {
      state.set({ compare: defaultPartner(cards, values.model) }, { source });
      return;
    }
    if (['model', 'compare', 'clamps'].some((k) => changed.has(k))) syncCompare();
    if (changed.has('compare')) {
      requestCompare();
      loadPlotly();
    }
    const continuationChanged =
      changed.has('length') || changed.has('sample') || (changed.has('panels') && values.panels.includes('continuation'));
    if (changed.has('compare') || continuationChanged) {
      requestContinuations();
    }
  });
  syncCompare();
}

// ------------------------------------------------------------- commands for host pages (hook, postMessage)
// docs/embedding.md documents these; each checks its arguments and says plainly what was wrong.
let traceWaiters = []; // {resolve, reject} of commands that answer once their trace has painted
let readySent = false;
let embedApi = null;

function settleTraceWaiters(err = null) {
  const waiting = traceWaiters;
  traceWaiters = [];
  for (const w of waiting) {
    if (err) w.reject(new Error(err.message));
    else w.resolve(state.get());
  }
}

function traced() {
  settleTraceWaiters();
  pair.refresh();
  if (!readySent) {
    readySent = true;
    embedApi?.emit('ready');
  }
  embedApi?.emit('traced');
}

// The state once the trace a change asked for has painted (at once if the change needs no trace).
function afterTrace(changed) {
  if (!['model', 'text', 'target', 'clamps'].some((k) => changed.has(k))) return Promise.resolve(state.get());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the trace did not arrive within 30 s')), 30_000);
    const done = (fn) => (v) => {
      clearTimeout(timer);
      fn(v);
    };
    traceWaiters.push({ resolve: done(resolve), reject: done(reject) });
  });
}

function position() {
  const T = trace?.tokens.length ?? 0;
  const t = displayedStep();
  return { step: t, steps: T, token: T ? trace.tokens[t].text : null, playing };
}

const show = (v) => JSON.stringify(v) ?? String(v);

function integer(v, what) {
  if (!Number.isInteger(v)) throw new Error(`${what} needs an integer, got ${show(v)}`);
  return v;
}

function seekTo(t, asked) {
  if (!trace) throw new Error('there is no trace yet: wait for the "ready" event');
  const T = trace.tokens.length;
  if (t < 0 || t >= T) throw new Error(`${asked} is out of range: the text has ${T} tokens, steps 0 to ${T - 1}`);
  goTo(t, { animate: t === displayedStep() + 1 });
  return position();
}

const CLAMP_KEYS = ['gate', 'value', 'layer', 'units', 'start', 'stop'];

function checkClamp(c) {
  const fail = (why) => {
    throw new Error(`clamp(intervention): ${why} (expected {"gate", "value", "layer", "units", "start", "stop"})`);
  };
  if (!c || typeof c !== 'object' || Array.isArray(c)) fail(`got ${show(c)}`);
  const extra = Object.keys(c).filter((k) => !CLAMP_KEYS.includes(k));
  if (extra.length) fail(`unknown key ${show(extra[0])}`);
  const card = cards.get(state.values.model);
  const gates = Object.keys(card?.gates ?? {});
  if (card && !gates.length) fail(`the model ${state.values.model} has no gates to clamp`);
  if (gates.length && !gates.includes(c.gate)) fail(`the gate must be one of ${gates.join(', ')}, got ${show(c.gate)}`);
  if (typeof c.value !== 'number' || !Number.isFinite(c.value)) fail(`the value must be a number, got ${show(c.value)}`);
  const layer = c.layer ?? 0;
  const layers = card?.layers ?? 1;
  if (!Number.isInteger(layer) || layer < 0 || layer >= layers) fail(`the layer must be 0 to ${layers - 1}`);
  const units = c.units ?? null;
  const H = card?.hidden_size ?? Infinity;
  const unitOk = (u) => Number.isInteger(u) && u >= 0 && u < H;
  if (units !== null && !(Array.isArray(units) && units.length && units.every(unitOk))) {
    fail(`units must be null (all units) or a list of unit indices from 0 to ${H - 1}`);
  }
  for (const k of ['start', 'stop']) {
    if (c[k] != null && !(Number.isInteger(c[k]) && c[k] >= 0)) fail(`${k} must be null or a step index ≥ 0`);
  }
  if (c.start != null && c.stop != null && c.stop <= c.start) fail('stop must be after start');
  const sorted = units && [...new Set(units)].sort((a, b) => a - b);
  return { gate: c.gate, value: c.value, layer, units: sorted, start: c.start ?? null, stop: c.stop ?? null };
}

const commands = {
  step(delta = 1) {
    integer(delta, 'step(delta)');
    const from = displayedStep();
    return seekTo(from + delta, `step ${from} ${delta < 0 ? '−' : '+'} ${Math.abs(delta)}`);
  },
  // seek(-1) is the last step, as in the state and the URL.
  seek(t) {
    integer(t, 'seek(t)');
    return seekTo(t === -1 && trace ? trace.tokens.length - 1 : t, `step ${t}`);
  },
  setText(text) {
    if (typeof text !== 'string' || !text) throw new Error(`setText(text) needs a non-empty string, got ${show(text)}`);
    const n = [...text].length;
    if (n > config.limits.maxChars) throw new Error(`the text has ${n} characters; the limit is ${config.limits.maxChars}`);
    return afterTrace(state.set({ text }, { source: 'api' }));
  },
  setModel(id) {
    if (!cards.has(id)) throw new Error(`unknown model ${show(id)}; this server has ${[...cards.keys()].join(', ')}`);
    return afterTrace(switchModel(id));
  },
  async clamp(intervention) {
    const before = state.values.clamps;
    const mine = [...before, checkClamp(intervention)];
    if (mine.length > config.limits.maxInterventions) {
      throw new Error(`at most ${config.limits.maxInterventions} clamps at once; clearClamps() first`);
    }
    try {
      return await afterTrace(state.set({ clamps: mine }, { source: 'api' }));
    } catch (err) {
      // A clamp the server refused is taken back, so the page shows the last good picture.
      if (JSON.stringify(state.values.clamps) === JSON.stringify(mine)) state.set({ clamps: before });
      throw err;
    }
  },
  clearClamps() {
    return afterTrace(state.set({ clamps: [] }, { source: 'api' }));
  },
};

// ----------------------------------------------------------------- embedding, presenter, downloads
// Which controls an /embed page hides (hide= / show=, docs/embedding.md); the stylesheet reads
// body[data-hidden]. A group (`controls`) counts as hidden when all its members are.
function chromeHidden() {
  if (!config.embed) return [];
  const { hide, show: only } = state.values;
  const expand = (list) => new Set(list.flatMap((k) => CHROME_GROUPS[k] ?? [k]));
  const shown = only.length ? expand(only) : null;
  const hidden = expand(hide);
  const out = CHROME.filter((k) => !CHROME_GROUPS[k]).filter(
    (k) => hidden.has(k) || (shown ? !shown.has(k) : CHROME_OFF.includes(k)),
  );
  for (const [group, members] of Object.entries(CHROME_GROUPS)) {
    if (members.every((k) => out.includes(k))) out.push(group);
  }
  return out;
}

const helpOverlay = $('help') ? new HelpOverlay({ container: $('help') }) : null;
const embedDialog = $('embed-dialog')
  ? new EmbedDialog({
      container: $('embed-dialog'),
      url: (options) => embedUrl(new URL(sitePath('/embed'), window.location.href).href, state.query(), options),
    })
  : null;

embedDialog?.on('copy', async (text) => {
  try {
    await navigator.clipboard.writeText(text);
    embedDialog.setNote('copied');
  } catch {
    embedDialog.setNote('select the text and copy it (Ctrl+C)');
  }
});

function diagramFile() {
  const root = views.diagram?.svgRoot;
  if (!root || !trace) return null;
  const t = displayedStep();
  const name = `${trace.model.id}-step${t + 1}`.replace(/[^\w.-]+/g, '_');
  const title = `${trace.model.id} at step ${t + 1} of ${trace.tokens.length}, reading “${trace.tokens[t].text}”`;
  const background = getComputedStyle(views.diagram.container).backgroundColor;
  return { name, svg: diagramSvg(root, { background, title }) };
}

function bindPresentation() {
  $('present-toggle')?.addEventListener('click', () => state.set({ present: !state.values.present }));
  $('present-exit')?.addEventListener('click', () => state.set({ present: false }));
  $('help-button')?.addEventListener('click', () => helpOverlay?.toggle());
  $('embed-button')?.addEventListener('click', () =>
    embedDialog?.open(state.values.panels, { clamped: state.values.clamps.length > 0 }),
  );
  $('download-svg')?.addEventListener('click', () => {
    const file = diagramFile();
    if (file) download(new Blob([file.svg], { type: 'image/svg+xml' }), `${file.name}.svg`);
  });
  $('download-png')?.addEventListener('click', async () => {
    const file = diagramFile();
    if (!file) return;
    try {
      download(await svgToPng(file.svg, { scale: 2 }), `${file.name}.png`);
    } catch (err) {
      $('download-png').title = `The PNG could not be made (${err.message}); the SVG still can.`;
    }
  });
  // An exported page has no server to embed.
  if (config.offline && $('embed-button')) $('embed-button').hidden = true;
  document.addEventListener('keydown', (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey || isTyping(ev.target) || views.clamps?.isOpen) return;
    if (embedDialog?.isOpen) return; // the dialog closes itself on Esc
    if (ev.key === '?') {
      helpOverlay?.toggle();
    } else if (ev.key === 'Escape' && helpOverlay?.isOpen) {
      helpOverlay.close();
    } else if (ev.key === 'Escape' && state.values.present && !config.embed) {
      state.set({ present: false });
    } else {
      return;
    }
    ev.preventDefault();
  });
}

// ---------------------------------------------------------------------- the hook for tests and embeds
window.lstmExplainer = {
  version: config.version,
  getState: () => state.get(),
  setState: (partial) => state.set(partial, { source: 'api' }),
  subscribe: (fn) => state.subscribe((changed, values) => fn([...changed], structuredClone(values))),
  getTrace: () => (trace ? structuredClone({ ...trace, request: undefined }) : null),
  getCompareTrace: () =>
    compareOn() && compareTrace?.model.id === state.values.compare
      ? structuredClone({ ...compareTrace, request: undefined })
      : null,
  play,
  pause,
  isPlaying: () => playing,
  ...commands,
};
embedApi = installEmbedApi({ hook: window.lstmExplainer, allowed: config.frameAncestors ?? ['*'], position });
if (config.embed) guardKeyboardUntilActivated();
window.lstmExplainer.loadScene = (name, index = 0) => loadScene(name, index);

// ----------------------------------------------------------------------------------------- start
fillModelPicker();
applyLook();
syncPanels();
syncModelCard();
syncInputs();
bindInputs();
bindPresentation();
setupOffline();
setupCompare();
setupModelCard($('model-card'));
setupWriteMoment(
  {
    trace: () => trace,
    step: () => displayedStep(),
    layer: () => layerOf(),
    select: (units) => state.set({ units }),
    subscribe: (fn) => state.subscribe(fn),
  },
  { button: $('writers-button'), note: $('writers-note') },
);
const pair = setupPair(
  {
    apiBase: config.apiBase,
    trace: () => (trace?.done ? trace : null),
    step: () => displayedStep(),
    layer: () => layerOf(),
    values: () => state.values,
    set: (partial) => state.set(partial),
    subscribe: (fn) => state.subscribe(fn),
    plotly: () => loadPlotly({ force: true }),
  },
  { container: $('pair'), button: $('pair-button') },
);
const compareTabs = setupCompareTabs(document.querySelector('main > .stage'));
setupCompareTabs(document.querySelector('.embed-figures'), { inside: true });
setupStage(document.querySelector('main > .stage'), [
  compareTabs,
  document.querySelector('.topbar'),
  $('model-card'),
  $('failed-models'),
  $('scene-bar'),
  document.querySelector('.inputs'),
  document.querySelector('.reading'),
]);
if (state.values.scene) showScenePage().finally(() => lastSent === -Infinity && requestTrace());
else requestTrace();
