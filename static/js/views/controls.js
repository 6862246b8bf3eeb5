// Stepping controls: reset, previous, play/pause, next, end, speed, the step/token always in view, and
// the layer selector of a stacked model.
// Events: 'reset', 'prev', 'play', 'pause', 'next', 'end', 'speed' (number), 'layer' (index).

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
      html(
        'button',
        {
          type: 'button',
          class: `ctl ctl-${name}`,
          'aria-label': label,
          title: `${label} (${key})`,
          dataset: { action: name },
        },
        icon(name),
      );
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
    this.layerGroup = html('div', {
      class: 'seg-group layer-select',
      role: 'group',
      'aria-label': 'layer',
      hidden: true,
    });
    this.layers = 1;
    this.layer = 0;
    const group = html(
      'div',
      { class: 'controls-buttons', role: 'group', 'aria-label': 'Stepping' },
      ...Object.values(this.buttons),
    );
    this.container.append(
      group,
      html('label', { class: 'speed-label' }, 'speed ', this.speedSelect),
      this.position,
      this.layerGroup,
    );
    this.layerGroup.addEventListener('click', (ev) => {
      const b = ev.target.closest('[data-layer]');
      if (b) this.emit('layer', Number(b.dataset.layer));
    });
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

  setLayers(layers, layer) {
    if (layers !== this.layers) {
      this.layers = layers;
      this.layerGroup.replaceChildren(
        ...Array.from({ length: layers }, (_, l) =>
          html('button', { type: 'button', class: 'seg', dataset: { layer: l }, text: `layer ${l + 1}` }),
        ),
      );
    }
    this.layer = layer;
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
    this.layerGroup.hidden = this.layers < 2;
    for (const b of this.layerGroup.children)
      b.setAttribute('aria-pressed', String(Number(b.dataset.layer) === this.layer));
    this.position.replaceChildren(
      html('span', { class: 'pos-step', text: T ? `step ${t + 1} / ${T}` : 'no steps' }),
      T ? html('span', { class: 'pos-token', text: showToken(this.token?.text ?? '') }) : '',
    );
  }
}
