/**
 * Online Mahalanobis outlier detector with alibi-detect's update rule (v0.11 `od/mahalanobis.py`): every scored
 * batch updates the running mean and covariance; scores are Mahalanobis distances in the space of the top
 * principal components of the updated covariance, with the inverse covariance updated row by row (rank one,
 * Sherman–Morrison) so each row is scored against the statistics of the rows before it. Rows are clipped to
 * mean ± std_clip·stdev (of the previous batches) for the statistics once more than start_clip rows were seen.
 * A row scores 0 while the projected covariance is still singular (|det| <= 1e-8).
 */
import { detInverse, symmetricEigen } from './linalg.js';
import type { Matrix } from './matrix.js';

const EPSILON = 1e-8;

export interface MahalanobisParams {
  nComponents: number;
  stdClip: number;
  startClip: number;
  maxN: number | null;
}

export interface MahalanobisState {
  /** null until the first batch (alibi-detect's scalar 0). */
  mean: Float64Array | null;
  cov: Float64Array | null;
  n: number;
  clip: [Float64Array, Float64Array] | null;
}

export class Mahalanobis {
  constructor(readonly params: MahalanobisParams, public state: MahalanobisState, readonly nFeatures: number) {}

  static fresh(params: MahalanobisParams, nFeatures: number): Mahalanobis {
    return new Mahalanobis(params, { mean: null, cov: null, n: 0, clip: null }, nFeatures);
  }

