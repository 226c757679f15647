// The detectors against what Python computes at test time: IsolationForest scores from a fitted sklearn model
// (score_samples within 1e-9, alibi-detect's -decision_function), Mahalanobis against a numpy computation of
// alibi-detect's documented online update rule, KS/ChiSquare/Tabular drift decisions against scipy's tests plus
// the documented Bonferroni / Benjamini-Hochberg rules, and saved detectors surviving a save/load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fitDetector } from '@modelfleet/shared/detect/fit';
import { Mahalanobis } from '@modelfleet/shared/detect/mahalanobis';
import { decodeArray, type EncodedArray, type Matrix } from '@modelfleet/shared/detect/matrix';
import { loadDetectorFile, saveDetector, type Detector } from '@modelfleet/shared/detect/saved';
import { predictDrift, predictOutlier } from '@modelfleet/shared/detect/predict';
import { pythonJson } from './helpers/python.js';

const PY_DIR = fileURLToPath(new URL('../../shared/python', import.meta.url));
const mat = (e: EncodedArray): Matrix => ({ data: decodeArray(e, 'x'), rows: e.shape[0], cols: e.shape[1] });

test('IForest: native scores equal sklearn score_samples within 1e-9, alibi-detect score = -decision_function', { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'iforest-'));
  const r = await pythonJson<{ Xtr: EncodedArray; X: EncodedArray; ss: number[]; df: number[]; model: string; ss2: number[]; X2: EncodedArray; model2: string }>(String.raw`
import sys, json, joblib, numpy as np
sys.path.insert(0, '${PY_DIR}')
from modelfleet_sklearn_export import _arr
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.ensemble import IsolationForest
X = load_breast_cancer().data
rng = np.random.default_rng(0)
Xt = np.vstack([X, X[:50] * rng.uniform(0.5, 3, size=(50, X.shape[1]))])
m = IsolationForest(n_estimators=100, random_state=0).fit(X)
joblib.dump(m, '${dir}/m.joblib')
# Subsampled features and explicit contamination: the feature map and offset_ are exercised.
Xw = load_wine().data
m2 = IsolationForest(n_estimators=60, max_features=0.5, max_samples=64, contamination=0.1, random_state=1).fit(Xw)
joblib.dump(m2, '${dir}/m2.joblib')
X2 = np.vstack([Xw, Xw * 1.7])
print(json.dumps({'Xtr': _arr(X), 'X': _arr(Xt), 'ss': m.score_samples(Xt).tolist(), 'df': m.decision_function(Xt).tolist(),
  'model': '${dir}/m.joblib', 'X2': _arr(X2), 'ss2': (-m2.decision_function(X2)).tolist(), 'model2': '${dir}/m2.joblib'}))
`, ['sklearn', 'joblib']);
  const det = await fitDetector('IForest', mat(r.Xtr), { model: r.model, thresholdPerc: 95 });
  assert.equal(det.name, 'IForest');
  if (det.name !== 'IForest') return;
  const ss = det.impl.scoreSamples(mat(r.X));
  let worst = 0;
  r.ss.forEach((want, i) => (worst = Math.max(worst, Math.abs(ss[i] - want))));
  assert.ok(worst <= 1e-9, `score_samples worst difference ${worst}`);
  const alibi = det.impl.score(mat(r.X));
  r.df.forEach((df, i) => assert.ok(Math.abs(alibi[i] + df) <= 1e-9, `row ${i}: ${alibi[i]} vs -decision_function ${-df}`));
  // The threshold is the 95th percentile of the training scores, so about 5% of them are flagged.
  const own = predictOutlier(det, mat(r.Xtr));
  const rate = own.data.is_outlier.reduce((s, v) => s + v, 0) / r.Xtr.shape[0];
  assert.ok(rate > 0.03 && rate < 0.07, `flag rate on the training data ${rate}`);
  const det2 = await fitDetector('IForest', mat(r.X2), { model: r.model2, threshold: 0 });
  if (det2.name !== 'IForest') return;
  const s2 = det2.impl.score(mat(r.X2));
  r.ss2.forEach((want, i) => assert.ok(Math.abs(s2[i] - want) <= 1e-9, `model 2 row ${i}: ${s2[i]} vs ${want}`));
  // Saved and loaded, it scores the same.
  const back = loadDetectorFile(saveDetector(det2, path.join(dir, 'saved')));
  assert.deepEqual(predictOutlier(back as typeof det2, mat(r.X2)).data.instance_score, Array.from(s2));
});

