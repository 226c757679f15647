// Explainers on the model servers over real sockets: TreeShap on XGBOOST_SERVER against xgboost's own pred_contribs,
// KernelShap on a Python-only model (KNN) against a brute-force Shapley computation in Python, LinearShap against the
// closed form, AnchorTabular re-measured with sklearn; the Seldon, KServe V1 and V2 explain forms; bad requests.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pythonJson } from './helpers/python.js';
import { postJson, serveCli, waitReady, type ServerProcess } from './helpers/server.js';

interface Fixtures {
  xgb: { dir: string; rows: (number | null)[][]; contribs: number[][] };
  knn: { dir: string; background: string; rows: number[][]; phi: number[][][]; expected: number[] };
  logreg: { dir: string; background: string; rows: number[][]; phi: number[][][]; expected: number[] };
  anchor: { dir: string; background: string };
}

const TRAIN = String.raw`
import json, os, sys, itertools, math
import joblib, numpy as np, xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.neighbors import KNeighborsClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.ensemble import RandomForestClassifier
out = sys.argv[1]
def folder(name):
    d = os.path.join(out, name); os.makedirs(d); return d
iris = load_iris(); Xi, yi = iris.data, iris.target
names = [n.replace(" (cm)", "") for n in iris.feature_names]
def csv(name, X, header=True):
    p = os.path.join(folder(name), "background.csv")
    with open(p, "w") as f:
        if header: f.write(",".join(names) + "\n")
        for r in X: f.write(",".join(repr(float(v)) for v in r) + "\n")
    return p

Xb, yb = load_breast_cancer(return_X_y=True)
Xb = Xb.copy(); Xb[::7, 3] = np.nan
m = xgb.XGBClassifier(n_estimators=30, max_depth=4, n_jobs=1).fit(Xb, yb)
d = folder("xgb"); m.save_model(os.path.join(d, "model.json"))
rows = Xb[:3].copy(); rows[1, 5] = np.nan
contribs = m.get_booster().predict(xgb.DMatrix(rows), pred_contribs=True)
res = {"xgb": {"dir": d, "rows": [[None if np.isnan(v) else float(v) for v in r] for r in rows], "contribs": contribs.tolist()}}

def shapley(f, x, bg):
    M = len(x)
    def v(S):
        Z = bg.copy(); Z[:, list(S)] = x[list(S)]
        return f(Z).mean(axis=0)
    phi = np.zeros((M,) + np.shape(v(())))
    for i in range(M):
        rest = [j for j in range(M) if j != i]
        for k in range(M):
            for S in itertools.combinations(rest, k):
                w = math.factorial(k) * math.factorial(M - k - 1) / math.factorial(M)
                phi[i] += w * (v(S + (i,)) - v(S))
    return phi.T.reshape(-1, M), v(())

bg = Xi[::10]
knn = KNeighborsClassifier(n_neighbors=5).fit(Xi, yi)
d = folder("knn"); joblib.dump(knn, os.path.join(d, "model.joblib"))
rows = Xi[[3, 77, 120]]
phis = [shapley(knn.predict_proba, x, bg) for x in rows]
res["knn"] = {"dir": d, "background": csv("knn-bg", bg), "rows": rows.tolist(),
              "phi": [[p[0][k].tolist() for p in phis] for k in range(3)], "expected": phis[0][1].tolist()}

lr = LogisticRegression(max_iter=500).fit(Xi, yi)
d = folder("logreg"); joblib.dump(lr, os.path.join(d, "model.joblib"))
bgl = Xi[::3]
mean = bgl.mean(axis=0)
rows = Xi[[0, 60, 140]]
res["logreg"] = {"dir": d, "background": csv("logreg-bg", bgl, header=False), "rows": rows.tolist(),
                 "phi": [[(lr.coef_[k] * (x - mean)).tolist() for x in rows] for k in range(3)],
                 "expected": (lr.coef_ @ mean + lr.intercept_).tolist()}

rf = RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0).fit(Xi, yi)
d = folder("anchor"); joblib.dump(rf, os.path.join(d, "model.joblib"))
res["anchor"] = {"dir": d, "background": csv("anchor-bg", Xi)}
json.dump(res, sys.stdout)
`;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'explain-server-'));
let fx: Fixtures;
before(async () => {
  fx = await pythonJson<Fixtures>(TRAIN, ['xgboost', 'sklearn', 'joblib'], [tmp]);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function assertClose(what: string, got: number[][], want: number[][], tol: number): void {
  assert.equal(got.length, want.length, `${what}: rows`);
  got.forEach((r, i) =>
    r.forEach((v, j) => assert.ok(Math.abs(v - want[i][j]) <= tol * Math.max(1, Math.abs(want[i][j])), `${what}[${i}][${j}]: ours ${v}, reference ${want[i][j]}`)),
  );
}

async function start(server: string, dir: string, env: Record<string, string>, extra: string[] = []): Promise<ServerProcess> {
  const s = await serveCli([server, '--model-uri', dir, '--model-name', 'm', ...extra], env);
  await waitReady(s);
  return s;
}

describe('TreeShap on XGBOOST_SERVER', () => {
  let server: ServerProcess;
  before(async () => {
    // Inline budget 0: every explanation runs on the worker threads (the inline path is tested in explain-treeshap).
    server = await start('XGBOOST_SERVER', fx.xgb.dir, { MODELFLEET_EXPLAINER_TYPE: 'TreeShap', MODELFLEET_INLINE_BUDGET_US: '0' });
  });
  after(() => server?.stop());

  const check = (json: any, rows = [0, 1, 2]) => {
    const M = fx.xgb.contribs[0].length - 1;
    assert.equal(json.meta.name, 'TreeShap');
    assert.deepEqual(json.meta.type, ['whitebox']);
    assert.deepEqual(json.meta.explanations, ['local', 'global']);
    assert.equal(json.meta.task, 'classification');
    assertClose('shap_values', json.data.shap_values[0], rows.map((i) => fx.xgb.contribs[i].slice(0, M)), 1e-5);
    assert.ok(Math.abs(json.data.expected_value[0] - fx.xgb.contribs[0][M]) < 1e-5);
    assert.equal(json.data.feature_names[0], 'feature_0');
    const imp = json.data.raw.importances;
    assert.deepEqual(Object.keys(imp).sort(), ['0', 'aggregated']);
    assert.ok(imp['0'].ranked_effect.every((v: number, i: number, a: number[]) => i === 0 || a[i - 1] >= v), 'ranked descending');
    assert.equal(json.data.raw.raw_prediction.length, rows.length);
  };

  test('Seldon /api/v1.0/explain answers the Explanation JSON, equal to pred_contribs (NaN included)', async () => {
    const r = await postJson(`${server.url}/api/v1.0/explain`, { data: { ndarray: fx.xgb.rows } });
    assert.equal(r.status, 200, r.text);
    check(r.json);
    const ingress = await postJson(`${server.url}/seldon/ns/dep/api/v0.1/explain`, { data: { tensor: { shape: [3, 30], values: fx.xgb.rows.flat() } } });
    assert.equal(ingress.status, 200, ingress.text);
    check(ingress.json);
  });

  test('interaction values on request: [rows][M][M] per output, each row summing to the SHAP value', async () => {
    const r = await postJson(`${server.url}/api/v1.0/explain`, { data: { ndarray: [fx.xgb.rows[2]] }, parameters: { interactions: true } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.meta.params.interactions, true);
    const inter: number[][] = r.json.data.shap_interaction_values[0][0];
    assert.equal(inter.length, 30);
    inter.forEach((row, i) => {
      const sum = row.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - r.json.data.shap_values[0][0][i]) < 1e-9, `row ${i}: ${sum} vs ${r.json.data.shap_values[0][0][i]}`);
    });
    const bad = await postJson(`${server.url}/api/v1.0/explain`, { data: { ndarray: [fx.xgb.rows[2]] }, parameters: { interactions: 'maybe' } });
    assert.equal(bad.status, 400);
  });

  test('KServe V1 :explain and the V2 explainer form', async () => {
    const v1 = await postJson(`${server.url}/v1/models/m:explain`, { instances: fx.xgb.rows });
    assert.equal(v1.status, 200, v1.text);
    check(v1.json);
    // V2 JSON has no NaN: the row without missing values.
    const v2 = await postJson(`${server.url}/v2/models/m-explainer/infer`, {
      inputs: [{ name: 'explain', datatype: 'FP64', shape: [1, 30], data: fx.xgb.rows[2] }],
    });
    assert.equal(v2.status, 200, v2.text);
    assert.equal(v2.json.model_name, 'm-explainer');
    assert.equal(v2.json.outputs[0].name, 'explain');
    assert.equal(v2.json.outputs[0].datatype, 'BYTES');
    check(JSON.parse(v2.json.outputs[0].data[0]), [2]);
  });

  test('bad requests get each protocol error shape', async () => {
    const wrong = await postJson(`${server.url}/api/v1.0/explain`, { data: { ndarray: [[1, 2, 3]] } });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.status.reason, 'MICROSERVICE_BAD_DATA');
    assert.match(wrong.json.status.info, /30 features, got 3/);
    const notJson = await postJson(`${server.url}/api/v1.0/explain`, 'not json');
    assert.equal(notJson.status, 400);
    assert.equal(notJson.json.status.status, 1);
    const strings = await postJson(`${server.url}/v1/models/m:explain`, { instances: [['a', 'b']] });
    assert.equal(strings.status, 400);
    assert.equal(typeof strings.json.error, 'string');
    const other = await postJson(`${server.url}/v1/models/other:explain`, { instances: fx.xgb.rows });
    assert.equal(other.status, 404);
    // Predictions still work next to the explainer.
    const p = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: fx.xgb.rows } });
    assert.equal(p.status, 200, p.text);
  });
});

