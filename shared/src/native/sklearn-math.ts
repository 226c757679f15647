/** The float64 link functions sklearn/scipy apply to raw scores, written as those libraries compute them. */

/** scipy.special.expit. */
export const expit = (x: number): number => 1 / (1 + Math.exp(-x));

/** sklearn.utils.extmath.softmax on one row, in place. */
export function softmaxRow(v: Float64Array, off: number, n: number): void {
  let mx = v[off];
  for (let k = 1; k < n; k++) if (v[off + k] > mx) mx = v[off + k];
  let s = 0;
  for (let k = 0; k < n; k++) {
    v[off + k] = Math.exp(v[off + k] - mx);
    s += v[off + k];
  }
  for (let k = 0; k < n; k++) v[off + k] /= s;
}

/** np.nan_to_num(np.exp(raw - logsumexp(raw))) on one row, in place (GradientBoosting's multinomial deviance). */
export function logsumexpProbaRow(v: Float64Array, off: number, n: number): void {
  let mx = v[off];
  for (let k = 1; k < n; k++) if (v[off + k] > mx) mx = v[off + k];
  if (!Number.isFinite(mx)) mx = 0;
  let s = 0;
  for (let k = 0; k < n; k++) s += Math.exp(v[off + k] - mx);
  const lse = Math.log(s) + mx;
  for (let k = 0; k < n; k++) {
    const p = Math.exp(v[off + k] - lse);
    v[off + k] = p !== p ? 0 : p === Infinity ? Number.MAX_VALUE : p;
  }
}

/** np.argmax over one row: first maximum (NaN counts as the maximum, as numpy does). */
export function argmaxRow(v: ArrayLike<number>, off: number, n: number): number {
  let best = 0;
  for (let k = 0; k < n; k++) {
    const x = v[off + k];
    if (x !== x) return k;
    if (x > v[off + best]) best = k;
  }
  return best;
}
