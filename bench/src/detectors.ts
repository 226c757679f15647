/**
 * Detector throughput, in process: Mahalanobis and IsolationForest outlier scoring (rows/s) and KSDrift
 * (feature tests/s at a 10,000 x 10 reference), each against Python on the same rows in the same run, single
 * thread (OMP/OpenBLAS/MKL threads 1): sklearn's IsolationForest.score_samples, sklearn's
 * EllipticEnvelope.score_samples and a numpy port of alibi-detect's online Mahalanobis rule, and scipy's ks_2samp
 * looped over features as alibi-detect does. Returns markdown lines for the bench report.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { fitDetector, toNpy } from '@modelfleet/shared/detect/fit';
import type { Matrix } from '@modelfleet/shared/detect/matrix';
import { findPython } from '@modelfleet/shared/python/interpreter';

const PY_DIR = fileURLToPath(new URL('../../shared/python', import.meta.url));

function data(rows: number, cols: number, seed: number, shift = 0): Matrix {
  let a = seed >>> 0;
  const u = () => ((a = (Math.imul(a, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  const d = new Float64Array(rows * cols);
  for (let i = 0; i < d.length; i++) d[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()) * (1 + (i % cols) / 10) + shift;
  return { data: d, rows, cols };
}

/** Calls fn until `seconds` pass, after as long a warm-up (V8 optimises the loops first); returns calls per second. */
function rate(fn: () => void, seconds: number): number {
  const warm = Date.now() + seconds * 1000;
  do fn();
  while (Date.now() < warm);
  let n = 0;
  const t0 = process.hrtime.bigint();
  let el = 0;
  do {
    fn();
    n++;
    el = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (el < seconds);
  return n / el;
}

const PYTHON = String.raw`
import sys, time, json, joblib, numpy as np
sys.path.insert(0, sys.argv[1])
from scipy.stats import ks_2samp
from scipy.linalg import eigh
from sklearn.ensemble import IsolationForest
from sklearn.covariance import EllipticEnvelope
d, secs = sys.argv[2], float(sys.argv[3])
ref, X = np.load(d + '/ref.npy'), np.load(d + '/x.npy')
def rate(fn):
    w = time.perf_counter() + secs
    while time.perf_counter() < w: fn()
    n = 0; t0 = time.perf_counter()
    while True:
        fn(); n += 1; el = time.perf_counter() - t0
        if el >= secs: return n / el
iso = IsolationForest(n_estimators=100, random_state=0).fit(ref)
joblib.dump(iso, d + '/iso.joblib')
ee = EllipticEnvelope(random_state=0).fit(ref)
out = {}
out['iforest'] = rate(lambda: iso.score_samples(X)) * len(X)
out['elliptic'] = rate(lambda: ee.score_samples(X)) * len(X)
# alibi-detect's online Mahalanobis update, in numpy (the work alibi-detect's score() does per batch).
class M:
    def __init__(s, d):
        s.mean, s.C, s.n = np.zeros(d), np.zeros((d, d)), 0
    def score(s, X, k=3):
        B, d = X.shape; n = s.n
        idx = np.arange(B)
        run = s.mean + ((idx + 1.0) / (idx + n + 1.0))[:, None] * (np.cumsum(X, axis=0) / (idx + 1.0)[:, None] - s.mean)
        before = np.vstack([s.mean[None, :], run[:-1]]); dev = X - before
        coefs = ((n + idx) / (n + idx + 1.0)).reshape((B, 1, 1))
        S = (coefs * np.matmul(dev[:, :, None], dev[:, None, :])).sum(axis=0)
        den = n + max(1, B - 1.0); cov = (n - 1.0) / den * s.C + 1.0 / den * S
        w, V = eigh(cov, subset_by_index=(d - k, d - 1))
        px, pm = X @ V, before @ V; pc = V.T @ s.C @ V
        Bs = (1.0 / (n + idx + 1.0)).reshape((B, 1, 1)) * np.matmul((px - pm)[:, :, None], (px - pm)[:, None, :])
        inv = np.zeros_like(Bs); c = np.linalg.inv(pc); inv[0] = c
        for i in range(1, B):
            c = (n + i - 1.0) / (n + i - 2.0) * inv[i - 1]; bc = Bs[i - 1] @ c
            inv[i] = c - 1.0 / (1.0 + np.trace(bc)) * (c @ bc)
        s.mean, s.C, s.n = run[-1], cov, n + B
        diff = px - pm
        return np.matmul(diff[:, None, :], np.matmul(inv, diff[:, :, None])).reshape(B)
m = M(ref.shape[1]); m.mean, m.C, m.n = ref.mean(axis=0), np.cov(ref.T), len(ref)  # primed like a fitted detector
out['mahalanobis'] = rate(lambda: m.score(X[:1000])) * 1000
batch = X[:1000]
out['ks'] = rate(lambda: [ks_2samp(ref[:, f], batch[:, f], alternative='two-sided', method='asymp') for f in range(ref.shape[1])]) * ref.shape[1]
print(json.dumps(out))
`;

export async function benchDetectors(quick: boolean): Promise<string[]> {
  const secs = quick ? 0.5 : 3;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-bench-detect-'));
  const ref = data(10_000, 10, 1), x = data(10_000, 10, 2, 0.1);
  writeFileSync(path.join(dir, 'ref.npy'), toNpy(ref));
  writeFileSync(path.join(dir, 'x.npy'), toNpy(x));
  const py = await findPython(['sklearn', 'scipy', 'joblib']);
  const env = { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
  const { stdout } = await promisify(execFile)(py.bin, ['-c', PYTHON, PY_DIR, dir, String(secs)], { env, maxBuffer: 1 << 26, timeout: 600_000 });
  const p = JSON.parse(stdout) as { iforest: number; elliptic: number; mahalanobis: number; ks: number };

  const iso = await fitDetector('IForest', ref, { model: path.join(dir, 'iso.joblib'), threshold: 0 });
  const maha = await fitDetector('Mahalanobis', ref, {});
  const ks = await fitDetector('KSDrift', ref, {});
  if (iso.name !== 'IForest' || maha.name !== 'Mahalanobis' || ks.kind !== 'drift') throw new Error('unexpected detectors');
  const batch: Matrix = { data: x.data.subarray(0, 1000 * 10), rows: 1000, cols: 10 };
  const ours = {
    iforest: rate(() => iso.impl.scoreSamples(x), secs) * x.rows,
    mahalanobis: rate(() => maha.impl.score(batch), secs) * 1000,
    ks: rate(() => ks.impl.score(batch), secs) * 10,
  };
  const f = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
  const lines = [
    '| detector workload | modelfleet | Python (same rows, 1 thread) | ratio |',
    '|---|---:|---:|---:|',
    `| IForest score, 100 trees, 10k rows x 10 | ${f(ours.iforest)} rows/s | ${f(p.iforest)} rows/s (sklearn score_samples) | ${(ours.iforest / p.iforest).toFixed(2)} |`,
    `| Mahalanobis online score, batches of 1000 x 10 | ${f(ours.mahalanobis)} rows/s | ${f(p.mahalanobis)} rows/s (numpy, alibi-detect's rule) | ${(ours.mahalanobis / p.mahalanobis).toFixed(2)} |`,
    `| Mahalanobis vs static covariance | ${f(ours.mahalanobis)} rows/s | ${f(p.elliptic)} rows/s (sklearn EllipticEnvelope score_samples) | ${(ours.mahalanobis / p.elliptic).toFixed(2)} |`,
    `| KSDrift, reference 10,000 x 10, batch 1000 | ${f(ours.ks)} feature tests/s | ${f(p.ks)} tests/s (scipy ks_2samp asymp) | ${(ours.ks / p.ks).toFixed(2)} |`,
    '',
  ];
  process.stderr.write(lines.join('\n') + '\n');
  return lines;
}
