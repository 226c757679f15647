/**
 * Chi-square test of independence on a 2×K table as `scipy.stats.chi2_contingency(table)` computes it: expected
 * counts from the margins, Pearson's statistic, Yates' continuity correction when there is one degree of freedom
 * (moving each count toward its expectation by at most 0.5), and statistic 0 / p-value 1 for a degenerate table.
 */
import { chi2Sf } from './special.js';

export interface Chi2Result {
  statistic: number;
  pValue: number;
  dof: number;
}

/** `rows` is a list of equal-length count rows; every column must have a non-zero total. */
export function chi2Contingency(rows: ArrayLike<number>[]): Chi2Result {
  const r = rows.length, k = rows[0].length;
  const rowSum = rows.map((row) => {
    let s = 0;
    for (let c = 0; c < k; c++) s += row[c];
    return s;
  });
  const colSum = new Float64Array(k);
  for (const row of rows) for (let c = 0; c < k; c++) colSum[c] += row[c];
  const total = rowSum.reduce((s, v) => s + v, 0);
  for (let c = 0; c < k; c++) if (colSum[c] === 0) throw new RangeError(`category ${c} has no observations in either sample`);
  for (const s of rowSum) if (s === 0) throw new RangeError('a sample with no observations');
  const dof = r * k - r - k + 1;
  if (dof === 0) return { statistic: 0, pValue: 1, dof };
  let stat = 0;
  for (let i = 0; i < r; i++) {
    for (let c = 0; c < k; c++) {
      // expected_freq: the outer product of the margins divided by the total, in that order.
      const e = (rowSum[i] * colSum[c]) / total;
      let o = rows[i][c];
      if (dof === 1) {
        const diff = e - o;
        o += Math.sign(diff) * Math.min(0.5, Math.abs(diff));
      }
      stat += ((o - e) * (o - e)) / e;
    }
  }
  return { statistic: stat, pValue: chi2Sf(stat, dof), dof };
}
