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

// On a short screen the model card is cut to one line (the stylesheet); a click or Enter shows it whole.
export function setupModelCard(el) {
  if (!el) return;
  el.tabIndex = 0;
  el.title = 'the model card: click for all of it';
  const toggle = () => el.classList.toggle('open');
  el.addEventListener('click', toggle);
  el.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter' && ev.key !== ' ') return;
    ev.preventDefault();
    toggle();
  });
}
