// The stage: the explorer's first screen ends at the bottom of the window, whatever the rows above it
// (toolbar, model card, sentence, tokens, a scene's caption, an error) take. This module owns that one
// measurement and writes it as --stage-h on the stage; the stylesheet lays the diagram and the panels
// out inside it (/embed needs none of this: its page is a flex column of the iframe's height).

const MIN_STAGE = 180; // px: below this the diagram is too small to read; the page scrolls instead

export function setupStage(stage, above) {
  if (!stage) return () => {};
  let frame = 0;
  const fit = () => {
    frame = 0;
    const top = stage.getBoundingClientRect().top + window.scrollY;
    const room = window.innerHeight - top - 8;
    stage.style.setProperty('--stage-h', `${Math.max(MIN_STAGE, Math.floor(room))}px`);
  };
  const later = () => {
    if (!frame) frame = requestAnimationFrame(fit);
  };
  const rows = new ResizeObserver(later);
  for (const el of above) if (el) rows.observe(el);
  window.addEventListener('resize', later);
  fit();
  return fit;
}

// On a short screen the model card (and the notice of a model that failed to load) is cut to one line
// (the stylesheet); a click or Enter shows it whole.
export function setupOneLine(el, title) {
  if (!el) return;
  el.tabIndex = 0;
  el.title = title;
  const toggle = () => el.classList.toggle('open');
  el.addEventListener('click', toggle);
  el.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter' && ev.key !== ' ') return;
    ev.preventDefault();
    toggle();
  });
}

// Compare mode on the stage: two diagrams side by side are each half as large, unreadable on a
// 1280-wide projector. Below BOTH_FROM px the stage shows one model at a time, switched by a tab per
// model (in its compare colour) or "both"; wider, both by default. Which one is shown is this feature's
// own state: it is a matter of screen size, not of the view a link shares. `inside`: the tabs head the
// figures' own column (/embed) instead of a row above the stage.
const BOTH_FROM = 1440;
// "both" is offered only where the two diagrams read: stacked in an embed whose figures' column is at
// least BOTH_TALL px high (each diagram ~270 px tall; at 960×540 they came out ~200 px, their text at the
// floor and their labels crowded), side by side on a stage at least BOTH_WIDE px wide (~570 px each).
const BOTH_TALL = 560;
const BOTH_WIDE = 1150;

export function setupCompareTabs(stage, { inside = false } = {}) {
  const main = stage?.querySelector('#diagram');
  const other = stage?.querySelector('#compare-diagram');
  if (!main || !other) return;
  const bar = document.createElement('div');
  bar.className = 'compare-tabs';
  bar.setAttribute('role', 'group');
  bar.setAttribute('aria-label', 'which diagram the stage shows');
  bar.hidden = true;
  const tab = (side) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = `toggle compare-tab ${side}`;
    b.dataset.side = side;
    b.addEventListener('click', () => {
      chosen = side;
      sync();
    });
    bar.append(b);
    return b;
  };
  const tabs = { main: tab('main'), other: tab('other'), both: tab('both') };
  tabs.both.textContent = 'both';
  if (inside) stage.prepend(bar);
  else stage.before(bar);
  let chosen = null; // set by a click; until then the window's width decides
  const roomForBoth = () => (inside ? stage.clientHeight >= BOTH_TALL : stage.clientWidth >= BOTH_WIDE);
  const show = (side) => {
    if (stage.dataset.show === side) return;
    stage.dataset.show = side;
    for (const [k, b] of Object.entries(tabs)) b.setAttribute('aria-pressed', String(k === side));
  };
  const sync = () => {
    const on = !other.hidden && Boolean(other.dataset.model);
    bar.hidden = !on;
    if (!on) {
      delete stage.dataset.show;
      return;
    }
    tabs.main.textContent = main.dataset.model || 'main model';
    tabs.other.textContent = other.dataset.model;
    const room = roomForBoth();
    tabs.both.hidden = !room;
    const side = chosen ?? (window.innerWidth >= BOTH_FROM ? 'both' : 'main');
    show(side === 'both' && !room ? 'main' : side);
  };
  new MutationObserver(sync).observe(other, { attributes: true, attributeFilter: ['hidden', 'data-model'] });
  new MutationObserver(sync).observe(main, { attributes: true, attributeFilter: ['data-model'] });
  // The stage's own size (the window's, a scene's caption above it, an iframe resized by its host).
  new ResizeObserver(sync).observe(stage);
  sync();
  return bar;
}
