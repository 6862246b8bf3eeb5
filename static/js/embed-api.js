// The postMessage command API for slide decks and host pages (docs/embedding.md): requests
// {namespace, id, method, args} are dispatched to the page's hook (window.lstmExplainer) and answered with
// {namespace, id, result} or {namespace, id, error}; events {namespace, event, state, position} go to the
// parent. reveal.js's plain-string 'slide:start' / 'slide:stop' resume and pause play. Only origins the
// settings allow (config.frameAncestors, CSP syntax) are obeyed. No DOM here beyond window messaging.

import { FIELDS } from './state.js';

export const NAMESPACE = 'lstm-explainer';

// The methods a host may call, with the largest number of arguments each takes.
const METHODS = {
  getState: 0,
  setState: 1,
  play: 0,
  pause: 0,
  step: 1,
  seek: 1,
  setText: 1,
  setModel: 1,
  clamp: 1,
  clearClamps: 0,
  loadScene: 2,
};

// Does `origin` match one CSP source of frame-ancestors: '*', 'self', 'none', a scheme ("https:") or a host
// source ([scheme://]host[:port], host may start with "*.", port may be "*")?
function matchSource(origin, source, own) {
  if (source === '*') return true;
  if (source === "'none'") return false;
  if (source === "'self'") return origin === own;
  if (origin === 'null') return false;
  let url;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (/^[a-z][a-z0-9+.-]*:$/i.test(source)) return url.protocol === source.toLowerCase();
  const m = /^(?:([a-z][a-z0-9+.-]*):\/\/)?(\*\.)?([^:/]+)(?::(\d+|\*))?\/?$/i.exec(source);
  if (!m) return false;
  const [, scheme, wildcard, host, port] = m;
  if (scheme && `${scheme.toLowerCase()}:` !== url.protocol) return false;
  // No scheme: as in CSP, the page's own scheme (an https page also accepts its http-less twin).
  if (!scheme && url.protocol !== new URL(own).protocol) return false;
  const h = host.toLowerCase();
  if (wildcard ? !url.hostname.endsWith(`.${h}`) : url.hostname !== h) return false;
  if (port === '*') return true;
  const defaultPort = url.protocol === 'https:' ? '443' : '80';
  return (url.port || defaultPort) === (port ?? defaultPort);
}

export function originAllowed(origin, allowed, own = window.location.origin) {
  return allowed.some((source) => matchSource(origin, source, own));
}

// Messages may arrive as objects or as JSON strings (reveal.js's own postMessage plugin sends strings).
function parse(data) {
  if (typeof data === 'string') {
    if (data === 'slide:start' || data === 'slide:stop') return { slide: data.slice(6) };
    if (!data.startsWith('{')) return null;
    try {
      return parse(JSON.parse(data));
    } catch {
      return null;
    }
  }
  return data && typeof data === 'object' && data.namespace === NAMESPACE ? data : null;
}

const describe = (v) => (v === undefined ? 'nothing' : JSON.stringify(v));

// JSON with sorted keys: equal values give equal strings whatever order a host wrote the keys in.
const canonical = (v) =>
  JSON.stringify(v, (_, x) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x,
  );

// A value a host sends for a state field is good if it survives the field's trip through the URL.
function checkPartial(partial) {
  for (const [k, v] of Object.entries(partial)) {
    const field = FIELDS[k];
    if (!field) throw new Error(`unknown state field ${describe(k)}; the fields are ${Object.keys(FIELDS).join(', ')}`);
    if (canonical(v) === canonical(field.default)) continue;
    let back;
    try {
      back = field.codec.parse(field.codec.write(v));
    } catch {
      back = undefined;
    }
    if (back === undefined || canonical(back) !== canonical(v)) {
      throw new Error(`${describe(v)} is not a valid value for the state field ${k}`);
    }
  }
}

export function installEmbedApi({ hook, allowed, position }) {
  const own = window.location.origin;
  const anyOrigin = allowed.includes('*');
  let resumeOnStart = false;

  // Events go to the parent when it is allowed: to any origin when all are, else only to the parent's own
  // (known to Chromium and Safari through ancestorOrigins; elsewhere a restricted embed sends no events).
  function parentTarget() {
    if (window.parent === window) return null;
    if (anyOrigin) return '*';
    const parent = window.location.ancestorOrigins?.[0];
    return parent && originAllowed(parent, allowed, own) ? parent : null;
  }

  function emit(event) {
    const target = parentTarget();
    if (!target) return;
    window.parent.postMessage({ namespace: NAMESPACE, event, state: hook.getState(), position: position() }, target);
  }

  async function call(method, args) {
    if (!Object.hasOwn(METHODS, method)) {
      throw new Error(`unknown method ${describe(method)}; the methods are ${Object.keys(METHODS).join(', ')}`);
    }
    if (!Array.isArray(args)) throw new Error(`args must be an array, got ${describe(args)}`);
    if (args.length > METHODS[method]) {
      throw new Error(`${method} takes at most ${METHODS[method]} argument(s), got ${args.length}`);
    }
    if (method === 'loadScene' && typeof hook.loadScene !== 'function') {
      throw new Error('loadScene is not available: this version of the explorer has no scenes');
    }
    if (method === 'getState') return hook.getState();
    if (method === 'setState') {
      if (!args[0] || typeof args[0] !== 'object' || Array.isArray(args[0])) {
        throw new Error(`setState(partial) needs an object of state fields, got ${describe(args[0])}`);
      }
      checkPartial(args[0]);
      hook.setState(args[0]);
      return hook.getState();
    }
    const result = await hook[method](...args);
    return result === undefined ? position() : result;
  }

  hook.subscribe((changed) => {
    if (changed.includes('step')) emit('stepped');
  });

  window.addEventListener('message', async (ev) => {
    const msg = parse(ev.data);
    if (!msg) return;
    if (!originAllowed(ev.origin, allowed, own)) {
      console.warn(`lstm-explainer: ignored a message from ${ev.origin}, which the server's settings do not allow`);
      return;
    }
    if (msg.slide === 'stop') {
      resumeOnStart = hook.isPlaying();
      hook.pause();
      return;
    }
    if (msg.slide === 'start') {
      if (resumeOnStart) hook.play();
      resumeOnStart = false;
      return;
    }
    if (!('method' in msg)) return; // our own events, echoed back by a host that listens to everything
    const reply = { namespace: NAMESPACE, id: msg.id ?? null };
    try {
      reply.result = await call(msg.method, msg.args ?? []);
    } catch (err) {
      reply.error = err instanceof Error ? err.message : String(err);
    }
    // A sandboxed or file:// host has the origin "null", which postMessage can only reach with '*'.
    ev.source?.postMessage(reply, ev.origin === 'null' ? '*' : ev.origin);
  });

  return { emit };
}

// An embedded page must not take the keyboard from the slide deck around it: its shortcuts work only
// once the viewer has clicked (or tabbed) into it.
export function guardKeyboardUntilActivated() {
  let active = false;
  const activate = () => {
    active = true;
  };
  document.addEventListener('pointerdown', activate, { capture: true });
  document.addEventListener('focusin', (ev) => ev.target !== document.body && activate(), { capture: true });
  document.addEventListener(
    'keydown',
    (ev) => {
      if (!active) ev.stopImmediatePropagation();
    },
    { capture: true },
  );
}
