// Which models compare mode may pair: two models can share a sentence only if they read it into the same
// tokens (the server's `vocab_signature` on each card). Pure functions over the page's model cards.

// Each shipped model's twin: the same data and vocabulary, one thing changed (the cell, or the forget bias).
const PAIRS = [
  ['lecture-lstm', 'lecture-rnn'],
  ['recall-lstm', 'recall-rnn'],
  ['shakespeare-lstm', 'shakespeare-rnn'],
  ['untrained-lecture-lstm-bias1', 'untrained-lecture-lstm-bias0'],
];
export const TWINS = Object.fromEntries(
  PAIRS.flatMap(([a, b]) => [
    [a, b],
    [b, a],
  ]),
);

const signature = (card) => card?.vocab_signature ?? `${card?.tokenizer}|${card?.vocab_size}`;

export function compatible(cards, a, b) {
  const ca = cards.get(a);
  const cb = cards.get(b);
  return Boolean(ca && cb && a !== b && signature(ca) === signature(cb));
}

// The models `id` can be compared with, in the page's order.
export function partners(cards, id) {
  return [...cards.keys()].filter((other) => compatible(cards, id, other));
}

// The default second model: the twin, else the first model with the same vocabulary, else '' (none).
export function defaultPartner(cards, id) {
  const twin = TWINS[id];
  if (twin && compatible(cards, id, twin)) return twin;
  return partners(cards, id)[0] ?? '';
}

// Why `other` cannot be compared with `id` (null when it can).
export function whyNot(cards, id, other) {
  if (!other) return null;
  if (!cards.has(other)) return `There is no model “${other}” on this server to compare with.`;
  if (other === id) return `“${other}” is the model already shown: pick another one to compare with.`;
  if (!compatible(cards, id, other)) {
    const a = cards.get(id);
    const b = cards.get(other);
    return (
      `“${other}” reads text with a different vocabulary (${b.tokenizer} tokens, ${b.vocab_size} of them) than ` +
      `“${id}” (${a?.tokenizer} tokens, ${a?.vocab_size}): models can only be compared on the same tokens.`
    );
  }
  return null;
}
