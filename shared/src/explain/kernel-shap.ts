/**
 * KernelSHAP (Lundberg & Lee 2017) for any model: v(S) = link(mean over background rows b of f(x_S, b_S̄)).
 * With few features every coalition is evaluated and the Shapley formula gives the exact values (what shap's
 * KernelExplainer converges to once nsamples ≥ 2^M − 2); past that, coalitions are sampled by the Shapley kernel
 * and the efficiency-constrained weighted least squares is solved. Perturbed rows go to the model in large batches.
 */
import { rng } from '../random.js';
import { ExplainError } from './errors.js';

/** The model under explanation: rows in, nRows x width outputs out (any engine, local or remote). */
export type Predict = (X: Float64Array, nRows: number) => Promise<{ data: Float64Array; width: number }>;

export interface KernelShapOptions {
  link: 'identity' | 'logit';
  /** Enumerate every coalition up to this many features (2^M model rows per background row). */
  maxExactFeatures: number;
  /** Coalitions sampled above maxExactFeatures; shap's 'auto' is 2M + 2048. */
  nsamples?: number;
  /** Rows per call to the model. */
  batchRows: number;
  seed: number;
}

export interface KernelShapResult {
  values: Float64Array[];
  expected: Float64Array;
  /** link(f(x)) per row and output: what the values add up to. */
  prediction: Float64Array;
  exact: boolean;
}

const linkFn = (link: KernelShapOptions['link']) => (link === 'logit' ? (p: number) => Math.log(p / (1 - p)) : (p: number) => p);

export class KernelShap {
  private expectedRaw?: Promise<{ mean: Float64Array; width: number }>;

  constructor(
    private readonly background: Float64Array,
    private readonly nBackground: number,
    readonly nFeatures: number,
    private readonly predict: Predict,
    private readonly opts: KernelShapOptions,
  ) {
    if (nBackground < 1) throw new ExplainError('KernelShap needs at least one background row');
    if (background.length !== nBackground * nFeatures) throw new ExplainError(`background data is not ${nBackground} x ${nFeatures}`);
  }

  /** Mean model output over the background (before the link), computed once. */
  private baseline(): Promise<{ mean: Float64Array; width: number }> {
    this.expectedRaw ??= this.predict(this.background, this.nBackground).then(
      ({ data, width }) => {
        const mean = new Float64Array(width);
        for (let r = 0; r < this.nBackground; r++) for (let k = 0; k < width; k++) mean[k] += data[r * width + k] / this.nBackground;
        return { mean, width };
      },
      (err: unknown) => {
        this.expectedRaw = undefined; // a model that was unreachable may answer the next request
        throw err;
      },
    );
    return this.expectedRaw;
  }

  async explain(X: Float64Array, nRows: number, nsamples = this.opts.nsamples): Promise<KernelShapResult> {
    const M = this.nFeatures;
    if (X.length !== nRows * M) throw new ExplainError(`expected rows of ${M} features`);
    const { mean, width: K } = await this.baseline();
    const link = linkFn(this.opts.link);
    const expected = mean.map(link);
    const values = Array.from({ length: K }, () => new Float64Array(nRows * M));
    const prediction = new Float64Array(nRows * K);
    const exact = M <= this.opts.maxExactFeatures;
    for (let r = 0; r < nRows; r++) {
      const x = X.subarray(r * M, (r + 1) * M);
      const masks = exact ? allMasks(M) : sampledMasks(M, Math.min(nsamples ?? 2 * M + 2048, 2 ** Math.min(M, 30) - 2), this.opts.seed + r);
      // The full coalition is always evaluated: its value is f(x), which the values must add up to.
      const full = masks.length;
      masks.push(fullMask(M));
      const v = await this.coalitionValues(x, masks, K);
      for (let k = 0; k < K; k++) prediction[r * K + k] = link(v[full * K + k]);
      for (let k = 0; k < K; k++) {
        const vk = (i: number) => link(v[i * K + k]);
        const phi = exact ? shapleyFromAll(M, vk) : weightedLeastSquares(M, masks.slice(0, full), vk, expected[k], link(v[full * K + k]));
        values[k].set(phi, r * M);
      }
    }
    return { values, expected, prediction, exact };
  }

  /** Mean model output over the background for each coalition mask, masks.length x K. */
  private async coalitionValues(x: Float64Array, masks: Uint8Array[], K: number): Promise<Float64Array> {
    const M = this.nFeatures, B = this.nBackground;
    const out = new Float64Array(masks.length * K);
    const perBatch = Math.max(1, Math.floor(this.opts.batchRows / B));
    for (let m0 = 0; m0 < masks.length; m0 += perBatch) {
      const count = Math.min(perBatch, masks.length - m0);
      const rows = new Float64Array(count * B * M);
      for (let c = 0; c < count; c++) {
        const mask = masks[m0 + c];
        for (let b = 0; b < B; b++) {
          const o = (c * B + b) * M;
          for (let j = 0; j < M; j++) rows[o + j] = mask[j] ? x[j] : this.background[b * M + j];
        }
      }
      const { data, width } = await this.predict(rows, count * B);
      if (width !== K) throw new ExplainError(`the model answered ${width} outputs per row, then ${K}`);
      for (let c = 0; c < count; c++) {
        for (let b = 0; b < B; b++) for (let k = 0; k < K; k++) out[(m0 + c) * K + k] += data[(c * B + b) * K + k] / B;
      }
    }
    return out;
  }
}

