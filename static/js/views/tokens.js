// The token strip: the sentence as the model reads it. The current step is highlighted, a click jumps
// there, unknown tokens are marked, the pieces of one word are drawn joined, and (Karpathy-style) chips can be
// tinted by one unit's cell value.
// Events: 'step' (index).

import { fmt, showToken } from '../config.js';
import { Figure, html } from './figure.js';

export class TokenStrip extends Figure {
  constructor({ container }) {
    super({ container });
    this.tokens = [];
    this.step = 0;
    this.tint = null;
    // One Tab stop for the whole sentence (a roving tabindex): the current chip is focusable, and the
    // page's ← → Home End (features/player.js) move the step, with the focus following it here.
    this.list = html('ol', {
      class: 'token-list',
      'aria-label': 'tokens; click one to jump to its step, or use ← → Home End',
    });
    this.container.append(this.list);
    this.geometry = null;
    new ResizeObserver(() => {
      this.geometry = null;
    }).observe(this.list);
    this.list.addEventListener(
      'scroll',
      () => {
        this.scrollPos = this.list.scrollTop;
      },
      { passive: true },
    );
    this.list.addEventListener('click', (ev) => {
      const chip = ev.target.closest('[data-t]');
      if (chip) this.emit('step', Number(chip.dataset.t));
    });
  }

  setTokens(tokens) {
    const same =
      tokens.length === this.tokens.length &&
      tokens.every((t, k) => t.text === this.tokens[k].text && t.unknown === this.tokens[k].unknown && t.join === this.tokens[k].join);
    this.tokens = tokens;
    if (!same) this.rebuild();
  }

  setStep(t) {
    this.step = t;
  }

  // tint: null, or {unit, values: [T], scale, label?} — chips coloured by that unit's value at each step
  // (or by what `label` names, e.g. a classifier's attribution).
  setTint(tint) {
    this.tint = tint;
  }

  rebuild() {
    this.geometry = null;
    const words = [];
    this.tokens.forEach((tok, t) => {
      const chip = html(
        'button',
        {
          type: 'button',
          class: `chip${tok.unknown ? ' unknown' : ''}${/^\s$/.test(tok.text) ? ' space' : ''}`,
          dataset: { t },
          tabindex: -1,
          title: tok.unknown ? `“${tok.text}” is not in the vocabulary: the model reads <unk>` : null,
        },
        html('span', { class: 'chip-text', text: showToken(tok.text) }),
      );
      if (tok.unknown) chip.append(html('span', { class: 'unk-mark', 'aria-hidden': 'true', text: '?' }));
      // A word piece joins its word: the same list item (so it never wraps away), the seam squared and dotted.
      const word = tok.join ? words[words.length - 1] : null;
      if (!word) {
        words.push(html('li', {}, chip));
        return;
      }
      const prev = word.lastChild;
      prev.style.borderTopRightRadius = prev.style.borderBottomRightRadius = '0';
      Object.assign(chip.style, { borderTopLeftRadius: '0', borderBottomLeftRadius: '0', borderLeftStyle: 'dotted' });
      chip.classList.add('piece');
      word.append(chip);
    });
    this.list.replaceChildren(...words);
  }

  draw() {
    const chips = this.list.querySelectorAll('.chip');
    const focused = this.list.contains(document.activeElement);
    chips.forEach((chip, t) => {
      const current = t === this.step;
      chip.classList.toggle('current', current);
      chip.tabIndex = current ? 0 : -1;
      if (current && focused && document.activeElement !== chip) chip.focus({ preventScroll: true });
      if (current) chip.setAttribute('aria-current', 'step');
      else chip.removeAttribute('aria-current');
      const tok = this.tokens[t];
      let name = `step ${t + 1}: ${tok.text === ' ' ? 'space' : tok.text}${tok.unknown ? ' (unknown)' : ''}`;
      if (tok.join) name += ' (continues the word)';
      if (this.tint) {
        const v = this.tint.values[t];
        chip.style.background = this.tint.scale.color(v);
        chip.style.color = this.tint.scale.textColor(v);
        name += this.tint.label ? `, ${this.tint.label} ${fmt(v, 3)}` : `, unit ${this.tint.unit} cell ${fmt(v)}`;
      } else {
        chip.style.background = '';
        chip.style.color = '';
      }
      chip.setAttribute('aria-label', name);
    });
    this.list.classList.toggle('tinted', Boolean(this.tint));
    // Keep the current token in view on very long inputs (without scrolling the page). In the next
    // frame: reading the layout now would force a second layout of the whole page.
    if (chips[this.step]) requestAnimationFrame(() => this.scrollTo(this.step));
  }

  // Chip positions are measured once per sentence (and size): reading the layout on every step while
  // playing would force a reflow each time.
  scrollTo(t) {
    const list = this.list;
    if (!this.geometry) {
      this.geometry = {
        height: list.clientHeight,
        overflows: list.scrollHeight > list.clientHeight,
        chips: [...list.querySelectorAll('.chip')].map((c) => [c.offsetTop - list.offsetTop, c.offsetHeight]),
        // A one-line strip (a small embed) scrolls sideways instead.
        width: list.clientWidth,
        wide: list.scrollWidth > list.clientWidth,
        across: [...list.querySelectorAll('.chip')].map((c) => [c.offsetLeft - list.offsetLeft, c.offsetWidth]),
      };
      this.scrollPos = list.scrollTop;
    }
    const { height, overflows, chips, width, wide, across } = this.geometry;
    if (wide && across[t]) {
      const [left, w] = across[t];
      if (left < list.scrollLeft || left + w > list.scrollLeft + width) list.scrollLeft = Math.max(0, left - width / 2);
    }
    if (!overflows || !chips[t]) return;
    const [top, h] = chips[t];
    if (top < this.scrollPos || top + h > this.scrollPos + height) {
      this.scrollPos = Math.max(0, top - height / 2);
      list.scrollTop = this.scrollPos;
    }
  }
}
