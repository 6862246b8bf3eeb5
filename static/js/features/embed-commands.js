// Commands for host pages: the `window.lstmExplainer` hook (tests, a script on the page) and the same
// commands by postMessage (embed-api.js). docs/embedding.md documents them; each checks its arguments and
// says plainly what was wrong. A command that changes the trace answers once its trace has painted.

import { clampFields } from '../archs.js';
import { guardKeyboardUntilActivated, installEmbedApi } from '../embed-api.js';

const show = (v) => JSON.stringify(v) ?? String(v);

function integer(v, what) {
  if (!Number.isInteger(v)) throw new Error(`${what} needs an integer, got ${show(v)}`);
  return v;
}

// A clamp as a host page gives it, checked against the model's card (its gates, layers and units) and the
// keys of a clamp (archs.js clampFields, the server's schema); returned in the state's form.
export function checkClamp(c, card, modelId) {
  const keys = clampFields();
  const fail = (why) => {
    throw new Error(`clamp(intervention): ${why} (expected {${keys.map((k) => `"${k}"`).join(', ')}})`);
  };
  if (!c || typeof c !== 'object' || Array.isArray(c)) fail(`got ${show(c)}`);
  const extra = Object.keys(c).filter((k) => !keys.includes(k));
  if (extra.length) fail(`unknown key ${show(extra[0])}`);
  const gates = Object.keys(card?.gates ?? {});
  if (card && !gates.length) fail(`the model ${modelId} has no gates to clamp`);
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

export function setupEmbedCommands(page, { player, scenes, compare, inputs }) {
  const { config, cards, state } = page;
  const limits = config.limits;
  let waiters = []; // {resolve, reject} of commands that answer once their trace has painted
  let readySent = false;

  function settle(err = null) {
    const waiting = waiters;
    waiters = [];
    for (const w of waiting) {
      if (err) w.reject(new Error(err.message));
      else w.resolve(state.get());
    }
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
      waiters.push({ resolve: done(resolve), reject: done(reject) });
    });
  }

  function position() {
    const doc = page.trace;
    const T = doc?.tokens.length ?? 0;
    const t = page.displayedStep();
    return { step: t, steps: T, token: T ? doc.tokens[t].text : null, playing: page.playing };
  }

  function seekTo(t, asked) {
    const doc = page.trace;
    if (!doc) throw new Error('there is no trace yet: wait for the "ready" event');
    const T = doc.tokens.length;
    if (t < 0 || t >= T) throw new Error(`${asked} is out of range: the text has ${T} tokens, steps 0 to ${T - 1}`);
    player.goTo(t, { animate: t === page.displayedStep() + 1 });
    return position();
  }

  const commands = {
    step(delta = 1) {
      integer(delta, 'step(delta)');
      const from = page.displayedStep();
      return seekTo(from + delta, `step ${from} ${delta < 0 ? '−' : '+'} ${Math.abs(delta)}`);
    },
    // seek(-1) is the last step, as in the state and the URL.
    seek(t) {
      integer(t, 'seek(t)');
      return seekTo(t === -1 && page.trace ? page.trace.tokens.length - 1 : t, `step ${t}`);
    },
    setText(text) {
      if (typeof text !== 'string' || !text) throw new Error(`setText(text) needs a non-empty string, got ${show(text)}`);
      const n = [...text].length;
      if (n > limits.maxChars) throw new Error(`the text has ${n} characters; the limit is ${limits.maxChars}`);
      return afterTrace(state.set({ text }, { source: 'api' }));
    },
    setModel(id) {
      if (!cards.has(id)) throw new Error(`unknown model ${show(id)}; this server has ${[...cards.keys()].join(', ')}`);
      return afterTrace(inputs.switchModel(id));
    },
    async clamp(intervention) {
      const before = state.values.clamps;
      const mine = [...before, checkClamp(intervention, cards.get(state.values.model), state.values.model)];
      if (mine.length > limits.maxInterventions) {
        throw new Error(`at most ${limits.maxInterventions} clamps at once; clearClamps() first`);
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

  const clean = (doc) => (doc ? structuredClone({ ...doc, request: undefined }) : null);
  window.lstmExplainer = {
    version: config.version,
    getState: () => state.get(),
    setState: (partial) => state.set(partial, { source: 'api' }),
    subscribe: (fn) => state.subscribe((changed, values) => fn([...changed], structuredClone(values))),
    getTrace: () => clean(page.trace),
    getCompareTrace: () => clean(compare.trace()),
    play: player.play,
    pause: player.pause,
    isPlaying: () => page.playing,
    ...commands,
  };
  const api = installEmbedApi({ hook: window.lstmExplainer, allowed: config.frameAncestors ?? ['*'], position });
  if (config.embed) guardKeyboardUntilActivated();
  window.lstmExplainer.loadScene = (name, index = 0) => scenes.load(name, index);

  page.on('traced', () => {
    settle();
    if (!readySent) {
      readySent = true;
      api.emit('ready');
    }
    api.emit('traced');
  });
  page.on('trace-error', (err) => settle(err));
}