// numpy version of alibi-detect's Mahalanobis update rule, written from its documentation (reference notes §2.3).
const MAHALANOBIS_PY = String.raw`
import numpy as np
from scipy.linalg import eigh
class Maha:
    def __init__(s, n_components=3, std_clip=3, start_clip=100, max_n=None):
        s.k, s.std_clip, s.start_clip, s.max_n = n_components, std_clip, start_clip, max_n
        s.mean, s.C, s.n, s.clip = None, None, 0, None
    def score(s, X):
        B, d = X.shape
        k = min(s.k, d)
        n = s.n if s.max_n is None else min(s.n, s.max_n)
        mean = np.zeros(d) if s.mean is None else s.mean
        C = np.zeros((d, d)) if s.C is None else s.C
        Xc = np.clip(X, s.clip[0], s.clip[1]) if s.n > s.start_clip else X
        idx = np.arange(B)
        run = mean + ((idx + 1.0) / (idx + n + 1.0))[:, None] * (np.cumsum(Xc, axis=0) / (idx + 1.0)[:, None] - mean)
        before = np.vstack([mean[None, :], run[:-1]])
        dev = Xc - before
        S = sum(((n + i) / (n + i + 1.0)) * np.outer(dev[i], dev[i]) for i in range(B))
        den = n + max(1, B - 1.0)
        cov = (n - 1.0) / den * C + 1.0 / den * S
        w, V = eigh(cov)
        V = V[:, d - k:]
        px, pxc, pm = X @ V, Xc @ V, before @ V
        pc = V.T @ C @ V
        inv = [None] * B
        cinv = None
        for i in range(B):
            b = np.outer(pxc[i] - pm[i], pxc[i] - pm[i]) / (n + i + 1.0)
            if cinv is None:
                if abs(np.linalg.det(pc)) > 1e-8:
                    cinv = np.linalg.inv(pc); inv[i] = cinv
                elif n + i != 0:
                    pc = (n + i - 1.0) / (n + i) * pc + b
            else:
                cinv = (n + i - 1.0) / (n + i - 2.0) * (inv[i - 1] if inv[i - 1] is not None else np.zeros((k, k)))
                bc = bprev @ cinv
                inv[i] = cinv - 1.0 / (1.0 + np.trace(bc)) * (cinv @ bc)
            bprev = b
        scores = np.array([0.0 if inv[i] is None else (px[i] - pm[i]) @ inv[i] @ (px[i] - pm[i]) for i in range(B)])
        # Rows scored with a numerically singular inverse have no defined score (roundoff decides it): marked NaN.
        s.undetermined = [inv[i] is not None and np.linalg.cond(inv[i]) > 1e10 for i in range(B)]
        s.mean, s.C, s.n = run[-1], cov, s.n + B
        if s.n > s.start_clip:
            sd = np.sqrt(np.diag(cov)); s.clip = [s.mean - s.std_clip * sd, s.mean + s.std_clip * sd]
        return scores
`;

