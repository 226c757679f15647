/**
 * Survival function of the one-sample two-sided Kolmogorov–Smirnov statistic D_n for integer n — what
 * `scipy.stats.kstwo.sf(d, n)` returns, and so what `ks_2samp(method='asymp')` reports for the two-sided test.
 * The branch structure follows Simard & L'Ecuyer (2011), "Computing the two-sided Kolmogorov-Smirnov distribution"
 * (the same choice of method per (n, x) region as scipy, so the approximation errors are the same too):
 * Ruben–Gambino closed forms at the edges, the Durbin matrix (Marsaglia–Tsang–Wang 2003) and Pomeranz (1974)
 * recursions for small n·x², Pelz–Good (1976) asymptotics for large n, and 2 × Smirnov's one-sided tail above.
 */
import { logFactorial } from './special.js';

const E128 = 128;
const EP128 = 2 ** 128;
const EM128 = 2 ** -128;
const SQRT2PI = Math.sqrt(2 * Math.PI);
const LOG_2PI = Math.log(2 * Math.PI);
const MIN_LOG = -708;
const PI2 = Math.PI ** 2;
const PI4 = Math.PI ** 4;
const PI6 = Math.PI ** 6;

const clip = (p: number): number => (p < 0 ? 0 : p > 1 ? 1 : p);

/** log(n! / n^n) by Stirling's series with n·log(n) removed up front (no cancellation). */
function logNFactorialDivNPowN(n: number): number {
  const rn = 1 / n, r2 = rn / n;
  const c = [-2.955065359477124183e-2, 6.4102564102564102564e-3, -1.9175269175269175269e-3, 8.4175084175084175084e-4,
    -5.952380952380952381e-4, 7.9365079365079365079e-4, -2.7777777777777777778e-3, 8.3333333333333333333e-2];
  let poly = 0;
  for (const k of c) poly = poly * r2 + k;
  return Math.log(n) / 2 - n + LOG_2PI / 2 + rn * poly;
}

/** P(D_n+ >= x), the one-sided tail (Birnbaum & Tingey's exact sum, terms in log space). */
export function smirnov(n: number, x: number): number {
  if (!(x > 0)) return 1;
  if (x >= 1) return 0;
  const jmax = Math.floor(n * (1 - x) + 1e-12 * n);
  const lnN = logFactorial(n);
  let sum = 0;
  for (let j = 0; j <= jmax; j++) {
    const a = 1 - x - j / n; // base of the (n - j) power
    const b = x + j / n;
    if (a <= 0 && n - j > 0) continue;
    let lt = lnN - logFactorial(j) - logFactorial(n - j) + (j - 1) * Math.log(b);
    if (n - j > 0) lt += (n - j) * Math.log(a);
    sum += Math.exp(lt);
  }
  return clip(x * sum);
}

/** Pr(D_n <= d) by the Durbin matrix H^n (Marsaglia–Tsang–Wang), with power-of-two rescaling. */
function cdfDurbin(n: number, d: number): number {
  if (d >= 1) return 1;
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;
  const v = new Float64Array(m), w = new Float64Array(m);
  let fac = 1;
  for (let j = 1; j <= m; j++) {
    w[j - 1] = fac;
    fac /= j;
    v[j - 1] = (1 - h ** j) * fac;
  }
  const tt = Math.max(2 * h - 1, 0) ** m - 2 * h ** m;
  v[m - 1] = (1 + tt) * fac;
  let H: Float64Array<ArrayBuffer> = new Float64Array(m * m);
  for (let i = 1; i < m; i++) for (let r = i - 1; r < m; r++) H[r * m + i] = w[r - (i - 1)];
  for (let r = 0; r < m; r++) H[r * m] = v[r];
  for (let c = 0; c < m; c++) H[(m - 1) * m + c] = v[m - 1 - c];
  let P: Float64Array<ArrayBuffer> = new Float64Array(m * m);
  for (let i = 0; i < m; i++) P[i * m + i] = 1;
  let nn = n, expnt = 0, hExpnt = 0;
  while (nn > 0) {
    if (nn % 2) {
      P = matmul(P, H, m);
      expnt += hExpnt;
    }
    H = matmul(H, H, m);
    hExpnt *= 2;
    if (Math.abs(H[(k - 1) * m + k - 1]) > EP128) {
      for (let i = 0; i < H.length; i++) H[i] /= EP128;
      hExpnt += E128;
    }
    nn = Math.floor(nn / 2);
  }
  let p = P[(k - 1) * m + k - 1];
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < EM128) {
      p *= EP128;
      expnt -= E128;
    }
  }
  if (expnt !== 0) p *= 2 ** expnt;
  return clip(p);
}

