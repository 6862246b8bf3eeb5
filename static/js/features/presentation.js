// How the page looks and what it offers a lecturer: the theme, large type and presenter mode, the controls
// an /embed page hides (hide= / show=, docs/embedding.md; the stylesheet reads body[data-hidden]), the
// help overlay, the embed dialog and the diagram's SVG/PNG downloads.

import { CHROME, CHROME_GROUPS, CHROME_OFF, sitePath } from '../config.js';
import { diagramSvg, download, svgToPng } from '../diagram-export.js';
import { EmbedDialog, embedUrl } from '../views/embed-dialog.js';
import { HelpOverlay } from '../views/help-overlay.js';

// Which controls an /embed page hides. A group (`controls`) counts as hidden when all its members are.
export function chromeHidden(values, { embed }) {
  if (!embed) return [];
  const { hide, show } = values;
  const expand = (list) => new Set(list.flatMap((k) => CHROME_GROUPS[k] ?? [k]));
  const shown = show.length ? expand(show) : null;
  const hidden = expand(hide);
  const out = CHROME.filter((k) => !CHROME_GROUPS[k]).filter(
    (k) => hidden.has(k) || (shown ? !shown.has(k) : CHROME_OFF.includes(k)),
  );
  for (const [group, members] of Object.entries(CHROME_GROUPS)) {
    if (members.every((k) => out.includes(k))) out.push(group);
  }
  return out;
}

export function setupPresentation(page, { diagram }) {
  const { config, state, body, $ } = page;
  const help = $('help') ? new HelpOverlay({ container: $('help') }) : null;
  const dialog = $('embed-dialog')
    ? new EmbedDialog({
        container: $('embed-dialog'),
        url: (options) => embedUrl(new URL(sitePath('/embed'), window.location.href).href, state.query(), options),
      })
    : null;

  function applyLook() {
    const s = state.values;
    body.dataset.theme = s.theme;
    body.classList.toggle('large', s.large || s.present);
    body.classList.toggle('present', s.present);
    body.dataset.hidden = chromeHidden(s, { embed: config.embed }).join(' ');
    $('theme-toggle')?.setAttribute('aria-pressed', String(s.theme === 'dark'));
    $('large-toggle')?.setAttribute('aria-pressed', String(s.large));
    $('present-toggle')?.setAttribute('aria-pressed', String(s.present));
  }

  // The diagram as a file: named after the model and the step, titled with the token it reads.
  function diagramFile() {
    const root = diagram?.svgRoot;
    const doc = page.trace;
    if (!root || !doc) return null;
    const t = page.displayedStep();
    const name = `${doc.model.id}-step${t + 1}`.replace(/[^\w.-]+/g, '_');
    const title = `${doc.model.id} at step ${t + 1} of ${doc.tokens.length}, reading “${doc.tokens[t].text}”`;
    const background = getComputedStyle(diagram.container).backgroundColor;
    return { name, svg: diagramSvg(root, { background, title }) };
  }

  dialog?.on('copy', async (text) => {
    try {
      await navigator.clipboard.writeText(text);
      dialog.setNote('copied');
    } catch {
      dialog.setNote('select the text and copy it (Ctrl+C)');
    }
  });
  $('theme-toggle')?.addEventListener('click', () => state.set({ theme: state.values.theme === 'dark' ? 'light' : 'dark' }));
  $('large-toggle')?.addEventListener('click', () => state.set({ large: !state.values.large }));
  $('present-toggle')?.addEventListener('click', () => state.set({ present: !state.values.present }));
  $('present-exit')?.addEventListener('click', () => state.set({ present: false }));
  $('help-button')?.addEventListener('click', () => help?.toggle());
  $('embed-button')?.addEventListener('click', () =>
    dialog?.open(state.values.panels, { clamped: state.values.clamps.length > 0 }),
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
    if (!page.keyForPage(ev) || dialog?.isOpen) return; // the dialog closes itself on Esc
    if (ev.key === '?') {
      help?.toggle();
    } else if (ev.key === 'Escape' && help?.isOpen) {
      help.close();
    } else if (ev.key === 'Escape' && state.values.present && !config.embed) {
      state.set({ present: false });
    } else {
      return;
    }
    ev.preventDefault();
  });
  applyLook();
  state.subscribe((changed) => {
    if (['theme', 'large', 'present', 'hide', 'show'].some((k) => changed.has(k))) applyLook();
  });
}
