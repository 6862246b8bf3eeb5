// Clamping gates: the popover a layer box opens (value, units, range), the list of active clamps, and
// what the clamps changed at the current step — the state with the clamp, without it, and the difference.
// Events: 'apply' {gate, value, units: 'all'|'selected', range: 'step'|'after'|'all'},
//         'remove' (index), 'clear', 'close'.

import { QUANTITIES, fmt, gateLook } from '../config.js';
import { Figure, html, svg } from './figure.js';
import { Strip, stripGeometry } from './strip.js';

let instances = 0;

export class ClampPanel extends Figure {
  constructor({ container, popoverHost = document.body }) {
    super({ container });
    this.uid = ++instances;
    this.popoverHost = popoverHost;
    this.family = 'lstm'; // the diagram family of the model whose gates are clamped (names the GRU candidate h̃)
    this.clamps = [];
    this.popover = null;
    this.returnFocus = null;
    this.listEl = html('ul', { class: 'clamp-list', 'aria-label': 'active clamps' });
    this.empty = html('p', {
      class: 'muted clamp-empty',
      text: 'No clamps. Click a yellow layer box in the diagram to clamp its gate.',
    });
    this.error = html('p', { class: 'field-error', role: 'alert', hidden: true });
    this.compare = html('div', { class: 'clamp-compare' });
    this.clearButton = html('button', {
      type: 'button',
      class: 'link-button',
      text: 'remove all clamps',
      hidden: true,
    });
    this.container.append(this.empty, this.listEl, this.clearButton, this.error, this.compare);
    this.clearButton.addEventListener('click', () => this.emit('clear'));
    this.listEl.addEventListener('click', (ev) => {
      const b = ev.target.closest('[data-remove]');
      if (b) this.emit('remove', Number(b.dataset.remove));
    });
  }

  // ---- the list
  setClamps(clamps, layers) {
    this.clamps = clamps;
    this.layers = layers;
  }

  setError(message) {
    this.error.hidden = !message;
    this.error.textContent = message ?? '';
  }

  // comparison: null, or {t, key, with: [H], without: [H], scale, withP, withoutP, token}
  setComparison(comparison) {
    this.comparison = comparison;
  }

  draw() {
    this.empty.hidden = this.clamps.length > 0;
    this.clearButton.hidden = this.clamps.length < 2;
    this.listEl.replaceChildren(
      ...this.clamps.map((c, k) => {
        const g = gateLook(c.gate, this.family);
        const units = c.units
          ? `unit${c.units.length > 1 ? 's' : ''} ${c.units.map((u) => `#${u}`).join(' ')}`
          : 'all units';
        const range =
          c.start === null && c.stop === null
            ? 'every step'
            : c.stop === null
              ? `steps ${c.start + 1} → end`
              : c.stop - c.start === 1
                ? `step ${c.start + 1} only`
                : `steps ${(c.start ?? 0) + 1}–${c.stop}`;
        const layer = this.layers > 1 ? ` · layer ${c.layer + 1}` : '';
        return html(
          'li',
          { class: 'clamp-chip' },
          html('span', { class: 'swatch', style: `background:var(${g?.accent ?? '--muted'})` }),
          html('span', { text: `${g?.symbol ?? c.gate} = ${fmt(c.value)} · ${units} · ${range}${layer}` }),
          html('button', {
            type: 'button',
            class: 'remove',
            dataset: { remove: k },
            'aria-label': `remove clamp on ${c.gate}`,
            text: '✕',
          }),
        );
      }),
    );
    this.drawComparison();
  }

  drawComparison() {
    const c = this.comparison;
    this.compare.replaceChildren();
    if (!c) return;
    const H = c.with.length;
    const diff = c.with.map((v, j) => v - c.without[j]);
    let maxJ = 0;
    diff.forEach((d, j) => {
      if (Math.abs(d) > Math.abs(diff[maxJ])) maxJ = j;
    });
    const norm = Math.sqrt(diff.reduce((s, d) => s + d * d, 0));
    const q = QUANTITIES[c.key];
    this.compare.append(
      html('h3', { text: `What the clamp changed at step ${c.t + 1}` }),
      html('p', {
        class: 'compare-summary',
        text:
          `‖Δ${q.base}‖ = ${fmt(norm)}; largest change: unit #${maxJ}, ${fmt(c.without[maxJ])} → ${fmt(c.with[maxJ])}` +
          (c.withP !== null && c.withP !== undefined
            ? `; p(“${c.token}”) ${fmt(c.withoutP, 3)} → ${fmt(c.withP, 3)}`
            : ''),
      }),
    );
    const geo = stripGeometry(H, { width: 380, maxGridHeight: 44, maxCell: 22, gapFrom: 8 });
    const rowH = geo.h + 14;
    const root = svg(
      'svg',
      { class: 'compare-strips', viewBox: `0 0 ${120 + geo.w + 10} ${3 * rowH + 4}`, role: 'img' },
      this.compare,
    );
    root.setAttribute('aria-label', `${q.base} with and without the clamp, and the difference`);
    const rows = [
      ['with clamp', c.with],
      ['without', c.without],
      ['difference', diff],
    ];
    rows.forEach(([name, values], k) => {
      const strip = new Strip(root, {
        key: `compare-${k}`,
        x: 120 + geo.w / 2,
        y: 6 + k * rowH + geo.h / 2,
        geometry: geo,
        labelBase: name,
        labelSub: '',
        labelPos: 'left',
        bigMax: 0,
      });
      strip.setValues(values, c.scale);
    });
  }

