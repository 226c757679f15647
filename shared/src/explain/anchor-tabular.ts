/**
 * AnchorTabular (Ribeiro et al. 2018, as alibi 0.9.4 runs it): numeric features binned at training percentiles; an
 * anchor is a set of "feature in the instance's bin" predicates; its precision is the share of training rows
 * satisfying it that the model labels like the instance; a beam search over anchor sizes picks candidates by
 * KL-LUCB and accepts the first (then the widest) whose precision bound clears the threshold. Samples go to the
 * model `batch_size` rows at a time; everything random comes from one seeded generator, so answers repeat.
 */
import type { Background } from './background.js';
import { ExplainError } from './errors.js';
import { EXPLAINER_VERSION, featureNames, type Explanation } from './explanation.js';
import { rng } from '../random.js';
import type { Predict } from './kernel-shap.js';

interface AnchorParams {
  threshold: number;
  delta: number;
  tau: number;
  batch_size: number;
  coverage_samples: number;
  beam_size: number;
  stop_on_first: boolean;
  max_anchor_size: number | null;
  min_samples_start: number;
  n_covered_ex: number;
  seed: number;
}

const DEFAULTS: AnchorParams = {
  threshold: 0.95,
  delta: 0.1,
  tau: 0.15,
  batch_size: 100,
  coverage_samples: 10000,
  beam_size: 1,
  stop_on_first: false,
  max_anchor_size: null,
  min_samples_start: 100,
  n_covered_ex: 10,
  seed: 0,
};

const EPS_STOP = 0.05;
/** Hard cap on model rows per explanation, so an undecidable anchor cannot sample forever. */
const MAX_SAMPLES_PER_ANCHOR = 20_000;

