// Stepping controls: reset, previous, play/pause, next, end, speed, and the step/token always in view.
// Events: 'reset', 'prev', 'play', 'pause', 'next', 'end', 'speed' (number).

import { TIMING, showToken } from '../config.js';
import { Figure, html } from './figure.js';

export class Controls extends Figure {
  constructor({ container }) {
    super({ container });
    this.t = 0;
    this.T = 0;
    this.token = null;
    this.playing = false;
    this.speed = 1;
    const button = (name, text, label, key) =>
      html('button', { type: 'button', class: `ctl ctl-${name}`, 'aria-label': label, title: `${label} (${key})`, dataset: { action: name } }, text);
    this.buttons = {
      reset: button('reset', '⏮', 'Go to the first step', 'Home'),
      prev: button('prev', '|◀', 'Previous step', '←'),
      play: button('play', '▶', 'Play', 'space'),
      next: button('next', '▶|', 'Next step', '→'),
      end: button('end', '⏭', 'Go to the last step', 'End'),
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
    this.buttons.play.textContent = this.playing ? '⏸' : '▶';
    this.buttons.play.setAttribute('aria-label', this.playing ? 'Pause' : 'Play');
    this.buttons.play.classList.toggle('playing', this.playing);
    this.speedSelect.value = String(this.speed);
    this.position.replaceChildren(
      html('span', { class: 'pos-step', text: T ? `step ${t + 1} / ${T}` : 'no steps' }),
      T ? html('span', { class: 'pos-token', text: showToken(this.token?.text ?? '') }) : '',
    );
  }
}
