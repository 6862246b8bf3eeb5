// The few dense kernels the engine needs, on row-major Float64Arrays. Shapes are in the names' comments;
// (n, m) means n rows of m contiguous numbers.

// out (rows,) = W (rows, cols) · x (cols,) + b (rows,): the forward's matrix–vector products. Four rows at
// a time: four independent sums keep the processor busy where one would wait on its own last addition,
// and each row still sums its terms in order.
export function matVec(W, rows, cols, x, b, out = new Float64Array(rows)) {
  let j = 0;
  for (; j + 3 < rows; j += 4) {
    const w0 = j * cols;
    const w1 = w0 + cols;
    const w2 = w1 + cols;
    const w3 = w2 + cols;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let k = 0; k < cols; k++) {
      const xk = x[k];
      s0 += W[w0 + k] * xk;
      s1 += W[w1 + k] * xk;
      s2 += W[w2 + k] * xk;
      s3 += W[w3 + k] * xk;
    }
    out[j] = s0 + b[j];
    out[j + 1] = s1 + b[j + 1];
    out[j + 2] = s2 + b[j + 2];
    out[j + 3] = s3 + b[j + 3];
  }
  for (; j < rows; j++) {
    const w = j * cols;
    let s = 0;
    for (let k = 0; k < cols; k++) s += W[w + k] * x[k];
    out[j] = s + b[j];
  }
  return out;
}

// out (n, cols) += D (n, m) · W (m, cols), with W given transposed as WT (cols, m) so that every entry is a
// dot product of two contiguous rows. This is the backward's hot loop (the gradient triangle spends nearly
// all its time here): two rows of D against four rows of WT at once, so each number loaded serves two or
// four products. Every entry still sums its m terms in order, as a plain loop would.
export function mulAdd(out, D, n, m, WT, cols) {
  let r = 0;
  for (; r + 1 < n; r += 2) {
    const d0 = r * m;
    const d1 = d0 + m;
    const o0 = r * cols;
    const o1 = o0 + cols;
    let k = 0;
    for (; k + 3 < cols; k += 4) {
      const w0 = k * m;
      const w1 = w0 + m;
      const w2 = w1 + m;
      const w3 = w2 + m;
      let s00 = 0;
      let s01 = 0;
      let s02 = 0;
      let s03 = 0;
      let s10 = 0;
      let s11 = 0;
      let s12 = 0;
      let s13 = 0;
      for (let j = 0; j < m; j++) {
        const x0 = D[d0 + j];
        const x1 = D[d1 + j];
        const y0 = WT[w0 + j];
        const y1 = WT[w1 + j];
        const y2 = WT[w2 + j];
        const y3 = WT[w3 + j];
        s00 += x0 * y0;
        s01 += x0 * y1;
        s02 += x0 * y2;
        s03 += x0 * y3;
        s10 += x1 * y0;
        s11 += x1 * y1;
        s12 += x1 * y2;
        s13 += x1 * y3;
      }
      out[o0 + k] += s00;
      out[o0 + k + 1] += s01;
      out[o0 + k + 2] += s02;
      out[o0 + k + 3] += s03;
      out[o1 + k] += s10;
      out[o1 + k + 1] += s11;
      out[o1 + k + 2] += s12;
      out[o1 + k + 3] += s13;
    }
    for (; k < cols; k++) {
      const w = k * m;
      let s0 = 0;
      let s1 = 0;
      for (let j = 0; j < m; j++) {
        s0 += D[d0 + j] * WT[w + j];
        s1 += D[d1 + j] * WT[w + j];
      }
      out[o0 + k] += s0;
      out[o1 + k] += s1;
    }
  }
  for (; r < n; r++) {
    const d = r * m;
    const o = r * cols;
    for (let k = 0; k < cols; k++) {
      const w = k * m;
      let s = 0;
      for (let j = 0; j < m; j++) s += D[d + j] * WT[w + j];
      out[o + k] += s;
    }
  }
  return out;
}

// W (rows, cols) → Wᵀ (cols, rows).
export function transpose(W, rows, cols) {
  const T = new Float64Array(W.length);
  for (let j = 0; j < rows; j++) for (let k = 0; k < cols; k++) T[k * rows + j] = W[j * cols + k];
  return T;
}

// acc (rows, cols) += d (rows,) ⊗ x (cols,): one step's share of a weight gradient Σ_t d_tᵀ x_t.
export function addOuter(acc, d, x) {
  const cols = x.length;
  for (let j = 0; j < d.length; j++) {
    const s = d[j];
    if (s === 0) continue;
    const a = j * cols;
    for (let k = 0; k < cols; k++) acc[a + k] += s * x[k];
  }
  return acc;
}

// Σ a[k]² over a[begin:end].
export function sumSquares(a, begin = 0, end = a.length) {
  let s = 0;
  for (let k = begin; k < end; k++) s += a[k] * a[k];
  return s;
}
