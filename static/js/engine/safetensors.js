// Reading a .safetensors file: an 8-byte little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {...}}, then the tensors' bytes
// (offsets relative to the end of the header). Every float dtype is widened to float64, the precision the
// engine computes in; F16 and BF16 arrive from imported models, F64 from the torch golden vectors.

export class SafetensorsError extends Error {}

const WIDTH = { F64: 8, F32: 4, F16: 2, BF16: 2 };

// IEEE half precision → double: sign, 5-bit exponent, 10-bit fraction (subnormals and inf/NaN included).
function halfToDouble(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

// bfloat16 is the top half of a float32: put its bits there and read the float32.
const bfScratch = new DataView(new ArrayBuffer(4));
function bfloatToDouble(bits) {
  bfScratch.setUint32(0, bits << 16, true);
  return bfScratch.getFloat32(0, true);
}

function widen(view, dtype, count) {
  const out = new Float64Array(count);
  if (dtype === 'F64') for (let k = 0; k < count; k++) out[k] = view.getFloat64(8 * k, true);
  else if (dtype === 'F32') for (let k = 0; k < count; k++) out[k] = view.getFloat32(4 * k, true);
  else if (dtype === 'F16') for (let k = 0; k < count; k++) out[k] = halfToDouble(view.getUint16(2 * k, true));
  else for (let k = 0; k < count; k++) out[k] = bfloatToDouble(view.getUint16(2 * k, true));
  return out;
}

// `buffer` (an ArrayBuffer) → Map(name → {dtype, shape, data: Float64Array}), in the header's order.
// `name` says which file, for the messages.
export function readSafetensors(buffer, name = 'weights.safetensors') {
  const bad = (why) => new SafetensorsError(`${name}: not readable as a safetensors file (${why})`);
  if (buffer.byteLength < 8) throw bad('shorter than its 8-byte header length');
  const head = new DataView(buffer, 0, 8);
  const n = head.getUint32(0, true) + head.getUint32(4, true) * 2 ** 32;
  if (n > buffer.byteLength - 8) throw bad(`the header claims ${n} bytes; the file has ${buffer.byteLength}`);
  let header;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(buffer, 8, n)));
  } catch (err) {
    throw bad(`the header is not JSON: ${err.message}`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw bad('the header is not an object');
  const start = 8 + n;
  const dataBytes = buffer.byteLength - start;
  const tensors = new Map();
  for (const [key, info] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    const { dtype, shape, data_offsets: offsets } = info ?? {};
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw bad(`tensor '${key}' has no valid shape`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !(offsets[0] <= offsets[1] && offsets[1] <= dataBytes)) {
      throw bad(`tensor '${key}' has data offsets outside the file`);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (!(dtype in WIDTH)) {
      // The model's loader says which tensor and what it expected; this reader only knows floats.
      tensors.set(key, { dtype, shape, data: null });
      continue;
    }
    const bytes = offsets[1] - offsets[0];
    if (bytes !== count * WIDTH[dtype]) {
      const needs = count * WIDTH[dtype];
      throw bad(`tensor '${key}' holds ${bytes} bytes; ${dtype} of shape ${JSON.stringify(shape)} needs ${needs}`);
    }
    const view = new DataView(buffer, start + offsets[0], bytes);
    tensors.set(key, { dtype, shape, data: widen(view, dtype, count) });
  }
  return tensors;
}
