// The model writes on: its continuation of the text, greedy (each token its likeliest next one, read back
// in) or sampled with a seed. In compare mode the two models' continuations stand side by side — the slides'
// Shakespeare demo, where the RNN and the LSTM continue the same line. Events: 'length' (n), 'sample' (the
// state's `temperature:top_k:seed`, '' for greedy).

import { Figure, html } from './figure.js';

const TAIL = 80; // characters of the prompt shown before the continuation, for context
const TEMPERATURES = ['0.5', '0.8', '1', '1.2'];
const TOP_K = 40;
const newSeed = () => crypto.getRandomValues(new Uint32Array(1))[0];

export class ContinuationPanel extends Figure {
  constructor({ container }) {
    super({ container });
    this.entries = [];
    this.intro = html('p', {
      class: 'muted continuation-intro',
      text:
        'What the model writes after the text, always taking its likeliest next token ' +
        '(greedy, so the same every time).',
    });
    this.select = html('select', { id: 'continuation-length', 'aria-label': 'how much the model writes' });
    this.select.addEventListener('change', () => this.emit('length', Number(this.select.value)));
    this.unit = html('span', { class: 'muted' });
    const row = html(
      'label',
      { class: 'continuation-length', for: 'continuation-length' },
      'write ',
      this.select,
      ' ',
      this.unit,
    );
    this.mode = html(
      'select',
      { id: 'continuation-mode', 'aria-label': 'how the model picks each token' },
      html('option', { value: '', text: 'greedy' }),
      ...TEMPERATURES.map((t) => html('option', { value: t, text: `sample, temperature ${t}` })),
    );
    this.seed = html('span', { class: 'muted continuation-seed' });
    this.reseed = html('button', { type: 'button', id: 'continuation-reseed', text: 'new seed' });
    this.mode.addEventListener('change', () =>
      this.emit('sample', this.mode.value ? `${this.mode.value}:${TOP_K}:${this.sample.seed ?? newSeed()}` : ''),
    );
    this.reseed.addEventListener('click', () => this.emit('sample', `${this.sample.t}:${this.sample.k}:${newSeed()}`));
    const picking = html(
      'div',
      { class: 'continuation-sampling' },
      html('label', { for: 'continuation-mode' }, ' · pick ', this.mode),
      ' ',
      this.seed,
      ' ',
      this.reseed,
    );
    this.sample = {};
    this.cols = html('div', { class: 'continuation-cols' });
    this.container.append(this.intro, row, picking, this.cols);
  }

  // sample: '' (greedy) or 'temperature:top_k:seed'.
  setSampling(sample) {
    const [t, k, seed] = sample ? sample.split(':') : [];
    this.sample = sample ? { t, k, seed } : {};
    if (t && !TEMPERATURES.includes(t)) this.mode.append(html('option', { value: t, text: `sample, temperature ${t}` }));
    this.mode.value = t ?? '';
    this.seed.textContent = sample ? `seed ${seed}` : '';
    this.reseed.hidden = !sample;
    this.intro.textContent = sample
      ? `What the model writes after the text, each token drawn at temperature ${t} from its ${k} likeliest ` +
        `(seed ${seed}: the same link writes the same text).`
      : 'What the model writes after the text, always taking its likeliest next token (greedy, so the same every time).';
  }

  // choices: token counts offered; value: the one in use; kind: 'char' | 'word' (the unit's name).
  setLength(choices, value, kind) {
    const key = JSON.stringify([choices, value]);
    if (key !== this.lengthKey) {
      this.lengthKey = key;
      const all = choices.includes(value) ? choices : [...choices, value].sort((a, b) => a - b);
      this.select.replaceChildren(...all.map((n) => html('option', { value: String(n), text: String(n) })));
      this.select.value = String(value);
    }
    this.unit.textContent = kind === 'word' ? 'words' : 'characters';
  }

  // entries: [{side: 'main'|'other', id, arch, prompt, text (null while writing), error}]
  setEntries(entries) {
    this.entries = entries;
  }

  draw() {
    this.cols.classList.toggle('two', this.entries.length > 1);
    this.cols.replaceChildren(
      ...this.entries.map((e) => {
        const head = html(
          'h3',
          { class: 'compare-model' },
          html('span', { class: `compare-swatch ${e.side}` }),
          ` ${e.id} `,
          html('span', { class: 'muted', text: e.arch ? e.arch.toUpperCase() : '' }),
        );
        let body;
        if (e.error) {
          body = html('p', { class: 'field-error', role: 'alert', text: e.error });
        } else if (e.text === null) {
          body = html('p', { class: 'muted', text: 'writing…' });
        } else {
          const tail = e.prompt.length > TAIL ? `…${e.prompt.slice(-TAIL)}` : e.prompt;
          body = html(
            'p',
            { class: 'continuation-text', 'aria-label': `${e.id} continues: ${e.text}` },
            html('span', { class: 'prompt', text: tail }),
            html('mark', { class: 'generated', text: e.text }),
          );
        }
        return html('section', { class: 'continuation-col', dataset: { model: e.id, side: e.side } }, head, body);
      }),
    );
  }
}
