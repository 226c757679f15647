/**
 * Univariate drift detectors with alibi-detect's semantics (v0.11 `cd/ks.py`, `cd/chisquare.py`, `cd/tabular.py`,
 * `cd/base.py BaseUnivariateDrift`): one test per feature against the reference data — two-sample KS for numeric
 * features, a chi-square contingency test for categorical ones — then a batch decision with the Bonferroni or
 * Benjamini–Hochberg (fdr) correction, or one decision per feature. p-values and distances are reported as float32,
 * as alibi-detect stores them.
 */
import { chi2Contingency } from './stats/chi2.js';
import { ks2sampSorted, sortedCopy, type Alternative } from './stats/ks.js';
import { column, type Matrix } from './matrix.js';

export type Correction = 'bonferroni' | 'fdr';
export type DriftType = 'batch' | 'feature';
export type DriftName = 'KSDrift' | 'ChiSquareDrift' | 'TabularDrift';

export interface DriftOptions {
  pVal: number;
  correction: Correction;
  alternative: Alternative;
  /** Categorical features and their categories (null: the values seen in the reference). */
  categories: Map<number, number[] | null>;
}

export interface DriftData {
  is_drift: number | number[];
  distance: number[] | null;
  p_val: number[] | null;
  threshold: number | number[] | null;
}

interface Feature {
  kind: 'ks' | 'chi2';
  sorted?: Float64Array;
  /** chi2: reference count per category value. */
  refCounts?: Map<number, number>;
  refCategories?: number[];
}

/** The batch decision: Bonferroni (any p < p_val / n) or Benjamini–Hochberg at level p_val. */
export function correct(pVals: number[], pVal: number, correction: Correction): { isDrift: number; threshold: number | number[] } {
  const n = pVals.length;
  if (correction === 'bonferroni') {
    const threshold = pVal / n;
    return { isDrift: pVals.some((p) => p < threshold) ? 1 : 0, threshold };
  }
  const sorted = [...pVals].sort((a, b) => a - b);
  const q = sorted.map((_, i) => (pVal * (i + 1)) / n);
  let last = -1;
  for (let i = 0; i < n; i++) if (sorted[i] < q[i]) last = i;
  // As alibi-detect's fdr(): with no p-value below its line, the whole line is the threshold.
  return last < 0 ? { isDrift: 0, threshold: q } : { isDrift: 1, threshold: q[last] };
}

export class UnivariateDrift {
  readonly features: Feature[];
  readonly nFeatures: number;

  constructor(readonly name: DriftName, readonly reference: Matrix, readonly options: DriftOptions) {
    if (reference.rows === 0) throw new RangeError('the reference data has no rows');
    this.nFeatures = reference.cols;
    for (const f of options.categories.keys()) {
      if (!Number.isInteger(f) || f < 0 || f >= reference.cols) throw new RangeError(`categorical feature ${f} is not a column of the reference (${reference.cols} features)`);
    }
    this.features = [];
    for (let f = 0; f < reference.cols; f++) {
      const col = column(reference, f);
      if (options.categories.has(f)) {
        const refCounts = countValues(col);
        const given = options.categories.get(f);
        this.features.push({ kind: 'chi2', refCounts, refCategories: given ?? [...refCounts.keys()].sort((a, b) => a - b) });
      } else this.features.push({ kind: 'ks', sorted: sortedCopy(col) });
    }
  }

  /** Per-feature p-values and distances (float64, before alibi-detect's float32 storage). */
  score(x: Matrix): { pVals: number[]; distances: number[] } {
    if (x.cols !== this.nFeatures) throw new RangeError(`expected ${this.nFeatures} features per instance, got ${x.cols}`);
    if (x.rows === 0) throw new RangeError('no instances to test');
    const pVals: number[] = [], distances: number[] = [];
    for (let f = 0; f < this.nFeatures; f++) {
      const feat = this.features[f];
      const col = column(x, f);
      if (feat.kind === 'ks') {
        const r = ks2sampSorted(feat.sorted!, sortedCopy(col), this.options.alternative);
        pVals.push(r.pValue);
        distances.push(r.statistic);
      } else {
        const counts = countValues(col);
        // Union of the reference categories and the batch's values; a category neither sample has is dropped
        // (scipy refuses a zero expected count).
        const cats = new Set([...feat.refCategories!, ...counts.keys()]);
        const ref: number[] = [], obs: number[] = [];
        for (const c of cats) {
          const a = feat.refCounts!.get(c) ?? 0, b = counts.get(c) ?? 0;
          if (a + b === 0) continue;
          ref.push(a);
          obs.push(b);
        }
        const r = chi2Contingency([ref, obs]);
        pVals.push(r.pValue);
        distances.push(r.statistic);
      }
    }
    return { pVals, distances };
  }

  predict(x: Matrix, opts: { driftType?: DriftType; returnPVal?: boolean; returnDistance?: boolean } = {}): DriftData {
    const { driftType = 'batch', returnPVal = true, returnDistance = true } = opts;
    const s = this.score(x);
    const pVals = s.pVals.map(Math.fround), distances = s.distances.map(Math.fround);
    let isDrift: number | number[], threshold: number | number[];
    if (driftType === 'feature') {
      isDrift = pVals.map((p) => (p < this.options.pVal ? 1 : 0));
      threshold = this.options.pVal;
    } else {
      const c = correct(pVals, this.options.pVal, this.options.correction);
      isDrift = c.isDrift;
      threshold = c.threshold;
    }
    return {
      is_drift: isDrift,
      distance: returnDistance ? distances : null,
      p_val: returnPVal ? pVals : null,
      threshold: returnPVal ? threshold : null,
    };
  }
}

function countValues(col: Float64Array): Map<number, number> {
  const m = new Map<number, number>();
  for (const v of col) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}