describe('KernelShap, LinearShap, AnchorTabular on SKLEARN_SERVER', () => {
  test('KernelShap on a Python-only KNN equals brute-force exact Shapley values (1e-6)', async () => {
    const server = await start('SKLEARN_SERVER', fx.knn.dir, { MODELFLEET_EXPLAINER_TYPE: 'KernelShap', MODELFLEET_EXPLAINER_URI: fx.knn.background });
    try {
      const r = await postJson(`${server.url}/api/v1.0/explain`, { data: { ndarray: fx.knn.rows } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.meta.name, 'KernelShap');
      assert.deepEqual(r.json.meta.type, ['blackbox']);
      assert.equal(r.json.meta.params.kwargs.exact, true);
      assert.equal(r.json.data.shap_values.length, 3);
      for (let k = 0; k < 3; k++) assertClose(`class ${k}`, r.json.data.shap_values[k], fx.knn.phi[k], 1e-6);
      assertClose('expected_value', [r.json.data.expected_value], [fx.knn.expected], 1e-9);
      // Feature names come from the background CSV's header.
      assert.deepEqual(r.json.data.feature_names, ['sepal length', 'sepal width', 'petal length', 'petal width']);
    } finally {
      await server.stop();
    }
  });

  test('LinearShap equals coef * (x - background mean) in decision space', async () => {
    const server = await start(
      'SKLEARN_SERVER',
      fx.logreg.dir,
      { MODELFLEET_EXPLAINER_TYPE: 'LinearShap', MODELFLEET_EXPLAINER_URI: path.dirname(fx.logreg.background) },
      ['--method', 'decision_function'],
    );
    try {
      const r = await postJson(`${server.url}/v1/models/m:explain`, { instances: fx.logreg.rows });
      assert.equal(r.status, 200, r.text);
      for (let k = 0; k < 3; k++) assertClose(`class ${k}`, r.json.data.shap_values[k], fx.logreg.phi[k], 1e-9);
      assertClose('expected_value', [r.json.data.expected_value], [fx.logreg.expected], 1e-9);
    } finally {
      await server.stop();
    }
  });

  test('AnchorTabular: precision re-measured with sklearn on the rows the anchor covers; same seed, same anchor', async () => {
    const server = await start('SKLEARN_SERVER', fx.anchor.dir, {
      MODELFLEET_EXPLAINER_TYPE: 'AnchorTabular',
      MODELFLEET_EXPLAINER_URI: fx.anchor.background,
      MODELFLEET_EXPLAINER_CONFIG: JSON.stringify({ seed: '7' }),
    });
    try {
      for (const row of [[6.2, 3.4, 5.4, 2.3], [5.9, 3.0, 4.2, 1.5], [5.1, 3.5, 1.4, 0.2]]) {
        const r = await postJson(`${server.url}/api/v1.0/explain`, { data: { ndarray: [row] } });
        assert.equal(r.status, 200, r.text);
        const e = r.json;
        assert.equal(e.meta.name, 'AnchorTabular');
        assert.equal(e.meta.params.threshold, 0.95);
        assert.ok(Array.isArray(e.data.anchor) && e.data.anchor.length >= 1, JSON.stringify(e.data));
        assert.equal(e.data.raw.success, true);
        const again = await postJson(`${server.url}/api/v1.0/explain`, { data: { ndarray: [row] } });
        assert.deepEqual(again.json, e, 'deterministic under a fixed seed');
        // Re-measure: every training row in the anchor's bins, labelled by sklearn itself.
        const check = await pythonJson<{ precision: number; coverage: number; n: number }>(
          String.raw`
import json, sys, joblib, numpy as np
from sklearn.datasets import load_iris
X = load_iris().data
rf = joblib.load(sys.argv[1])
x = np.array(json.loads(sys.argv[2])); feats = json.loads(sys.argv[3])
cuts = [np.unique(np.percentile(X[:, j], [25, 50, 75])) for j in range(X.shape[1])]
b = lambda j, v: np.searchsorted(cuts[j], v)
mask = np.all([b(j, X[:, j]) == b(j, x[j]) for j in feats], axis=0)
label = rf.predict(x[None])[0]
print(json.dumps({"precision": float(np.mean(rf.predict(X[mask]) == label)), "coverage": float(mask.mean()), "n": int(mask.sum())}))
`,
          ['sklearn', 'joblib'],
          [path.join(fx.anchor.dir, 'model.joblib'), JSON.stringify(row), JSON.stringify(e.data.raw.feature)],
        );
        assert.ok(check.precision >= 0.95 - 0.05, `anchor ${e.data.anchor}: sklearn precision ${check.precision} on ${check.n} rows`);
        assert.ok(Math.abs(check.coverage - e.data.coverage) < 0.05, `coverage ${e.data.coverage} vs ${check.coverage}`);
      }
      const bad = await postJson(`${server.url}/api/v1.0/explain`, { data: { ndarray: [[1, 2, 3, 4]] }, parameters: { threshold: 2 } });
      assert.equal(bad.status, 400);
      assert.match(bad.json.status.info, /threshold/);
    } finally {
      await server.stop();
    }
  });

  test('no explainer configured: 501; a broken one: 503 with the reason, predictions unaffected', async () => {
    const server = await start('SKLEARN_SERVER', fx.knn.dir, { MODELFLEET_EXPLAINER_TYPE: 'KernelShap' });
    try {
      const r = await postJson(`${server.url}/api/v1.0/explain`, { data: { ndarray: fx.knn.rows } });
      assert.equal(r.status, 503);
      assert.match(r.json.status.info, /needs background data/);
      const p = await postJson(`${server.url}/api/v1.0/predictions`, { data: { ndarray: fx.knn.rows } });
      assert.equal(p.status, 200);
    } finally {
      await server.stop();
    }
    const plain = await start('SKLEARN_SERVER', fx.knn.dir, {});
    try {
      const r = await postJson(`${plain.url}/v1/models/m:explain`, { instances: fx.knn.rows });
      assert.equal(r.status, 501);
      assert.match(r.json.error, /no explainer/);
    } finally {
      await plain.stop();
    }
  });
});