/** numpy.percentile with linear interpolation. */
function percentile(sorted: number[], p: number): number {
  const pos = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function kl(p: number, q: number): number {
  const e = 1e-15;
  p = Math.min(Math.max(p, e), 1 - e);
  q = Math.min(Math.max(q, e), 1 - e);
  return p * Math.log(p / q) + (1 - p) * Math.log((1 - p) / (1 - q));
}

/** Largest q ≥ p with KL(p, q) ≤ level, by 17 bisection steps (alibi's dup_bernoulli). */
function klUpper(p: number, level: number): number {
  let lm = p, um = Math.min(1, p + Math.sqrt(level / 2));
  for (let i = 0; i < 17; i++) {
    const qm = (um + lm) / 2;
    if (kl(p, qm) > level) um = qm;
    else lm = qm;
  }
  return um;
}

function klLower(p: number, level: number): number {
  let um = p, lm = Math.max(0, p - Math.sqrt(level / 2));
  for (let i = 0; i < 17; i++) {
    const qm = (um + lm) / 2;
    if (kl(p, qm) > level) lm = qm;
    else um = qm;
  }
  return lm;
}

/** alibi's compute_beta: α = 1.1, k = 405.5. */
function beta(nFeatures: number, t: number, delta: number): number {
  const temp = Math.log((405.5 * nFeatures * t ** 1.1) / delta);
  return temp + Math.log(temp);
}

interface Stats {
  features: number[];
  n: number;
  positives: number;
  coverage: number;
  coveredTrue: number[][];
  coveredFalse: number[][];
}

export class AnchorTabular {
  private readonly M: number;
  private readonly cuts: number[][];
  private readonly binNames: string[][];
  private readonly disc: Int32Array;
  private readonly names: string[];
  private readonly base: AnchorParams;
  private readonly discPerc: number[];

  constructor(
    private readonly train: Background,
    private readonly predict: Predict,
    config: Record<string, string>,
    names?: string[],
  ) {
    this.M = train.nFeatures;
    this.names = featureNames(this.M, names);
    this.base = parseParams(DEFAULTS, config);
    this.discPerc = config.disc_perc ? JSON.parse(config.disc_perc.startsWith('[') ? config.disc_perc : `[${config.disc_perc.replace(/[()]/g, '')}]`) : [25, 50, 75];
    const { X, nRows } = train;
    this.cuts = [];
    this.binNames = [];
    for (let j = 0; j < this.M; j++) {
      const col: number[] = [];
      for (let r = 0; r < nRows; r++) if (X[r * this.M + j] === X[r * this.M + j]) col.push(X[r * this.M + j]);
      col.sort((a, b) => a - b);
      if (!col.length) throw new ExplainError(`background column ${j} holds no numbers`);
      const qs = [...new Set(this.discPerc.map((p) => percentile(col, p)))].sort((a, b) => a - b);
      this.cuts.push(qs);
      const f = this.names[j];
      const q = qs.map((v) => v.toFixed(2));
      const bn = [`${f} <= ${q[0]}`];
      for (let i = 1; i < q.length; i++) bn.push(`${q[i - 1]} < ${f} <= ${q[i]}`);
      bn.push(`${f} > ${q[q.length - 1]}`);
      this.binNames.push(bn);
    }
    this.disc = new Int32Array(nRows * this.M);
    for (let r = 0; r < nRows; r++) for (let j = 0; j < this.M; j++) this.disc[r * this.M + j] = this.bin(j, X[r * this.M + j]);
  }

  /** numpy.searchsorted(cuts, v) (side left): a value equal to a cut belongs to the bin below it. */
  private bin(j: number, v: number): number {
    const c = this.cuts[j];
    let i = 0;
    while (i < c.length && c[i] < v) i++;
    return i;
  }

  private label(data: Float64Array, width: number, r: number): number {
    if (width === 1) return data[r];
    let best = 0;
    for (let k = 1; k < width; k++) if (data[r * width + k] > data[r * width + best]) best = k;
    return best;
  }

  async explain(x: Float64Array, params: Record<string, unknown>): Promise<Explanation> {
    const p = parseParams(this.base, params);
    const M = this.M;
    const random = rng(p.seed);
    const first = await this.predict(Float64Array.from(x), 1);
    const target = this.label(first.data, first.width, 0);
    const xbin = Array.from({ length: M }, (_, j) => this.bin(j, x[j]));
    const nTrain = this.train.nRows;

    // Coverage: share of training-drawn rows that satisfy the anchor.
    const covRows = Int32Array.from({ length: p.coverage_samples }, () => Math.floor(random() * nTrain));
    const coverageOf = (features: number[]): number => {
      let hit = 0;
      for (const r of covRows) if (features.every((j) => this.disc[r * M + j] === xbin[j])) hit++;
      return hit / covRows.length;
    };
    const matching = (features: number[]): number[] => {
      const out: number[] = [];
      for (let r = 0; r < nTrain; r++) if (features.every((j) => this.disc[r * M + j] === xbin[j])) out.push(r);
      return out;
    };

    let numPreds = 1;
    const stats = new Map<string, Stats>();
    const pools = new Map<string, number[]>();
    const key = (f: number[]) => [...f].sort((a, b) => a - b).join(',');
    const get = (features: number[]): Stats => {
      const k = key(features);
      let s = stats.get(k);
      if (!s) stats.set(k, (s = { features, n: 0, positives: 0, coverage: coverageOf(features), coveredTrue: [], coveredFalse: [] }));
      return s;
    };
    /** Draws n training rows satisfying the anchor (anchored values forced into the instance's bin if none do). */
    const sample = async (s: Stats, n: number): Promise<void> => {
      const k = key(s.features);
      let pool = pools.get(k);
      if (!pool) pools.set(k, (pool = matching(s.features)));
      const rows = new Float64Array(n * M);
      for (let i = 0; i < n; i++) {
        const r = pool.length ? pool[Math.floor(random() * pool.length)] : Math.floor(random() * nTrain);
        rows.set(this.train.X.subarray(r * M, (r + 1) * M), i * M);
        if (!pool.length) for (const j of s.features) rows[i * M + j] = x[j];
      }
      const { data, width } = await this.predict(rows, n);
      numPreds += n;
      for (let i = 0; i < n; i++) {
        const ok = this.label(data, width, i) === target;
        if (ok) s.positives++;
        const bucket = ok ? s.coveredTrue : s.coveredFalse;
        if (bucket.length < p.n_covered_ex) bucket.push(Array.from(rows.subarray(i * M, (i + 1) * M)));
      }
      s.n += n;
    };
    const mean = (s: Stats) => (s.n ? s.positives / s.n : 0);
    const bounds = (s: Stats, b: number) => ({ lb: klLower(mean(s), b / s.n), ub: klUpper(mean(s), b / s.n) });

    const empty = get([]);
    await sample(empty, p.min_samples_start);
    let best: Stats | null = null;
    if (mean(empty) >= p.threshold && bounds(empty, beta(M, 1, p.delta)).lb > p.threshold - EPS_STOP) best = empty;

    const maxSize = Math.min(p.max_anchor_size ?? M, M);
    let beam: Stats[] = [empty];
    const tried: Stats[] = [];
    // Beam search over anchor sizes; later sizes only try candidates wider (higher coverage) than the best so far.
    for (let size = 1; best !== empty && size <= maxSize; size++) {
      const bestCoverage = best?.coverage ?? -1;
      const seen = new Set<string>();
      const candidates: Stats[] = [];
      for (const a of beam) {
        for (let j = 0; j < M; j++) {
          if (a.features.includes(j)) continue;
          const f = [...a.features, j];
          if (seen.has(key(f))) continue;
          seen.add(key(f));
          const s = get(f);
          if (s.coverage > bestCoverage) candidates.push(s);
        }
      }
      if (!candidates.length) break;
      for (const s of candidates) if (s.n === 0) await sample(s, p.batch_size);
      const chosen = await this.klLucb(candidates, p, sample, mean, bounds);
      tried.push(...chosen);
      let stop = false;
      for (const s of chosen) {
        const b = beta(M, 1, p.delta);
        let { lb, ub } = bounds(s, b);
        // Sample until the bounds decide either way (alibi's epsilon_stop rule).
        while (
          s.n < MAX_SAMPLES_PER_ANCHOR &&
          ((mean(s) >= p.threshold && lb < p.threshold - EPS_STOP) || (mean(s) < p.threshold && ub >= p.threshold + EPS_STOP))
        ) {
          await sample(s, p.batch_size);
          ({ lb, ub } = bounds(s, b));
        }
        if (mean(s) >= p.threshold && lb > p.threshold - EPS_STOP && s.coverage > (best?.coverage ?? -1)) {
          best = s;
          if (s.coverage === 1 || p.stop_on_first) stop = true;
        }
      }
      if (stop) break;
      beam = chosen;
    }
    const success = best !== null;
    // No anchor qualified: alibi returns the best candidate by precision with success false.
    const result = best ?? tried.reduce((a, b) => (mean(b) > mean(a) ? b : a), tried[0] ?? empty);

    // Per anchor prefix: precision, coverage and examples, as get_anchor_metadata reports them.
    const prefixes: Stats[] = [];
    for (let i = 1; i <= result.features.length; i++) {
      const s = get(result.features.slice(0, i));
      if (s.n === 0) await sample(s, p.batch_size);
      prefixes.push(s);
    }
    const anchorNames = result.features.map((j) => this.binNames[j][xbin[j]]);
    const raw = {
      feature: result.features,
      mean: prefixes.map(mean),
      precision: prefixes.map(mean),
      coverage: prefixes.map((s) => s.coverage),
      examples: prefixes.map((s) => ({ covered_true: s.coveredTrue, covered_false: s.coveredFalse })),
      all_precision: mean(empty),
      num_preds: numPreds,
      success,
      names: anchorNames,
      prediction: [target],
      instance: Array.from(x),
      instances: [Array.from(x)],
    };
    return {
      meta: {
        name: 'AnchorTabular',
        type: ['blackbox'],
        explanations: ['local'],
        params: { ...p, disc_perc: this.discPerc },
        version: EXPLAINER_VERSION,
      },
      data: { anchor: anchorNames, precision: mean(result), coverage: result.coverage, raw },
    };
  }

  /** KL-LUCB: the beam_size candidates with the highest precision, sampled until their bounds separate by tau. */
  private async klLucb(
    candidates: Stats[],
    p: AnchorParams,
    sample: (s: Stats, n: number) => Promise<void>,
    mean: (s: Stats) => number,
    bounds: (s: Stats, b: number) => { lb: number; ub: number },
  ): Promise<Stats[]> {
    const k = Math.min(p.beam_size, candidates.length);
    if (candidates.length === k) return candidates;
    for (let t = 1; t < 10_000; t++) {
      const order = [...candidates].sort((a, b) => mean(b) - mean(a));
      const top = order.slice(0, k), rest = order.slice(k);
      const b = beta(candidates.length, t, p.delta);
      const ut = rest.reduce((a, c) => (bounds(c, b).ub > bounds(a, b).ub ? c : a));
      const lt = top.reduce((a, c) => (bounds(c, b).lb < bounds(a, b).lb ? c : a));
      if (bounds(ut, b).ub - bounds(lt, b).lb <= p.tau) return top;
      if (ut.n >= MAX_SAMPLES_PER_ANCHOR && lt.n >= MAX_SAMPLES_PER_ANCHOR) return top;
      await sample(ut, p.batch_size);
      await sample(lt, p.batch_size);
    }
    return [...candidates].sort((a, b) => mean(b) - mean(a)).slice(0, k);
  }
}

function parseParams(base: AnchorParams, given: Record<string, unknown>): AnchorParams {
  const p = { ...base };
  const num = (k: keyof AnchorParams, min: number, max: number, integer = false) => {
    const v = given[k];
    if (v === undefined || v === null) return;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) throw new ExplainError(`${k} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got '${String(v)}'`);
    (p as Record<string, unknown>)[k] = n;
  };
  num('threshold', 0, 1);
  num('delta', 1e-9, 1);
  num('tau', 1e-9, 1);
  num('batch_size', 1, 100_000, true);
  num('coverage_samples', 1, 1_000_000, true);
  num('beam_size', 1, 1000, true);
  num('max_anchor_size', 1, 10_000, true);
  num('min_samples_start', 1, 100_000, true);
  num('n_covered_ex', 0, 1000, true);
  num('seed', -(2 ** 31), 2 ** 32, true);
  if (given.stop_on_first !== undefined) {
    const s = String(given.stop_on_first).toLowerCase();
    if (!['yes', 'true', 't', 'y', '1', 'no', 'false', 'f', 'n', '0'].includes(s)) throw new ExplainError(`stop_on_first must be a boolean, got '${s}'`);
    p.stop_on_first = ['yes', 'true', 't', 'y', '1'].includes(s);
  }
  return p;
}