test('Mahalanobis: scores and running state equal a numpy computation of the same online update rule', { timeout: 300_000 }, async () => {
  type Run = { params: { k: number; clip: number; start: number; max_n: number | null }; batches: EncodedArray[]; scores: (number | null)[][]; mean: number[]; C: number[]; n: number };
  const runs = await pythonJson<Run[]>(String.raw`
import sys, json
sys.path.insert(0, '${PY_DIR}')
from modelfleet_sklearn_export import _arr
${MAHALANOBIS_PY}
from sklearn.datasets import load_wine, load_breast_cancer
rng = np.random.default_rng(5)
out = []
for data, k, clip, start, max_n, sizes in ((load_wine().data, 3, 3, 100, None, [60, 1, 5, 40, 30, 42]),
                                          (load_breast_cancer().data[:, :6], 2, 2, 20, 150, [100, 30, 1, 200, 238]),
                                          (load_wine().data[:, :4], 10, 3, 50, None, [178])):
    X = data[rng.permutation(len(data))]
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    X[::17] *= 4.0  # outliers, some of them clipped for the statistics
    m = Maha(k, clip, start, max_n)
    batches, scores, at = [], [], 0
    for sz in sizes:
        b = X[at:at + sz]; at += sz
        batches.append(_arr(b)); sc = m.score(b); sc[m.undetermined] = np.nan; scores.append([None if np.isnan(v) else v for v in sc])
    out.append({'params': {'k': k, 'clip': clip, 'start': start, 'max_n': max_n}, 'batches': batches, 'scores': scores,
                'mean': m.mean.tolist(), 'C': m.C.ravel().tolist(), 'n': m.n})
print(json.dumps(out))
`, ['scipy', 'sklearn']);
  for (const run of runs) {
    const d = run.batches[0].shape[1];
    const m = Mahalanobis.fresh({ nComponents: run.params.k, stdClip: run.params.clip, startClip: run.params.start, maxN: run.params.max_n }, d);
    let nonZero = 0, undetermined = 0;
    run.batches.forEach((b, bi) => {
      const got = m.score(mat(b));
      run.scores[bi].forEach((want, i) => {
        if (want === null) return void undetermined++;
        if (want !== 0) nonZero++;
        assert.ok(Math.abs(got[i] - want) <= 1e-6 * Math.max(1, Math.abs(want)), `k=${run.params.k} batch ${bi} row ${i}: ${got[i]} vs numpy ${want}`);
      });
    });
    assert.ok(nonZero > 100, 'scores are not all zero');
    assert.ok(undetermined <= 3, `${undetermined} rows scored with a singular inverse`);
    assert.equal(m.state.n, run.n);
    run.mean.forEach((v, i) => assert.ok(Math.abs(m.state.mean![i] - v) <= 1e-9 * Math.max(1, Math.abs(v))));
    run.C.forEach((v, i) => assert.ok(Math.abs(m.state.cov![i] - v) <= 1e-9 * Math.max(1, Math.abs(v))));
  }
});

test('Mahalanobis fit: threshold is the percentile of the fitting scores; the state round-trips through detector.json', async () => {
  const rows = 300, cols = 4;
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
  const x: Matrix = { data: Float64Array.from({ length: rows * cols }, rnd), rows, cols };
  const det = await fitDetector('Mahalanobis', x, { thresholdPerc: 90 });
  assert.equal(det.name, 'Mahalanobis');
  const dir = mkdtempSync(path.join(tmpdir(), 'maha-'));
  const back = loadDetectorFile(saveDetector(det, dir)) as Extract<Detector, { name: 'Mahalanobis' }>;
  const probe: Matrix = { data: Float64Array.from([0, 0, 0, 0, 3, -3, 3, -3]), rows: 2, cols };
  const a = predictOutlier(det as typeof back, probe), b = predictOutlier(back, probe);
  assert.deepEqual(a, b);
  assert.deepEqual(a.data.is_outlier, [0, 1]);
  assert.equal(a.meta.name, 'Mahalanobis');
  assert.equal(a.meta.online, true);
});

