// Tokenizers over a fixed vocabulary, as app/nn/tokenizer.py: unknown input is marked, never dropped.
//
// A tokenizer is chosen by the card's `tokenizer.kind` from TOKENIZERS; each kind is a class with
// `split(text)` (the pieces) and the shared `tokenize(text)` (pieces → {text, id, unknown}). A kind whose
// pieces are not found by a split alone (subwords looked up in the vocabulary) overrides `tokenize`.

import { ModelFileError, TraceInputError, pyRepr } from './errors.js';

// Python's `\s`, `\d` and `\w` on str, which are Unicode-aware and differ from JavaScript's: `\s` is
// str.isspace() (it includes U+001C–U+001F and U+0085, and not U+FEFF), `\d` is category Nd, and `\w` is
// str.isalnum() or `_`, which is exactly the categories L* and N* (checked over every code point).
const SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const LETTER = '[\\p{L}\\p{Nl}\\p{No}]'; // [^\W\d_]: word characters that are neither digits nor `_`
// WORD_PATTERN: words (with an inner apostrophe), numbers, and every other non-space character alone.
const WORD_PATTERN = new RegExp(`\\p{Nd}+|${LETTER}+(?:'${LETTER}+)?|[^${SPACE}\\p{L}\\p{N}_]|_`, 'gu');

export class Tokenizer {
  constructor(kind, vocab, unk = '<unk>', lowercase = false) {
    if (new Set(vocab).size !== vocab.length) {
      const dup = vocab.find((t, k) => vocab.indexOf(t) !== k);
      throw new Error(`the vocabulary lists ${pyRepr(dup)} twice`);
    }
    if (unk !== null && !vocab.includes(unk)) {
      throw new Error(`the unknown token ${pyRepr(unk)} is not in the vocabulary`);
    }
    this.kind = kind;
    this.vocab = [...vocab];
    this.unk = unk;
    this.lowercase = lowercase;
    this.index = new Map(vocab.map((t, k) => [t, k]));
  }

  // Python lowercases with str.lower(); toLowerCase() is the same full Unicode case mapping.
  normalise(text) {
    return this.lowercase ? text.toLowerCase() : text;
  }

  tokenize(text) {
    return this.split(text).map((piece) => this.lookup(piece));
  }

  lookup(piece) {
    const k = this.index.get(piece);
    if (k !== undefined && piece !== this.unk) return { text: piece, id: k, unknown: false, join: false };
    if (this.unk !== null) return { text: piece, id: this.index.get(this.unk), unknown: true, join: false };
    throw new TraceInputError(
      'unknown_token',
      `${pyRepr(piece)} is not in this model's vocabulary and the model has no unknown token`,
    );
  }

  config() {
    return { kind: this.kind, vocab: this.vocab, unk: this.unk, lowercase: this.lowercase };
  }
}

// One token per Unicode code point, as Python's list(str) (an emoji is one token, not two UTF-16 halves).
export class CharTokenizer extends Tokenizer {
  split(text) {
    return Array.from(this.normalise(text));
  }
}

const PIECE = '##'; // a vocabulary entry that continues the word before it (app/nn/tokenizer.py)
const MAX_PIECE = 24;

export class WordTokenizer extends Tokenizer {
  constructor(...args) {
    super(...args);
    this.pieces = this.vocab.some((t) => t.startsWith(PIECE) && t.length > PIECE.length);
  }

  split(text) {
    return this.normalise(text).match(WORD_PATTERN) ?? [];
  }

  tokenize(text) {
    return this.split(text).flatMap((word) => {
      const k = this.index.get(word);
      if ((k !== undefined && word !== this.unk) || !this.pieces) return [this.lookup(word)];
      return this.wordPieces(word);
    });
  }

  // WordPiece's greedy rule, in code points as Python slices: the longest known start, then the longest
  // known continuations; a character no entry covers is an unknown piece of its word.
  wordPieces(word) {
    const chars = Array.from(word);
    const out = [];
    let start = 0;
    while (start < chars.length) {
      const prefix = start ? PIECE : '';
      let found = false;
      for (let end = Math.min(chars.length, start + MAX_PIECE); end > start; end -= 1) {
        const text = chars.slice(start, end).join('');
        const k = this.index.get(prefix + text);
        if (k !== undefined && text !== this.unk) {
          out.push({ text, id: k, unknown: false, join: start > 0 });
          start = end;
          found = true;
          break;
        }
      }
      if (!found) {
        const text = chars[start];
        if (this.unk === null) {
          throw new TraceInputError(
            'unknown_token',
            `${pyRepr(text)} in ${pyRepr(word)} is not covered by this model's vocabulary`,
          );
        }
        out.push({ text, id: this.index.get(this.unk), unknown: true, join: start > 0 });
        start += 1;
      }
    }
    return out;
  }
}

// A forecaster's tokenizer (app/nn/tokenizer.py NumberTokenizer): numbers separated by commas, semicolons
// or whitespace, each one token of the single entry <number> with its `value`; anything else is refused.
const NUMBER_SEPARATORS = new RegExp(`[${SPACE},;]+`, 'u');
const NUMBER = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/; // ASCII digits only
const MAX_NUMBER = 1e12;

export class NumberTokenizer extends Tokenizer {
  constructor(kind, vocab) {
    if (vocab.length !== 1 || vocab[0] !== '<number>') {
      throw new Error(`a numbers tokenizer's vocabulary is ['<number>'], not ${pyRepr(vocab.slice(0, 5))}`);
    }
    super(kind, vocab, null, false);
  }

  split(text) {
    return text.split(NUMBER_SEPARATORS).filter((s) => s);
  }

  tokenize(text) {
    return this.split(text).map((s, k) => {
      const shown = pyRepr(Array.from(s).slice(0, 40).join(''));
      if (!NUMBER.test(s)) {
        throw new TraceInputError(
          'not_a_number',
          `${shown} (item ${k + 1}) is not a number: this model forecasts a series, typed as numbers ` +
            "separated by commas or spaces, e.g. '12, 14.5, 13, 17'",
        );
      }
      const value = Number(s);
      if (!(Math.abs(value) <= MAX_NUMBER)) {
        throw new TraceInputError('not_a_number', `${shown} (item ${k + 1}) is larger than 1e+12`);
      }
      return { text: s, id: 0, unknown: false, join: false, value };
    });
  }
}

export const TOKENIZERS = { char: CharTokenizer, word: WordTokenizer, numbers: NumberTokenizer };

// The card's `tokenizer` object (already checked against the card's schema) → a tokenizer; errors as
// app/nn/files.py's tokenizer_from_card.
export function tokenizerFromCard(card) {
  const tok = card.tokenizer;
  const kind = tok.kind ?? '';
  try {
    const Kind = TOKENIZERS[kind];
    if (!Kind) {
      const kinds = Object.keys(TOKENIZERS).map(pyRepr).join(' or ');
      throw new Error(`tokenizer kind must be ${kinds}, not ${pyRepr(kind)}`);
    }
    return new Kind(kind, tok.vocab, tok.unk ?? null, Boolean(tok.lowercase));
  } catch (err) {
    throw new ModelFileError(`model.json: tokenizer: ${err.message}`);
  }
}