function matmul(a: Float64Array, b: Float64Array, m: number): Float64Array<ArrayBuffer> {
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let l = 0; l < m; l++) {
      const av = a[i * m + l];
      if (av === 0) continue;
      for (let j = 0; j < m; j++) out[i * m + j] += av * b[l * m + j];
    }
  }
  return out;
}

function pomeranzBounds(i: number, n: number, ll: number, ceilf: number, roundf: number): [number, number] {
  let j1: number, j2: number;
  if (i === 0) {
    j1 = -ll - ceilf - 1;
    j2 = ll + ceilf - 1;
  } else {
    const half = Math.floor((i + 1) / 2);
    if ((i + 1) % 2 === 0) {
      if (half === n + 1) {
        j1 = n - ll - ceilf - 1;
        j2 = n + ll + ceilf - 1;
      } else {
        j1 = half - 1 - ll - roundf - 1;
        j2 = half + ll - 1 + ceilf - 1;
      }
    } else {
      j1 = half - 1 - ll - 1;
      j2 = half + ll + roundf - 1;
    }
  }
  return [Math.max(j1 + 2, 0), Math.min(j2, n)];
}

/** Pr(D_n <= x) by Pomeranz's recursion: rows are convolutions with (almost) Poisson probabilities. */
function cdfPomeranz(n: number, x: number): number {
  const t = n * x;
  const ll = Math.floor(t);
  const f = t - ll;
  const g = Math.min(f, 1 - f);
  const ceilf = f > 0 ? 1 : 0;
  const roundf = f > 0.5 ? 1 : 0;
  const npw = 2 * (ll + 1);
  const gp = new Float64Array(npw), twog = new Float64Array(npw), onem2g = new Float64Array(npw);
  gp[0] = twog[0] = onem2g[0] = 1;
  for (let k = 1; k < npw; k++) {
    gp[k] = (gp[k - 1] * (g / n)) / k;
    twog[k] = (twog[k - 1] * ((2 * g) / n)) / k;
    onem2g[k] = (onem2g[k - 1] * ((1 - 2 * g) / n)) / k;
  }
  let V0 = new Float64Array(npw), V1 = new Float64Array(npw);
  V1[0] = 1;
  let V0s = 0, V1s = 0, expnt = 0;
  let [j1, j2] = pomeranzBounds(0, n, ll, ceilf, roundf);
  for (let i = 1; i < 2 * n + 2; i++) {
    const k1 = j1;
    [V0, V1] = [V1, V0];
    [V0s, V1s] = [V1s, V0s];
    V1.fill(0);
    [j1, j2] = pomeranzBounds(i, n, ll, ceilf, roundf);
    const pw = i === 1 || i === 2 * n + 1 ? gp : i % 2 ? twog : onem2g;
    const len = j2 - k1 + 1;
    if (len > 0) {
      // Entries conv[j1-k1 .. j2-k1] of the full convolution of V0[k1-V0s ..][:len] with pw[:len].
      const a0 = k1 - V0s;
      const aLen = Math.min(len, npw - a0);
      let max = 0;
      for (let c = 0; c <= j2 - j1; c++) {
        const tIdx = j1 - k1 + c;
        let s = 0;
        for (let q = Math.max(0, tIdx - len + 1); q <= Math.min(tIdx, aLen - 1); q++) s += V0[a0 + q] * pw[tIdx - q];
        V1[c] = s;
        if (s > max) max = s;
      }
      if (max > 0 && max < EM128) {
        for (let c = 0; c < npw; c++) V1[c] *= EP128;
        expnt -= E128;
      }
      V1s = V0s + j1 - k1;
    }
  }
  let ans = V1[n - V1s];
  for (let k = 1; k <= n; k++) {
    if (Math.abs(ans) > EP128) {
      ans *= EM128;
      expnt += E128;
    }
    ans *= k;
  }
  if (expnt !== 0) ans *= 2 ** expnt;
  return clip(ans);
}