  // ---- the popover
  // {gate, rect, step, selected (units), existing (clamps on this gate and layer), layer, range [lo, hi]}
  open({ gate, rect, step, selected, existing, layer, range = [0, 1], fam = 'lstm' }) {
    this.close(false);
    this.family = fam;
    const g = gateLook(gate, fam);
    const [lo, hi] = range;
    const id = (name) => `clamp-${this.uid}-${name}`;
    const radio = (name, value, text, checked, disabled = false) =>
      html(
        'label',
        { class: `radio${disabled ? ' disabled' : ''}` },
        html('input', { type: 'radio', name: id(name), value, checked, disabled }),
        ` ${text}`,
      );
    const slider = html('input', {
      type: 'range',
      min: lo,
      max: hi,
      step: 0.05,
      value: 0,
      'aria-label': 'clamp value',
      id: id('slider'),
    });
    const readout = html('output', { for: id('slider'), class: 'slider-value', text: fmt(0) });
    const form = html(
      'form',
      { class: 'clamp-form' },
      html('h3', {
        id: id('title'),
        text: `Clamp the ${g.name} (${g.symbol})${layer > 0 ? ` in layer ${layer + 1}` : ''}`,
      }),
      html(
        'fieldset',
        {},
        html('legend', { text: 'value' }),
        radio('value', '0', gate === 'candidate' ? '0' : '0 (shut)', true),
        radio('value', '1', gate === 'candidate' ? '1' : '1 (open)', false),
        radio('value', 'slider', 'other', false),
        html('span', { class: 'slider-row' }, slider, readout),
      ),
      html(
        'fieldset',
        {},
        html('legend', { text: 'units' }),
        radio('units', 'all', 'all units', true),
        radio(
          'units',
          'selected',
          selected.length ? `selected: ${selected.map((u) => `#${u}`).join(' ')}` : 'selected (none selected)',
          false,
          selected.length === 0,
        ),
      ),
      html(
        'fieldset',
        {},
        html('legend', { text: 'steps' }),
        radio('range', 'step', `this step only (${step + 1})`, false),
        radio('range', 'after', `from here on (${step + 1} → end)`, true),
        radio('range', 'all', 'every step', false),
      ),
      html(
        'div',
        { class: 'form-buttons' },
        html('button', { type: 'submit', class: 'primary', text: 'Clamp' }),
        html('button', { type: 'button', class: 'cancel', text: 'Cancel' }),
      ),
      existing.length
        ? html('p', {
            class: 'muted',
            text: `${existing.length} clamp${existing.length > 1 ? 's' : ''} already on this gate (listed under “Clamps”).`,
          })
        : null,
    );
    const pop = html('div', { class: 'popover', role: 'dialog', 'aria-labelledby': id('title') }, form);
    this.popoverHost.append(pop);
    this.popover = pop;
    this.returnFocus = document.activeElement;
    const x = rect.left + window.scrollX;
    const y = rect.bottom + window.scrollY + 8;
    pop.style.left = `${Math.max(8, Math.min(x - 20, window.scrollX + document.documentElement.clientWidth - pop.offsetWidth - 8))}px`;
    pop.style.top = `${y}px`;
    const valueOf = (name) => form.querySelector(`input[name="${id(name)}"]:checked`)?.value;
    slider.addEventListener('input', () => {
      readout.textContent = fmt(Number(slider.value));
      form.querySelector(`input[name="${id('value')}"][value="slider"]`).checked = true;
    });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = valueOf('value');
      this.emit('apply', {
        gate,
        value: v === 'slider' ? Number(slider.value) : Number(v),
        units: valueOf('units'),
        range: valueOf('range'),
      });
      this.close();
    });
    form.querySelector('.cancel').addEventListener('click', () => this.close());
    pop.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.stopPropagation();
        this.close();
      }
    });
    // Close on an outside click (a later tick, so the opening click does not close it at once).
    setTimeout(() => {
      this.outside = (ev) => {
        if (this.popover && !this.popover.contains(ev.target)) this.close(false);
      };
      document.addEventListener('pointerdown', this.outside);
    });
    form.querySelector('input').focus();
  }

  close(restoreFocus = true) {
    if (!this.popover) return;
    this.popover.remove();
    this.popover = null;
    document.removeEventListener('pointerdown', this.outside);
    if (restoreFocus && this.returnFocus?.isConnected) this.returnFocus.focus();
    this.emit('close');
  }

  get isOpen() {
    return Boolean(this.popover);
  }
}