function fullMask(M: number): Uint8Array {
  return new Uint8Array(M).fill(1);
}

/** Every subset of M features; mask i has feature j iff bit j of i is set. */
function allMasks(M: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < 2 ** M; i++) {
    const m = new Uint8Array(M);
    for (let j = 0; j < M; j++) m[j] = (i >> j) & 1;
    out.push(m);
  }
  return out;
}

/** φ_i = Σ_{S ∌ i} |S|!(M−|S|−1)!/M! (v(S ∪ {i}) − v(S)), with v indexed by the bitmask of S. */
function shapleyFromAll(M: number, v: (mask: number) => number): Float64Array {
  const fact = [1];
  for (let i = 1; i <= M; i++) fact[i] = fact[i - 1] * i;
  const weight = Array.from({ length: M }, (_, s) => (fact[s] * fact[M - s - 1]) / fact[M]);
  const phi = new Float64Array(M);
  for (let S = 0; S < 2 ** M; S++) {
    let size = 0;
    for (let j = 0; j < M; j++) size += (S >> j) & 1;
    const vs = v(S);
    for (let i = 0; i < M; i++) if (!((S >> i) & 1)) phi[i] += weight[size] * (v(S | (1 << i)) - vs);
  }
  return phi;
}

/** Coalitions drawn by the Shapley kernel: size s with probability ∝ (M−1)/(s(M−s)), then a uniform subset. */
function sampledMasks(M: number, n: number, seed: number): Uint8Array[] {
  const random = rng(seed);
  const w = Array.from({ length: M - 1 }, (_, i) => (M - 1) / ((i + 1) * (M - i - 1)));
  const total = w.reduce((a, b) => a + b, 0);
  const out: Uint8Array[] = [];
  const idx = Array.from({ length: M }, (_, i) => i);
  for (let i = 0; i < n; i++) {
    let u = random() * total;
    let s = 1;
    while (s < M - 1 && u > w[s - 1]) {
      u -= w[s - 1];
      s++;
    }
    for (let j = M - 1; j > 0; j--) {
      const k = Math.floor(random() * (j + 1));
      [idx[j], idx[k]] = [idx[k], idx[j]];
    }
    const m = new Uint8Array(M);
    for (let j = 0; j < s; j++) m[idx[j]] = 1;
    // The complement too (shap pairs sizes s and M − s): halves the variance for the same model calls.
    const c = m.map((b) => 1 - b);
    out.push(m, c);
    i++;
  }
  return out;
}

/**
 * min Σ_z (v(z) − φ0 − z·φ)² over sampled z (already kernel-distributed, so unit weights), subject to
 * Σφ = v(F) − φ0: the last feature is eliminated through the constraint and the normal equations solved.
 */
function weightedLeastSquares(M: number, masks: Uint8Array[], v: (i: number) => number, phi0: number, vFull: number): Float64Array {
  const delta = vFull - phi0;
  const P = M - 1;
  const A = new Float64Array(P * P);
  const b = new Float64Array(P);
  masks.forEach((z, i) => {
    const y = v(i) - phi0 - z[M - 1] * delta;
    for (let p = 0; p < P; p++) {
      const zp = z[p] - z[M - 1];
      b[p] += zp * y;
      for (let q = 0; q < P; q++) A[p * P + q] += zp * (z[q] - z[M - 1]);
    }
  });
  for (let p = 0; p < P; p++) A[p * P + p] += 1e-12; // keeps the system solvable when a feature was never varied
  const sol = solve(A, b, P);
  const phi = new Float64Array(M);
  phi.set(sol);
  phi[M - 1] = delta - sol.reduce((s, x) => s + x, 0);
  return phi;
}

/** Gaussian elimination with partial pivoting (P is the feature count: small). */
function solve(A: Float64Array, b: Float64Array, n: number): Float64Array {
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(A[r * n + c]) > Math.abs(A[p * n + c])) p = r;
    if (p !== c) {
      for (let k = 0; k < n; k++) [A[c * n + k], A[p * n + k]] = [A[p * n + k], A[c * n + k]];
      [b[c], b[p]] = [b[p], b[c]];
    }
    const d = A[c * n + c];
    for (let r = c + 1; r < n; r++) {
      const f = A[r * n + c] / d;
      if (f === 0) continue;
      for (let k = c; k < n; k++) A[r * n + k] -= f * A[c * n + k];
      b[r] -= f * b[c];
    }
  }
  const x = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r];
    for (let k = r + 1; k < n; k++) s -= A[r * n + k] * x[k];
    x[r] = s / A[r * n + r];
  }
  return x;
}