/** Pelz–Good asymptotic series for Pr(D_n <= x) (or its complement when `cdf` is false). */
function pelzGood(n: number, x: number, cdf: boolean): number {
  if (x <= 0) return cdf ? 0 : 1;
  if (x >= 1) return cdf ? 1 : 0;
  const z = Math.sqrt(n) * x;
  const z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
  const qlog = -PI2 / 8 / z2;
  if (qlog < MIN_LOG) return cdf ? 0 : 1;
  let q = Math.exp(qlog);
  const k1a = -z2, k1b = PI2 / 4;
  const k2a = 6 * z6 + 2 * z4, k2b = ((2 * z4 - 5 * z2) * PI2) / 4, k2c = (PI4 * (1 - 2 * z2)) / 16;
  const k3d = (PI6 * (5 - 30 * z2)) / 64, k3c = (PI4 * (-60 * z2 + 212 * z4)) / 16;
  const k3b = (PI2 * (135 * z4 - 96 * z6)) / 4, k3a = -30 * z6 - 90 * z ** 8;
  const K = [0, 0, 0, 0];
  const maxk = Math.ceil((16 * z) / Math.PI);
  for (let k = maxk; k > 0; k--) {
    const m = 2 * k - 1, m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
    const qp = q ** (8 * k);
    const c = [1, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6];
    for (let i = 0; i < 4; i++) K[i] = K[i] * qp + c[i];
  }
  const den = [z, 6 * z4, 72 * z ** 7, 6480 * z ** 10];
  for (let i = 0; i < 4; i++) K[i] = (K[i] * q * SQRT2PI) / den[i];
  q = Math.exp(-PI2 / 2 / z2);
  let k2extra = 0, k3extra = 0;
  const s3z = Math.sqrt(3) * z;
  for (let k = maxk; k > 0; k--) {
    const qk = q ** (k * k);
    k2extra += k * k * qk;
    const kpi = Math.PI * k;
    k3extra += (s3z + kpi) * (s3z - kpi) * k * k * qk;
  }
  K[2] += k2extra * ((PI2 * SQRT2PI) / (-36 * z3));
  K[3] += k3extra * ((PI2 * SQRT2PI) / (216 * z6));
  for (let i = 0; i < 4; i++) K[i] /= n ** (i / 2);
  if (!cdf) {
    for (let i = 0; i < 4; i++) K[i] = -K[i];
    K[0] += 1;
  }
  return K[0] + K[1] + K[2] + K[3];
}

/** P(D_n >= x): `scipy.stats.kstwo.sf(x, n)`. */
export function kolmogorovSf(n: number, x: number): number {
  if (!Number.isInteger(n) || n <= 0 || Number.isNaN(x)) return NaN;
  if (x >= 1) return 0;
  if (x <= 0) return 1;
  const t = n * x;
  if (t <= 1) {
    if (t <= 0.5) return 1;
    let prob: number;
    if (n <= 140) {
      prob = 1;
      for (let i = 1; i <= n; i++) prob *= i * (1 / n) * (2 * t - 1);
    } else prob = Math.exp(logNFactorialDivNPowN(n) + n * Math.log(2 * t - 1));
    return clip(1 - prob);
  }
  if (t >= n - 1) return clip(2 * (1 - x) ** n);
  if (x >= 0.5) return clip(2 * smirnov(n, x));
  const nx2 = t * x;
  if (n <= 140) {
    if (nx2 <= 0.754693) return clip(1 - cdfDurbin(n, x));
    if (nx2 <= 4) return clip(1 - cdfPomeranz(n, x));
    return clip(2 * smirnov(n, x));
  }
  if (nx2 >= 370) return 0;
  if (nx2 >= 2.2) return clip(2 * smirnov(n, x));
  if (nx2 >= 18) return 0;
  if (n <= 100000 && n * x ** 1.5 <= 1.4) return clip(1 - cdfDurbin(n, x));
  return clip(pelzGood(n, x, false));
}
