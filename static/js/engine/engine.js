// The engine's public face, for a caller on the main thread or in a worker of its own: load a model from
// its files, trace a text into the very document `POST /api/trace` returns. worker.js runs the same off
// the main thread; client.js talks to it.

import { buildDocument } from './document.js';
import { runTrace } from './trace.js';

export { ARCHS, SPECS } from './cells.js';
export { buildDocument, roundSig } from './document.js';
export { ModelFileError, TraceInputError } from './errors.js';
export { fetchModel, loadModel } from './files.js';
export { Model } from './model.js';
export { TOKENIZERS, tokenizerFromCard } from './tokenizer.js';
export { gradientTriangle, runTrace } from './trace.js';

// As app/nn/document.py's trace_document: `{target, interventions, gradients}` as the request carries them;
// `digits: null` keeps full precision instead of the document's 7 significant digits.
export function traceDocument(model, text, { target = null, interventions = null, gradients = true, digits = 7 } = {}) {
  return buildDocument(runTrace(model, text, { target, interventions, gradients }), { digits });
}
