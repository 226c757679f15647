// Explainers in front of a model elsewhere: `modelfleet explain` (Seldon's explainer container arguments) against a
// real SKLEARN_SERVER over seldon.http and V2, and `modelfleet run` with a predictor's `explainer` field. Values are
// checked against a brute-force Shapley computation in Python on the same background rows.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pythonJson } from './helpers/python.js';
import { CLI, postJson, runToExit, serveCli, spawnServer, waitReady, type ServerProcess } from './helpers/server.js';

interface Fixture {
  dir: string;
  background: string;
  rows: number[][];
  proba: number[][][];
  labels: number[][];
}

const TRAIN = String.raw`
import json, os, sys, itertools, math
import joblib, numpy as np
from sklearn.datasets import load_iris
from sklearn.neighbors import KNeighborsClassifier
out = sys.argv[1]
X, y = load_iris(return_X_y=True)
knn = KNeighborsClassifier(n_neighbors=7).fit(X, y)
d = os.path.join(out, "knn"); os.makedirs(d); joblib.dump(knn, os.path.join(d, "model.joblib"))
bg = X[5::12]
b = os.path.join(out, "bg"); os.makedirs(b); np.save(os.path.join(b, "train.npy"), bg)
def shapley(f, x):
    M = len(x)
    def v(S):
        Z = bg.copy(); Z[:, list(S)] = x[list(S)]
        return np.asarray(f(Z), dtype=float).mean(axis=0)
    phi = np.zeros((M,) + np.shape(v(())))
    for i in range(M):
        rest = [j for j in range(M) if j != i]
        for k in range(M):
            for S in itertools.combinations(rest, k):
                phi[i] += math.factorial(k) * math.factorial(M - k - 1) / math.factorial(M) * (v(S + (i,)) - v(S))
    return phi
rows = X[[50, 130]]
proba = [shapley(knn.predict_proba, x) for x in rows]  # per row: features x classes
json.dump({"dir": d, "background": b, "rows": rows.tolist(),
           "proba": [[p[:, k].tolist() for p in proba] for k in range(3)],
           "labels": [shapley(knn.predict, x).tolist() for x in rows]}, sys.stdout)
`;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'explain-remote-'));
let fx: Fixture;
let model: ServerProcess;
before(async () => {
  fx = await pythonJson<Fixture>(TRAIN, ['sklearn', 'joblib'], [tmp]);
  model = await serveCli(['SKLEARN_SERVER', '--model-uri', fx.dir, '--model-name', 'knn']);
  await waitReady(model);
});
after(async () => {
  await model?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function assertClose(what: string, got: number[][], want: number[][], tol = 1e-6): void {
  got.forEach((r, i) => r.forEach((v, j) => assert.ok(Math.abs(v - want[i][j]) <= tol, `${what}[${i}][${j}]: ours ${v}, Python ${want[i][j]}`)));
}

test('modelfleet explain KernelShap --predictor_host (seldon.http): exact Shapley values of the remote predict_proba', async () => {
  const host = model.url.replace('http://', '');
  const ex = await spawnServer([CLI, 'explain', '--model_name=knn', `--predictor_host=${host}`, '--protocol=seldon.http', '--http_port=0', `--storage_uri=${fx.background}`, 'KernelShap', '--link=identity']);
  try {
    await waitReady(ex);
    const r = await postJson(`${ex.url}/api/v1.0/explain`, { data: { ndarray: fx.rows } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.meta.name, 'KernelShap');
    for (let k = 0; k < 3; k++) assertClose(`class ${k}`, r.json.data.shap_values[k], fx.proba[k]);
    // The KServe form is the same handler, any model name in the path (as Seldon's explainer accepts).
    const v1 = await postJson(`${ex.url}/v1/models/knn:explain`, { instances: fx.rows });
    assert.equal(v1.status, 200, v1.text);
    assert.deepEqual(v1.json.data.shap_values, r.json.data.shap_values);
  } finally {
    await ex.stop();
  }
});

test('modelfleet explain over V2 (--protocol v2): explains the V2 default output (labels)', async () => {
  const ex = await spawnServer([CLI, 'explain', 'KernelShap', '--model-name', 'knn', '--predictor-host', model.url, '--protocol', 'v2', '--http-port', '0', '--storage-uri', fx.background]);
  try {
    await waitReady(ex);
    const r = await postJson(`${ex.url}/v2/models/knn-explainer/infer`, { inputs: [{ name: 'explain', datatype: 'FP64', shape: [2, 4], data: fx.rows.flat() }] });
    assert.equal(r.status, 200, r.text);
    const e = JSON.parse(r.json.outputs[0].data[0]);
    assertClose('labels', e.data.shap_values[0], fx.labels);
  } finally {
    await ex.stop();
  }
});

test('modelfleet explain: an unreachable predictor is a 503 in the Seldon shape; bad arguments exit 2', async () => {
  const ex = await spawnServer([CLI, 'explain', 'KernelShap', '--predictor-host', '127.0.0.1:1', '--http-port', '0', '--storage-uri', fx.background]);
  try {
    await waitReady(ex).catch(() => {}); // the explainer itself is up; its first model call fails
    const r = await postJson(`${ex.url}/api/v1.0/explain`, { data: { ndarray: fx.rows } });
    assert.ok(r.status === 503, r.text);
    assert.equal(r.json.status.status, 1);
  } finally {
    await ex.stop();
  }
  const noHost = await runToExit([CLI, 'explain', 'KernelShap']);
  assert.equal(noHost.code, 2);
  assert.match(noHost.output, /--predictor-host/);
  const unknown = await runToExit([CLI, 'explain', 'Counterfactuals', '--predictor-host', 'x:1']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.output, /modelfleet implements TreeShap, KernelShap, LinearShap, AnchorTabular/);
  const grpc = await runToExit([CLI, 'explain', 'KernelShap', '--predictor-host', 'x:1', '--protocol', 'seldon.grpc']);
  assert.equal(grpc.code, 2);
  assert.match(grpc.output, /seldon\.grpc/);
});

test('modelfleet run: a predictor explainer answers /api/v1.0/explain and the ingress path for the graph', async () => {
  const file = path.join(tmp, 'sdep.yaml');
  writeFileSync(
    file,
    `apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: iris}
spec:
  predictors:
  - name: default
    graph: {name: knn, implementation: SKLEARN_SERVER, modelUri: ${fx.dir}}
    explainer:
      type: KernelShap
      modelUri: ${path.relative(tmp, fx.background)}
      config: {link: identity}
`,
  );
  const run = await spawnServer([CLI, 'run', file, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0']);
  try {
    await waitReady(run, 120_000);
    const r = await postJson(`${run.url}/api/v1.0/explain`, { data: { ndarray: fx.rows } });
    assert.equal(r.status, 200, r.text);
    for (let k = 0; k < 3; k++) assertClose(`class ${k}`, r.json.data.shap_values[k], fx.proba[k]);
    const ingress = await postJson(`${run.url}/seldon/default/iris-explainer/default/api/v1.0/explain`, { data: { ndarray: [fx.rows[0]] } });
    assert.equal(ingress.status, 200, ingress.text);
    const v2 = await postJson(`${run.url}/v2/models/iris-default-explainer/infer`, { inputs: [{ name: 'x', datatype: 'FP64', shape: [1, 4], data: fx.rows[0] }] });
    assert.equal(v2.status, 200, v2.text);
    const bad = await postJson(`${run.url}/api/v1.0/explain`, { data: { ndarray: [[1, 2]] } });
    assert.equal(bad.status, 400);
  } finally {
    await run.stop();
  }
});
