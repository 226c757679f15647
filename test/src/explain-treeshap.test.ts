import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadXGBoostModel, nativeFromSklearnExport } from '@modelfleet/shared/native/index';
import { treeShap, treeViewOf } from '@modelfleet/shared/explain/tree-shap';
import { pythonJson } from './helpers/python.js';
import { decodeF64, type EncodedArray } from './helpers/native-compare.js';

const PY_DIR = fileURLToPath(new URL('../../shared/python', import.meta.url));

// xgboost's own pred_contribs (strict_shape: rows x groups x (features + 1), bias last) on rows with NaN.
const XGB = String.raw`
import sys, os, json, base64, warnings
warnings.filterwarnings("ignore")
import numpy as np, xgboost as xgb
from sklearn.datasets import load_iris, load_breast_cancer, load_diabetes
out = sys.argv[1]
def arr(a):
    a = np.ascontiguousarray(np.asarray(a, dtype="<f8"))
    return {"dtype": "f8", "shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode()}
rng = np.random.RandomState(0)
Xi, yi = load_iris(return_X_y=True)
Xb, yb = load_breast_cancer(return_X_y=True)
Xd, yd = load_diabetes(return_X_y=True)
Xb_nan = Xb.copy(); Xb_nan[rng.rand(*Xb.shape) < 0.1] = np.nan
Xd_nan = Xd.copy(); Xd_nan[rng.rand(*Xd.shape) < 0.1] = np.nan
cases = []
def case(name, m, X, y, interactions=False):
    m.fit(X, y)
    b = m.get_booster()
    b.save_model(os.path.join(out, name + ".json"))
    Xe = np.vstack([X[:60], np.full((1, X.shape[1]), np.nan)])
    c = b.predict(xgb.DMatrix(Xe), pred_contribs=True, strict_shape=True)
    inter = b.predict(xgb.DMatrix(Xe[-8:]), pred_interactions=True, strict_shape=True)
    cases.append({"name": name, "X": arr(Xe), "n": int(Xe.shape[0]), "contribs": arr(c), "inter": arr(inter),
                  "margin": arr(b.predict(xgb.DMatrix(Xe), output_margin=True, strict_shape=True))})
case("binary-nan", xgb.XGBClassifier(n_estimators=40, max_depth=6, n_jobs=1), Xb_nan, yb)
case("multiclass", xgb.XGBClassifier(n_estimators=20, max_depth=4, n_jobs=1), Xi, yi)
case("regression-nan", xgb.XGBRegressor(n_estimators=30, max_depth=5, n_jobs=1), Xd_nan, yd)
case("dart", xgb.XGBClassifier(booster="dart", rate_drop=0.3, n_estimators=10, max_depth=3, n_jobs=1), Xb_nan, yb)
json.dump(cases, sys.stdout)
`;

type XgbCase = { name: string; X: EncodedArray; n: number; contribs: EncodedArray; margin: EncodedArray; inter: EncodedArray };