test('drift detectors: p-values, distances and batch/feature decisions as scipy + alibi-detect rules give', { timeout: 300_000 }, async () => {
  type Case = { ref: EncodedArray; x: EncodedArray; type: string; cats: Record<string, number | null> | null; correction: 'bonferroni' | 'fdr';
    p: number[]; d: number[]; bon: [number, number]; fdr: [number, number | number[]]; feature: number[] };
  const cases = await pythonJson<Case[]>(String.raw`
import sys, json
sys.path.insert(0, '${PY_DIR}')
import numpy as np
from scipy.stats import ks_2samp, chi2_contingency
from modelfleet_sklearn_export import _arr
rng = np.random.default_rng(11)
def fdr(p, q):
    n = len(p); qs = q * np.arange(1, n + 1) / n; below = np.sort(p) < qs
    return (1, float(qs[np.where(below)[0].max()])) if below.any() else (0, qs.tolist())
out = []
for shift in (0.0, 0.3, 1.0):
    ref = rng.normal(size=(500, 5)); x = rng.normal(size=(120, 5)); x[:, 2] += shift
    ref[:, 3] = rng.integers(0, 4, 500); x[:, 3] = rng.integers(0, 4 + (shift > 0.5), 120)
    ref[:, 4] = rng.integers(0, 2, 500); x[:, 4] = (rng.random(120) < 0.5 + shift / 3).astype(float)
    for typ, cats in (('KSDrift', None), ('TabularDrift', {'3': None, '4': 2}), ('ChiSquareDrift', None)):
        cols = [3, 4] if typ == 'ChiSquareDrift' else range(5)
        R, Xb = ref[:, cols], x[:, cols]
        catcols = {0: None, 1: None} if typ == 'ChiSquareDrift' else ({3, 4} if cats else set())
        p, d = [], []
        for f in range(R.shape[1]):
            if f in catcols:
                vals = sorted(set(R[:, f]) | set(Xb[:, f]))
                t = np.array([[(R[:, f] == v).sum() for v in vals], [(Xb[:, f] == v).sum() for v in vals]])
                s, pv = chi2_contingency(t)[:2]
            else:
                s, pv = ks_2samp(R[:, f], Xb[:, f], method='asymp')
            p.append(np.float32(pv)); d.append(np.float32(s))
        p = np.array(p, dtype=np.float32)
        out.append({'ref': _arr(R), 'x': _arr(Xb), 'type': typ, 'cats': cats, 'p': p.astype(float).tolist(), 'd': np.array(d).astype(float).tolist(),
                    'bon': [int((p < 0.05 / len(p)).any()), 0.05 / len(p)], 'fdr': fdr(p.astype(float), 0.05),
                    'feature': (p < 0.05).astype(int).tolist()})
print(json.dumps(out))
`, ['scipy', 'sklearn']);
  let drifted = 0;
  for (const c of cases) {
    const ref = mat(c.ref), x = mat(c.x);
    const fitOpts = c.cats ? { categoriesPerFeature: c.cats } : {};
    const bon = await fitDetector(c.type, ref, fitOpts);
    const fdr = await fitDetector(c.type, ref, { ...fitOpts, correction: 'fdr' });
    assert.equal(bon.kind, 'drift');
    if (bon.kind !== 'drift' || fdr.kind !== 'drift') return;
    const r = predictDrift(bon, x);
    assert.deepEqual(r.data.p_val, c.p.map(Math.fround), `${c.type} p-values`);
    r.data.distance!.forEach((v, i) => assert.ok(Math.abs(v - c.d[i]) <= 1e-6 * Math.max(1, c.d[i]), `${c.type} distance ${i}`));
    assert.deepEqual([r.data.is_drift, r.data.threshold], c.bon, `${c.type} bonferroni`);
    const rf = predictDrift(fdr, x);
    assert.equal(rf.data.is_drift, c.fdr[0], `${c.type} fdr decision`);
    if (Array.isArray(c.fdr[1])) (rf.data.threshold as number[]).forEach((t, i) => assert.ok(Math.abs(t - (c.fdr[1] as number[])[i]) < 1e-15));
    else assert.ok(Math.abs((rf.data.threshold as number) - c.fdr[1]) < 1e-15);
    const rfeat = predictDrift(bon, x, { driftType: 'feature' });
    assert.deepEqual(rfeat.data.is_drift, c.feature);
    assert.equal(rfeat.data.threshold, 0.05);
    const quiet = predictDrift(bon, x, { returnPVal: false, returnDistance: false });
    assert.equal(quiet.data.p_val, null);
    assert.equal(quiet.data.threshold, null);
    assert.equal(quiet.data.distance, null);
    drifted += r.data.is_drift as number;
    // Round trip through detector.json.
    const back = loadDetectorFile(saveDetector(bon, mkdtempSync(path.join(tmpdir(), 'drift-'))));
    assert.deepEqual(predictDrift(back as typeof bon, x), r);
  }
  assert.ok(drifted >= 3 && drifted < cases.length, `some batches drift and some do not (${drifted}/${cases.length})`);
});
