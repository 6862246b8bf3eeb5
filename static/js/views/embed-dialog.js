// "Embed this view": a dialog that writes the <iframe> HTML for the current view, with choices for what
// the embedded page shows (token strip, stepping controls, panels, presenter type) and its size.
// Events: 'copy' (the snippet text).

import { DEFAULT_PANELS, PANELS } from '../config.js';
import { Figure, html } from './figure.js';

const CONTROL_CHOICES = {
  all: { label: 'all stepping controls', show: null },
  steps: { label: 'previous / next and the position', show: ['prev', 'next', 'position'] },
  next: { label: 'only a “next step” button', show: ['next'] },
  none: { label: 'none (the host steps it)', show: [] },
};

// The /embed address for `base` (the /embed URL without a query), the explorer's `query` and the choices.
export function embedUrl(base, query, { tokens, controls, panels, present }) {
  const params = new URLSearchParams(query);
  for (const k of ['hide', 'show', 'present', 'panels']) params.delete(k);
  const show = CONTROL_CHOICES[controls].show;
  if (show === null) {
    if (!tokens) params.set('hide', 'tokens');
  } else if (show.length === 0) {
    params.set('hide', tokens ? 'controls' : 'controls,tokens');
  } else {
    const scene = params.get('scene') ? ['scene'] : []; // a scene keeps its caption
    params.set('show', [...scene, ...(tokens ? ['tokens'] : []), ...show, 'title', 'legend'].join(','));
  }
  if (panels.length) params.set('panels', panels.join(','));
  if (present) params.set('present', '1');
  return `${base}?${params.toString()}`;
}

export function embedSnippet(src, { width, height }) {
  const attr = src.replaceAll('&', '&amp;').replaceAll('"', '&quot;');
  return (
    `<iframe src="${attr}" width="${width}" height="${height}" title="LSTM Explainer" ` +
    `style="border:0;max-width:100%" loading="lazy"></iframe>`
  );
}

export class EmbedDialog extends Figure {
  // url(options) → the /embed address for these choices; called again whenever a choice changes.
  constructor({ container, url }) {
    super({ container });
    this.url = url;
    this.panels = [];
    const check = (name, text, checked = true) =>
      html('label', { class: 'check' }, html('input', { type: 'checkbox', name, checked }), ` ${text}`);
    this.controlsSelect = html(
      'select',
      { name: 'controls' },
      ...Object.entries(CONTROL_CHOICES).map(([v, c]) => html('option', { value: v, text: c.label })),
    );
    this.panelBox = html('fieldset', { class: 'embed-panels' }, html('legend', { text: 'panels beside the diagram' }));
    this.width = html('input', { type: 'number', name: 'width', min: 200, max: 4000, value: 960 });
    this.height = html('input', { type: 'number', name: 'height', min: 150, max: 3000, value: 540 });
    this.output = html('textarea', {
      class: 'embed-snippet',
      readonly: true,
      rows: 5,
      spellcheck: 'false',
      'aria-label': 'iframe HTML',
    });
    this.note = html('span', { class: 'muted embed-note', role: 'status' });
    this.preview = html('a', { class: 'embed-preview', target: '_blank', rel: 'noopener', text: 'preview ↗' });
    this.copyButton = html('button', { type: 'button', class: 'primary embed-copy', text: 'copy HTML' });
    this.form = html(
      'form',
      { class: 'embed-form', method: 'dialog' },
      html('h2', { text: 'Embed this view' }),
      html(
        'p',
        { class: 'muted' },
        'Paste this into a slide (reveal.js, an HTML deck), a course page or a notebook. ',
        'A host page can drive it with postMessage: see docs/embedding.md.',
      ),
      check('tokens', 'token strip'),
      html('label', { class: 'field-inline' }, 'stepping controls ', this.controlsSelect),
      this.panelBox,
      check('present', 'presenter type (large, for a projector)', false),
      html('div', { class: 'embed-size' }, html('label', {}, 'width ', this.width), html('label', {}, 'height ', this.height)),
      this.output,
      html(
        'div',
        { class: 'embed-actions' },
        this.copyButton,
        this.preview,
        this.note,
        html('button', { type: 'submit', class: 'toggle', value: 'close', text: 'close' }),
      ),
    );
    this.dialog = html('dialog', { class: 'embed-dialog', 'aria-label': 'Embed this view' }, this.form);
    this.container.append(this.dialog);
    this.form.addEventListener('input', () => this.draw());
    this.form.addEventListener('change', () => this.draw());
    this.copyButton.addEventListener('click', () => this.emit('copy', this.output.value));
  }

  get isOpen() {
    return this.dialog.open;
  }

  options() {
    const f = this.form.elements;
    const clampSize = (el, lo, hi, d) => {
      const n = Math.round(Number(el.value));
      return Number.isFinite(n) && n >= lo && n <= hi ? n : d;
    };
    return {
      tokens: f.tokens.checked,
      controls: this.controlsSelect.value,
      panels: [...this.panelBox.querySelectorAll('input:checked')].map((i) => i.value),
      present: f.present.checked,
      width: clampSize(this.width, 200, 4000, 960),
      height: clampSize(this.height, 150, 3000, 540),
    };
  }

  // All panels are offered. Ticked: the ones open in the explorer, unless that is all of them (the
  // explorer's default), which would crowd a slide; then only the predictions, and the clamps if there are any.
  open(openPanels, { clamped = false } = {}) {
    const ticked =
      DEFAULT_PANELS.every((p) => openPanels.includes(p))
        ? openPanels.filter((p) => p === 'predictions' || (p === 'clamps' && clamped))
        : openPanels;
    this.panelBox.replaceChildren(
      this.panelBox.firstChild,
      ...PANELS.map((p) =>
        html(
          'label',
          { class: 'check' },
          html('input', { type: 'checkbox', value: p, checked: ticked.includes(p) }),
          ` ${p}`,
        ),
      ),
    );
    this.setNote('');
    this.draw();
    this.dialog.showModal();
    this.output.select();
  }

  close() {
    this.dialog.close();
  }

  setNote(text) {
    this.note.textContent = text;
  }

  draw() {
    const options = this.options();
    const src = this.url(options);
    this.output.value = embedSnippet(src, options);
    this.preview.href = src;
  }
}
