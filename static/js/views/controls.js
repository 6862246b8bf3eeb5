// Stepping controls: reset, previous, play/pause, next, end, speed, and the step/token always in view.
// Events: 'reset', 'prev', 'play', 'pause', 'next', 'end', 'speed' (number).

import { TIMING, showToken } from '../config.js';
import { Figure, html, svg } from './figure.js';

// Icons as SVG paths (24×24): the media-control glyphs are missing from many fonts.
const ICONS = {
  reset: 'M5 4h3v16H5z M20 4v16L9 12z',
  prev: 'M5 4h3v16H5z M19 5v14l-9-7z',
  play: 'M7 4v16l13-8z',
  pause: 'M6 4h4v16H6z M14 4h4v16h-4z',
  next: 'M16 4h3v16h-3z M5 5v14l9-7z',
  end: 'M16 4h3v16h-3z M4 4v16l11-8z',
};

function icon(name) {
  const root = svg('svg', { viewBox: '0 0 24 24', width: 18, height: 18, 'aria-hidden': 'true', class: 'icon' });
  svg('path', { d: ICONS[name] }, root);
  return root;
}

export class Controls extends Figure {
  constructor({ container }) {
    super({ container });
    this.t = 0;
    this.T = 0;
    this.token = null;
    this.playing = false;
    this.speed = 1;
    const button = (name, label, key) =>
      html('button', { type: 'button', class: `ctl ctl-${name}`, 'aria-label': label, title: `${label} (${key})`, dataset: { action: name } }, icon(name));
    this.buttons = {
      reset: button('reset', 'Go to the first step', 'Home'),
      prev: button('prev', 'Previous step', '←'),
      play: button('play', 'Play', 'space'),
      next: button('next', 'Next step', '→'),
      end: button('end', 'Go to the last step', 'End'),
    };
    this.speedSelect = html(
      'select',
      { class: 'speed', 'aria-label': 'Playback speed' },
      ...TIMING.speeds.map((s) => html('option', { value: s, text: `${s}×` })),
    );
    this.position = html('output', { class: 'position', 'aria-live': 'polite' });
    const group = html('div', { class: 'controls-buttons', role: 'group', 'aria-label': 'Stepping' }, ...Object.values(this.buttons));
    this.container.append(group, html('label', { class: 'speed-label' }, 'speed ', this.speedSelect), this.position);
    group.addEventListener('click', (ev) => {
      const b = ev.target.closest('[data-action]');
      if (!b) return;
      const action = b.dataset.action === 'play' && this.playing ? 'pause' : b.dataset.action;
      this.emit(action);
    });
    this.speedSelect.addEventListener('change', () => this.emit('speed', Number(this.speedSelect.value)));
  }

  setPosition(t, T, token) {
    this.t = t;
    this.T = T;
    this.token = token;
  }

  setPlaying(playing) {
    this.playing = playing;
  }

  setSpeed(speed) {
    this.speed = speed;
  }

  draw() {
    const { t, T } = this;
    this.buttons.reset.disabled = T === 0 || t === 0;
    this.buttons.prev.disabled = T === 0 || t === 0;
    this.buttons.next.disabled = T === 0 || t >= T - 1;
    this.buttons.end.disabled = T === 0 || t >= T - 1;
    this.buttons.play.replaceChildren(icon(this.playing ? 'pause' : 'play'));
    this.buttons.play.setAttribute('aria-label', this.playing ? 'Pause' : 'Play');
    this.buttons.play.classList.toggle('playing', this.playing);
    this.speedSelect.value = String(this.speed);
    this.position.replaceChildren(
      html('span', { class: 'pos-step', text: T ? `step ${t + 1} / ${T}` : 'no steps' }),
      T ? html('span', { class: 'pos-token', text: showToken(this.token?.text ?? '') }) : '',
    );
  }
}
