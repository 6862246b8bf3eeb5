// The keyboard help: every shortcut of the page in one overlay, toggled with `?`, closed with Esc or a click
// outside. Events: none (features/presentation.js opens and closes it).

import { Figure, html } from './figure.js';

export const SHORTCUTS = [
  [['←', '→'], 'previous / next step (token)'],
  [['Home', 'End'], 'first / last step'],
  [['space'], 'play / pause'],
  [['PageUp', 'PageDown'], 'previous / next state of a scene'],
  [['p', 'n'], 'previous / next state of a scene'],
  [['?'], 'show / hide this help'],
  [['Esc'], 'close this help, a dialog, a zoomed wire, or presenter mode'],
];

export class HelpOverlay extends Figure {
  constructor({ container, shortcuts = SHORTCUTS }) {
    super({ container });
    const rows = shortcuts.map(([keys, what]) =>
      html(
        'tr',
        {},
        html('th', { scope: 'row' }, ...keys.flatMap((k, i) => [i ? ' ' : '', html('kbd', { text: k })])),
        html('td', { text: what }),
      ),
    );
    this.dialog = html(
      'dialog',
      { class: 'help-overlay', 'aria-labelledby': 'help-title' },
      html(
        'div',
        { class: 'help-body' },
        html('h2', { id: 'help-title', text: 'Keyboard shortcuts' }),
        html('table', {}, html('tbody', {}, ...rows)),
        html('p', { class: 'muted', text: 'Hover a unit for its equation, click it to select it; click a gate box to clamp it.' }),
      ),
    );
    this.container.append(this.dialog);
    // A click on the backdrop (the dialog element itself, outside its content box) closes it.
    this.dialog.addEventListener('click', (ev) => {
      if (ev.target === this.dialog) this.close();
    });
  }

  get isOpen() {
    return this.dialog.open;
  }

  toggle() {
    if (this.isOpen) this.close();
    else this.dialog.showModal();
  }

  close() {
    if (this.isOpen) this.dialog.close();
  }
}