  /** Scores a batch and folds it into the running statistics. */
  score(x: Matrix): Float64Array {
    const d = x.cols, B = x.rows;
    if (d !== this.nFeatures) throw new RangeError(`expected ${this.nFeatures} features per instance, got ${d}`);
    if (B === 0) return new Float64Array(0);
    const st = this.state, p = this.params;
    const nc = Math.min(p.nComponents, d);
    const n = p.maxN !== null ? Math.min(st.n, p.maxN) : st.n;
    const mean = st.mean ?? new Float64Array(d);
    const X = x.data;
    let Xc = X;
    if (st.n > p.startClip && st.clip) {
      Xc = new Float64Array(X.length);
      const [lo, hi] = st.clip;
      for (let r = 0; r < B; r++) for (let f = 0; f < d; f++) {
        const v = X[r * d + f];
        Xc[r * d + f] = v < lo[f] ? lo[f] : v > hi[f] ? hi[f] : v;
      }
    }
    // Running means: offset[k] is the mean before row k, newMeans[k] after it.
    const offset = new Float64Array(B * d), newMeans = new Float64Array(B * d);
    const cum = new Float64Array(d);
    for (let k = 0; k < B; k++) {
      const coef = (k + 1) / (k + n + 1);
      for (let f = 0; f < d; f++) {
        cum[f] += Xc[k * d + f];
        offset[k * d + f] = k === 0 ? mean[f] : newMeans[(k - 1) * d + f];
        newMeans[k * d + f] = mean[f] + coef * (cum[f] / (k + 1) - mean[f]);
      }
    }
    const S = new Float64Array(d * d), diff = new Float64Array(d);
    for (let k = 0; k < B; k++) {
      const coef = (n + k) / (n + k + 1);
      for (let f = 0; f < d; f++) diff[f] = Xc[k * d + f] - offset[k * d + f];
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) S[i * d + j] += coef * (diff[i] * diff[j]);
    }
    const denom = n + Math.max(1, B - 1);
    const covBatch = new Float64Array(d * d);
    for (let i = 0; i < d * d; i++) covBatch[i] = ((n - 1) / denom) * (st.cov ? st.cov[i] : 0) + (1 / denom) * S[i];
    // Top nc eigenvectors (ascending eigenvalue order, as scipy.linalg.eigh with eigvals=(d-nc, d-1)).
    const eig = symmetricEigen(covBatch, d);
    const V = new Float64Array(d * nc);
    for (let r = 0; r < d; r++) for (let c = 0; c < nc; c++) V[r * nc + c] = eig.vectors[r * d + (d - nc + c)];
    const proj = (src: Float64Array, rows: number): Float64Array => {
      const out = new Float64Array(rows * nc);
      for (let r = 0; r < rows; r++) for (let c = 0; c < nc; c++) {
        let s = 0;
        for (let f = 0; f < d; f++) s += src[r * d + f] * V[f * nc + c];
        out[r * nc + c] = s;
      }
      return out;
    };
    const px = proj(X, B), pxc = Xc === X ? px : proj(Xc, B), pm = proj(offset, B);
    const projCov = new Float64Array(nc * nc);
    if (st.cov) {
      const C = st.cov;
      for (let a = 0; a < nc; a++) for (let b = 0; b < nc; b++) {
        let s = 0;
        for (let i = 0; i < d; i++) {
          let t = 0;
          for (let j = 0; j < d; j++) t += C[i * d + j] * V[j * nc + b];
          s += V[i * nc + a] * t;
        }
        projCov[a * nc + b] = s;
      }
    }
    // Per-row rank-one terms in PC space and the row-by-row inverse covariance. Buffers are reused across rows
    // (the loop runs once per instance): b/prevB and rowInv/prevInv swap, c/BC/CBC are scratch.
    const kk = nc * nc;
    let b = new Float64Array(kk), prevB = new Float64Array(kk);
    let rowInv = new Float64Array(kk), prevInv = new Float64Array(kk);
    const c = new Float64Array(kk), BC = new Float64Array(kk), CBC = new Float64Array(kk), dv = new Float64Array(nc);
    const scores = new Float64Array(B);
    let haveInv = false;
    for (let i = 0; i < B; i++) {
      const bc = 1 / (n + i + 1);
      for (let a = 0; a < nc; a++) dv[a] = pxc[i * nc + a] - pm[i * nc + a];
      for (let a = 0; a < nc; a++) for (let q = 0; q < nc; q++) b[a * nc + q] = bc * (dv[a] * dv[q]);
      let scored = false;
      if (!haveInv) {
        const di = detInverse(projCov, nc);
        if (Math.abs(di.det) > EPSILON && di.inv) {
          rowInv.set(di.inv);
          haveInv = scored = true;
        } else if (n + i !== 0) {
          const f = (n + i - 1) / (n + i);
          for (let q = 0; q < kk; q++) projCov[q] = f * projCov[q] + b[q];
        }
      } else {
        const f = (n + i - 1) / (n + i - 2);
        for (let q = 0; q < kk; q++) c[q] = f * prevInv[q];
        // Sherman–Morrison with the previous row's term: c - c·B·c / (1 + tr(B·c)).
        mulInto(prevB, c, BC, nc);
        let tr = 0;
        for (let q = 0; q < nc; q++) tr += BC[q * nc + q];
        mulInto(c, BC, CBC, nc);
        for (let q = 0; q < kk; q++) rowInv[q] = c[q] - (1 / (1 + tr)) * CBC[q];
        scored = true;
      }
      if (scored) {
        let s = 0;
        for (let a = 0; a < nc; a++) {
          let t = 0;
          for (let q = 0; q < nc; q++) t += rowInv[a * nc + q] * (px[i * nc + q] - pm[i * nc + q]);
          s += (px[i * nc + a] - pm[i * nc + a]) * t;
        }
        scores[i] = s;
      } else rowInv.fill(0); // a row without an inverse keeps alibi-detect's zero matrix
      [prevInv, rowInv] = [rowInv, prevInv];
      [prevB, b] = [b, prevB];
    }
    // Fold the batch in.
    const lastMean = newMeans.slice((B - 1) * d, B * d);
    st.mean = lastMean;
    st.cov = covBatch;
    st.n += B;
    if (st.n > p.startClip) {
      const lo = new Float64Array(d), hi = new Float64Array(d);
      for (let f = 0; f < d; f++) {
        const sd = Math.sqrt(covBatch[f * d + f]);
        lo[f] = lastMean[f] - p.stdClip * sd;
        hi[f] = lastMean[f] + p.stdClip * sd;
      }
      st.clip = [lo, hi];
    }
    return scores;
  }
}

function mulInto(a: Float64Array, b: Float64Array, o: Float64Array, n: number): void {
  o.fill(0);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) {
    const v = a[i * n + k];
    for (let j = 0; j < n; j++) o[i * n + j] += v * b[k * n + j];
  }
}
