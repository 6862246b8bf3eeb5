// The caption bar of a playing scene: its title, the current page's caption, "2 / 5", previous and next.
// Events: 'prev', 'next', 'close'.

import { sitePath } from '../config.js';
import { Figure, html } from './figure.js';

export class SceneBar extends Figure {
  constructor({ container }) {
    super({ container });
    this.info = null;
    this.error = null;
    this.title = html('a', { class: 'scene-title', href: sitePath('/scenes'), title: 'all scenes' });
    this.caption = html('p', { class: 'scene-caption', 'aria-live': 'polite' });
    this.position = html('output', { class: 'scene-position' });
    this.problems = html('p', { class: 'field-error scene-problems', role: 'alert', hidden: true });
    const button = (action, text, label, key) =>
      html('button', { type: 'button', class: `scene-${action}`, text, 'aria-label': label, title: `${label} (${key})` });
    this.prev = button('prev', '‹ previous', 'Previous page of the scene', 'PageUp or p');
    this.next = button('next', 'next ›', 'Next page of the scene', 'PageDown or n');
    this.close = button('close', '×', 'Leave the scene', 'Esc');
    this.container.replaceChildren(
      html(
        'div',
        { class: 'scene-head' },
        this.title,
        html('span', { class: 'scene-nav' }, this.prev, this.position, this.next, this.close),
      ),
      this.caption,
      this.problems,
    );
    this.prev.addEventListener('click', () => this.emit('prev'));
    this.next.addEventListener('click', () => this.emit('next'));
    this.close.addEventListener('click', () => this.emit('close'));
  }

  // info: captionOf(...) from scenes.js, or null to hide the bar.
  setScene(info) {
    this.info = info;
    this.error = null;
  }

  setError(message) {
    this.error = message;
  }

  draw() {
    const { info, error } = this;
    this.container.hidden = !info && !error;
    this.container.classList.toggle('scene-error', Boolean(error));
    if (error) {
      this.title.textContent = 'Scene';
      this.caption.textContent = error;
      this.position.textContent = '';
      this.prev.disabled = this.next.disabled = true;
      this.problems.hidden = true;
      return;
    }
    if (!info) return;
    this.container.dataset.scene = info.name;
    this.container.dataset.page = String(info.index);
    this.title.textContent = info.title;
    this.caption.textContent = info.caption;
    this.position.textContent = info.position;
    this.prev.disabled = !info.hasPrev;
    this.next.disabled = !info.hasNext;
    this.problems.textContent = info.problems.join('; ');
    this.problems.hidden = info.problems.length === 0;
  }
}
