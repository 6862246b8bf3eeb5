// The face every figure shares: built with {container}, changed by setters, painted by draw(),
// and telling its feature about user input through events (it never changes the state itself).

export class Figure {
  constructor({ container }) {
    if (!container) throw new Error(`${this.constructor.name} needs a container element`);
    this.container = container;
    this.handlers = new Map();
  }

  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(fn);
    return this;
  }

  emit(type, detail) {
    for (const fn of this.handlers.get(type) ?? []) fn(detail);
  }
}

const SVG_NS = 'http://www.w3.org/2000/svg';

// Create an SVG element with attributes (and append it to `parent` if given).
export function svg(tag, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, v);
  if (parent) parent.append(node);
  return node;
}

// Create an HTML element with attributes, text and children.
export function html(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

// An SVG <text> with a subscript, e.g. label(g, 'c', 't−1').
export function label(parent, base, sub, attrs = {}) {
  const t = svg('text', attrs, parent);
  t.append(document.createTextNode(base));
  if (sub) {
    const s = svg('tspan', { class: 'sub', dy: '0.3em' }, t);
    s.textContent = sub;
  }
  return t;
}

const reducedMotion = window.matchMedia('(prefers-reduced-motion: reduce)');
export const prefersReducedMotion = () => reducedMotion.matches;
