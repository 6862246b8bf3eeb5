// Errors the engine raises, as app/nn/errors.py: each says what was wrong and what to change. A trace
// request's mistakes carry the same `code` and message the server answers with (its 422 body), so a page
// cannot tell who refused it.

export class TraceInputError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'TraceInputError';
    this.code = code;
  }
}

export class ModelFileError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ModelFileError';
    this.code = 'model_file';
  }
}

// Python's repr() of a JSON value, for messages written as the core writes them (`{value!r}`). A JSON
// number without a fraction is an int to Python's json module, so 1.0 sent by a client reads back as `1`.
export function pyRepr(v) {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 1e16 ? String(v) : pyFloat(v);
  if (typeof v === 'string') return pyString(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(v).map(([k, x]) => `${pyString(k)}: ${pyRepr(x)}`).join(', ')}}`;
}

// repr(float): the shortest round-trip digits (JS has the same ones), fixed for 1e-4 ≤ |x| < 1e16, else
// scientific with a signed two-digit exponent.
function pyFloat(x) {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const [mantissa, e] = x.toExponential().split('e');
  const exp = Number(e);
  if (exp < -4 || exp >= 16) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  const s = String(x);
  return s.includes('.') || s.includes('e') ? s : `${s}.0`;
}

function pyString(s) {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${quote}${out}${quote}`;
}
