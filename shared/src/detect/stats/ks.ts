/**
 * Two-sample Kolmogorov–Smirnov test as `scipy.stats.ks_2samp(a, b, alternative, method='asymp')` computes it —
 * the mode alibi-detect's KSDrift and TabularDrift call it with. The statistic is the largest gap between the two
 * empirical CDFs evaluated at every observed value (ties handled as `searchsorted(side='right')` does).
 */
import { kolmogorovSf } from './kolmogorov.js';

export type Alternative = 'two-sided' | 'less' | 'greater';

export interface KsResult {
  statistic: number;
  pValue: number;
}

/** Sorted float64 copy (NaN would make the CDFs meaningless; callers reject it first). */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/** np.round: halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** `a` and `b` sorted ascending (see sortedCopy). */
export function ks2sampSorted(a: Float64Array, b: Float64Array, alternative: Alternative = 'two-sided'): KsResult {
  const n1 = a.length, n2 = b.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('KS test needs non-empty samples');
  // Walk the merged values; at each distinct value both CDFs count every element <= it.
  let i = 0, j = 0, minD = Infinity, maxD = -Infinity;
  while (i < n1 || j < n2) {
    const v = j >= n2 || (i < n1 && a[i] <= b[j]) ? a[i] : b[j];
    while (i < n1 && a[i] <= v) i++;
    while (j < n2 && b[j] <= v) j++;
    const diff = i / n1 - j / n2;
    if (diff < minD) minD = diff;
    if (diff > maxD) maxD = diff;
  }
  const minS = Math.min(Math.max(-minD, 0), 1);
  const maxS = maxD;
  const d = alternative === 'less' || (alternative === 'two-sided' && minS > maxS) ? minS : maxS;
  const m = Math.max(n1, n2), n = Math.min(n1, n2);
  const en = (m * n) / (m + n);
  let p: number;
  if (alternative === 'two-sided') p = kolmogorovSf(roundHalfEven(en), d);
  else {
    // Hodges' approximation (his eq. 5.3); m must be the larger sample.
    const z = Math.sqrt(en) * d;
    p = Math.exp(-2 * z * z - (2 * z * (m + 2 * n)) / Math.sqrt(m * n * (m + n)) / 3);
  }
  return { statistic: d, pValue: Math.min(Math.max(p, 0), 1) };
}

export function ks2samp(a: ArrayLike<number>, b: ArrayLike<number>, alternative: Alternative = 'two-sided'): KsResult {
  return ks2sampSorted(sortedCopy(a), sortedCopy(b), alternative);
}
