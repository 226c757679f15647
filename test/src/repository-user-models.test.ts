// Issue 21: MLflow models (mlserver_mlflow.MLflowRuntime, with MLflow's own /invocations) and users' Python classes
// (a custom `implementation` class path, Seldon's language-wrapper contract) as models of a repository, each
// addressable by name. Two classes live in modules of the same name (MyModel.py) in two folders and are served by
// the same shared Python processes: each must answer with its own folder's class. Answers are compared with what
// scikit-learn and xgboost compute (MLflow folders assembled as MLflow writes them: MLflow cannot be installed here).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertClose } from './helpers/models.js';
import { mlflowModels, type MlflowFixtures } from './helpers/mlflow-models.js';
import { pythonJson } from './helpers/python.js';
import { CLI, postJson, spawnServer, waitReady, type ServerProcess } from './helpers/server.js';

const TRAIN = `
import json, os, sys
import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
root = sys.argv[1]
X, y = load_iris(return_X_y=True)
rows = X[::17][:8]
CLASS = '''
import os, joblib
MODEL_FILE = %r  # differs per folder: a class imported from the other folder would load the wrong file
class IrisClassifier:
    def __init__(self, scale=1.0):
        self.scale = float(scale)
    def load(self):
        # a relative path: the class runs in its own folder, whichever other classes the process holds
        self.model = joblib.load(MODEL_FILE)
    def predict(self, X, names=None, meta=None):
        return self.model.predict_proba(X) * self.scale
'''
models = {'custom-lr': LogisticRegression(max_iter=1000).fit(X, y), 'custom-knn': KNeighborsClassifier(n_neighbors=4).fit(X, y)}
scales = {'custom-lr': 1.0, 'custom-knn': 10.0}
for name, m in models.items():
    d = os.path.join(root, name); os.makedirs(d)
    joblib.dump(m, os.path.join(d, name + '.joblib'))
    with open(os.path.join(d, 'MyModel.py'), 'w') as f: f.write(CLASS % (name + '.joblib'))
    with open(os.path.join(d, 'model-settings.json'), 'w') as f:
        json.dump({'name': name, 'implementation': 'MyModel.IrisClassifier', 'parameters': {'extra': {'scale': scales[name]}}}, f)
json.dump({'rows': rows.tolist(), 'proba': {n: (m.predict_proba(rows) * scales[n]).tolist() for n, m in models.items()}}, sys.stdout)
`;

interface Trained {
  rows: number[][];
  proba: Record<string, number[][]>;
}

let trained: Trained;
let mlflow: MlflowFixtures;
let server: ServerProcess;

before(async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-usermodels-'));
  [trained, mlflow] = await Promise.all([pythonJson<Trained>(TRAIN, ['sklearn'], [root]), mlflowModels()]);
  for (const [name, fixture] of [
    ['iris-mlflow', 'iris'],
    ['xgb-mlflow', 'xgboost'],
  ]) {
    const d = path.join(root, name);
    mkdirSync(d);
    cpSync(mlflow.dirs[fixture], path.join(d, 'model'), { recursive: true });
    writeFileSync(path.join(d, 'model-settings.json'), JSON.stringify({ name, implementation: 'mlserver_mlflow.MLflowRuntime', parameters: { uri: './model' } }));
  }
  writeFileSync(path.join(root, 'settings.json'), JSON.stringify({ parallel_workers: 2 }));
  server = await spawnServer([CLI, 'start', root]);
  await waitReady(server, 240_000);
});

after(async () => {
  assert.equal(await server?.stop(), 0, server?.logs());
});

const v2 = (rows: number[][]) => ({ inputs: [{ name: 'input-0', shape: [rows.length, rows[0].length], datatype: 'FP64', data: rows.flat() }] });
const nest = (o: { shape: number[]; data: number[] }) => Array.from({ length: o.shape[0] }, (_, i) => o.data.slice(i * o.shape[1], (i + 1) * o.shape[1]));

describe('MLflow models and user classes as repository models', () => {
  test('the index lists all four READY', async () => {
    const idx = (await postJson(`${server.url}/v2/repository/index`, {})).json as Array<{ name: string; state: string; reason: string }>;
    assert.deepEqual(
      idx.map((r) => `${r.name}:${r.state}`),
      ['custom-knn:READY', 'custom-lr:READY', 'iris-mlflow:READY', 'xgb-mlflow:READY'],
      JSON.stringify(idx),
    );
  });

  test('two classes from same-named modules in two folders each answer with their own model, over V2 and Seldon', async () => {
    for (const name of ['custom-lr', 'custom-knn']) {
      const r = await postJson(`${server.url}/v2/models/${name}/infer`, v2(trained.rows));
      assert.equal(r.status, 200, r.text);
      assertClose(nest(r.json.outputs[0]), trained.proba[name], 1e-12);
      const s = await postJson(`${server.url}/seldon/ns/${name}/api/v1.0/predictions`, { data: { ndarray: trained.rows } });
      assert.equal(s.status, 200, s.text);
      assertClose(s.json.data.ndarray, trained.proba[name], 1e-12);
    }
  });

  test('/v2/models/{m}/invocations is MLflow scoring by name; the root /invocations asks to name one of several', async () => {
    const iris = mlflow.expected.iris as { columns: string[]; rows: number[][]; predict: number[] };
    const a = await postJson(`${server.url}/v2/models/iris-mlflow/invocations`, { dataframe_split: { columns: iris.columns, data: iris.rows } });
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(a.json.predictions, iris.predict);
    const xgb = mlflow.expected.xgboost as { columns: string[]; rows: number[][]; predict: number[] };
    const b = await postJson(`${server.url}/v2/models/xgb-mlflow/invocations`, { dataframe_split: { columns: xgb.columns, data: xgb.rows } });
    assert.equal(b.status, 200, b.text);
    assert.deepEqual(b.json.predictions, xgb.predict);
    // MLflow's error shape for a bad body, from the named model's own route
    const bad = await postJson(`${server.url}/v2/models/iris-mlflow/invocations`, [[1, 2]]);
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.error_code, 'BAD_REQUEST');
    // a class model has no /invocations; an unknown model is a 404
    assert.equal((await postJson(`${server.url}/v2/models/custom-lr/invocations`, {})).status, 404);
    assert.equal((await postJson(`${server.url}/v2/models/nope/invocations`, {})).status, 404);
    const root = await postJson(`${server.url}/invocations`, { dataframe_split: { columns: iris.columns, data: iris.rows } });
    assert.equal(root.status, 400, root.text);
    assert.match(root.json.message, /name one/);
    assert.equal((await fetch(`${server.url}/ping`)).status, 200);
  });

  test('unload and load of a class model frees and rebuilds it in the shared processes', async () => {
    assert.equal((await postJson(`${server.url}/v2/repository/models/custom-knn/unload`, '')).status, 200);
    assert.equal((await postJson(`${server.url}/v2/models/custom-knn/infer`, v2(trained.rows))).status, 503);
    const lr = await postJson(`${server.url}/v2/models/custom-lr/infer`, v2(trained.rows));
    assertClose(nest(lr.json.outputs[0]), trained.proba['custom-lr'], 1e-12);
    assert.equal((await postJson(`${server.url}/v2/repository/models/custom-knn/load`, '')).status, 200);
    const knn = await postJson(`${server.url}/v2/models/custom-knn/infer`, v2(trained.rows));
    assert.equal(knn.status, 200, knn.text);
    assertClose(nest(knn.json.outputs[0]), trained.proba['custom-knn'], 1e-12);
  });
});