const dir = mkdtempSync(join(tmpdir(), 'treeshap-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** |a - b| <= rtol * |b| with a floor for values near 0 (rtol of the row's largest magnitude: xgboost sums in float32). */
function close(what: string, got: number, want: number, scale: number, rtol = 1e-5): void {
  assert.ok(Math.abs(got - want) <= rtol * Math.max(Math.abs(want), scale), `${what}: ours ${got}, library ${want}`);
}

test('TreeShap equals xgboost pred_contribs and pred_interactions (binary with NaN, multi-class, regression with NaN, dart)', async (t) => {
  const cases = await pythonJson<XgbCase[]>(XGB, ['xgboost', 'sklearn'], [dir]);
  for (const c of cases) {
    await t.test(c.name, async () => {
      const model = await loadXGBoostModel(join(dir, `${c.name}.json`));
      const view = treeViewOf(model);
      const X = decodeF64(c.X);
      const M = model.nFeatures;
      const G = view.nOutputs;
      const want = decodeF64(c.contribs); // rows x G x (M + 1)
      const { values, expected } = treeShap(view, X, c.n);
      assert.equal(values.length, G);
      for (let r = 0; r < c.n; r++) {
        for (let g = 0; g < G; g++) {
          const o = (r * G + g) * (M + 1);
          let scale = 0;
          for (let j = 0; j <= M; j++) scale = Math.max(scale, Math.abs(want[o + j]));
          for (let j = 0; j < M; j++) close(`${c.name} row ${r} group ${g} feature ${j}`, values[g][r * M + j], want[o + j], scale);
          close(`${c.name} row ${r} group ${g} bias`, expected[g], want[o + M], scale);
        }
      }
      // Interaction values on the last 8 rows (the all-NaN row included) against pred_interactions.
      const last = 8;
      const inter = decodeF64(c.inter); // last x G x (M + 1) x (M + 1)
      const sub = X.subarray((c.n - last) * M);
      const ri = treeShap(view, sub, last, true);
      for (let r = 0; r < last; r++) {
        for (let g = 0; g < G; g++) {
          const o = (r * G + g) * (M + 1) * (M + 1);
          let scale = 0;
          for (let q = 0; q < (M + 1) * (M + 1); q++) scale = Math.max(scale, Math.abs(inter[o + q]));
          for (let i = 0; i < M; i++)
            for (let j = 0; j < M; j++) close(`${c.name} row ${r} group ${g} interaction ${i},${j}`, ri.interactions![g][(r * M + i) * M + j], inter[o + i * (M + 1) + j], scale);
        }
      }
    });
  }
});

// sklearn forests: additivity against the model's own output, and a brute-force path-dependent Shapley value in Python.
const SK = String.raw`
import sys, json, itertools, math, warnings
sys.path.insert(0, sys.argv[1])
warnings.filterwarnings("ignore")
import numpy as np
from modelfleet_sklearn_export import export, _arr
from sklearn.datasets import load_iris, load_diabetes
from sklearn.ensemble import RandomForestClassifier, ExtraTreesRegressor, GradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
Xi, yi = load_iris(return_X_y=True)
Xd, yd = load_diabetes(return_X_y=True)

def tree_v(tree, x, S, node=0):
    """v(S) of one tree as TreeSHAP defines it: follow x on features in S, else cover-weighted average."""
    l, r = tree.children_left[node], tree.children_right[node]
    if l < 0:
        v = tree.value[node][0]
        return v / v.sum()  # a classifier leaf's class fractions, as predict_proba averages them
    f = tree.feature[node]
    if f in S:
        return tree_v(tree, x, S, l if np.float32(x[f]) <= tree.threshold[node] else r)
    w = tree.weighted_n_node_samples
    return (w[l] * tree_v(tree, x, S, l) + w[r] * tree_v(tree, x, S, r)) / w[node]

def brute_forest_proba(forest, x):
    M = len(x)
    def v(S):
        vals = []
        for est in forest.estimators_:
            vals.append(tree_v(est.tree_, x, S))
        return np.mean(vals, axis=0)
    phi = np.zeros((M, forest.n_classes_))
    for i in range(M):
        rest = [j for j in range(M) if j != i]
        for k in range(M):
            for S in itertools.combinations(rest, k):
                w = math.factorial(k) * math.factorial(M - k - 1) / math.factorial(M)
                phi[i] += w * (v(set(S) | {i}) - v(set(S)))
    return phi.T  # classes x features

cases = []
def case(name, est, X, y, raw, brute=False):
    est.fit(X, y)
    Xe = X[:25]
    c = {"name": name, "export": export(est), "X": _arr(Xe), "n": 25, "raw": _arr(raw(est, Xe))}
    if brute:
        c["brute"] = _arr(np.stack([brute_forest_proba(est, x) for x in Xe[:8]]))  # rows x classes x features
    cases.append(c)
case("RandomForestClassifier", RandomForestClassifier(n_estimators=6, max_depth=4, random_state=0), Xi, yi, lambda m, X: m.predict_proba(X), brute=True)
case("ExtraTreesRegressor", ExtraTreesRegressor(n_estimators=8, max_depth=6, random_state=0), Xd, yd, lambda m, X: m.predict(X)[:, None])
case("GradientBoostingClassifier", GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0), Xi, yi, lambda m, X: m.decision_function(X))
case("HistGradientBoostingRegressor", HistGradientBoostingRegressor(max_iter=20, random_state=0), Xd, yd, lambda m, X: m.predict(X)[:, None])
case("scaled GradientBoosting pipeline", make_pipeline(StandardScaler(), GradientBoostingClassifier(n_estimators=10, random_state=0)), Xi, yi, lambda m, X: m.decision_function(X))
json.dump(cases, sys.stdout)
`;

type SkCase = { name: string; export: unknown; X: EncodedArray; n: number; raw: EncodedArray; brute?: EncodedArray };

test('TreeShap on sklearn forests: additivity with the model output (1e-6), brute-force Shapley in Python', async (t) => {
  const cases = await pythonJson<SkCase[]>(SK, ['sklearn'], [PY_DIR]);
  for (const c of cases) {
    await t.test(c.name, () => {
      const model = nativeFromSklearnExport(c.export);
      const view = treeViewOf(model);
      const X = decodeF64(c.X);
      const M = model.nFeatures;
      const raw = decodeF64(c.raw);
      const K = view.nOutputs;
      const { values, expected } = treeShap(view, X, c.n);
      for (let r = 0; r < c.n; r++) {
        for (let k = 0; k < K; k++) {
          let s = expected[k];
          for (let j = 0; j < M; j++) s += values[k][r * M + j];
          const want = raw[r * K + k];
          assert.ok(Math.abs(s - want) <= 1e-6 * Math.max(1, Math.abs(want)), `${c.name} row ${r} output ${k}: sum ${s} vs model ${want}`);
        }
      }
      if (c.brute) {
        const brute = decodeF64(c.brute);
        for (let r = 0; r < 8; r++)
          for (let k = 0; k < K; k++)
            for (let j = 0; j < M; j++) {
              const want = brute[(r * K + k) * M + j];
              assert.ok(Math.abs(values[k][r * M + j] - want) <= 1e-9, `${c.name} row ${r} class ${k} feature ${j}: ${values[k][r * M + j]} vs brute force ${want}`);
            }
      }
    });
  }
});
