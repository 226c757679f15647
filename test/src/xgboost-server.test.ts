// XGBOOST_SERVER over real sockets: every file format and the main objectives, answers compared with what xgboost
// itself predicts; Seldon returns booster.predict, V2 offers predict / predict_proba; a model the native engine
// cannot reproduce falls back to xgboost in Python.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertClose } from './helpers/models.js';
import { pythonJson } from './helpers/python.js';
import { postJson, serveCli, waitReady, type ServerProcess } from './helpers/server.js';

interface Case {
  dir: string;
  rows: number[][];
  booster: number[] | number[][];
  predict?: number[];
  predict_proba?: number[][];
}

const TRAIN = `
import json, os, sys
import numpy as np, pandas as pd, xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_iris, load_diabetes
out = sys.argv[1]
cases = {}
def save(name, model, file, X, classifier):
    d = os.path.join(out, name); os.makedirs(d)
    booster = model.get_booster() if hasattr(model, 'get_booster') else model
    if hasattr(model, 'save_model'): model.save_model(os.path.join(d, file))
    rows = X[:5].copy()
    rows[0, 0] = np.nan  # missing values follow each node's default direction
    case = {'dir': d, 'rows': [[None if np.isnan(v) else float(v) for v in r] for r in rows],
            'booster': booster.predict(xgb.DMatrix(rows)).tolist()}
    if classifier:
        case['predict'] = model.predict(rows).tolist()
        case['predict_proba'] = model.predict_proba(rows).tolist()
    cases[name] = case
Xb, yb = load_breast_cancer(return_X_y=True)
Xi, yi = load_iris(return_X_y=True)
Xd, yd = load_diabetes(return_X_y=True)
Xb[::7, 3] = np.nan
save('binary-json', xgb.XGBClassifier(n_estimators=30, max_depth=4).fit(Xb, yb), 'model.json', Xb, True)
save('binary-ubj', xgb.XGBClassifier(n_estimators=30, max_depth=4).fit(Xb, yb), 'model.ubj', Xb, True)
save('multi-bst', xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(Xi, yi), 'model.bst', Xi, True)
save('regression-fil', xgb.XGBRegressor(n_estimators=40, max_depth=5).fit(Xd, yd), 'xgboost.json', Xd, False)
rng = np.random.RandomState(0)
df = pd.DataFrame({'a': pd.Categorical(rng.randint(0, 4, 300)), 'b': rng.rand(300)})
cat = xgb.train({'tree_method': 'hist', 'max_cat_to_onehot': 1, 'max_depth': 3}, xgb.DMatrix(df, rng.rand(300), enable_categorical=True), 5)
d = os.path.join(out, 'categorical'); os.makedirs(d); cat.save_model(os.path.join(d, 'model.json'))
rows = np.column_stack([rng.randint(0, 4, 5).astype(float), rng.rand(5)])
dm = xgb.DMatrix(pd.DataFrame({'a': pd.Categorical(rows[:, 0].astype(int), categories=[0, 1, 2, 3]), 'b': rows[:, 1]}), enable_categorical=True)
cases['categorical'] = {'dir': d, 'rows': rows.tolist(), 'booster': cat.predict(dm).tolist()}
json.dump(cases, sys.stdout)
`;

let cases: Record<string, Case>;
before(async () => {
  cases = await pythonJson<Record<string, Case>>(TRAIN, ['xgboost', 'sklearn', 'pandas'], [mkdtempSync(path.join(os.tmpdir(), 'xgb-server-'))]);
});

function serve(name: string, extra: string[] = []): { server: () => ServerProcess } {
  let server: ServerProcess;
  before(async () => {
    server = await serveCli(['XGBOOST_SERVER', '--model-uri', cases[name].dir, '--model-name', name, ...extra]);
    await waitReady(server);
  });
  after(async () => {
    assert.equal(await server.stop(), 0, server.logs());
  });
  return { server: () => server };
}

// XGBoost predicts in float32: native and library agree to the float32 step.
const F32 = 1e-6;

for (const name of ['binary-json', 'binary-ubj', 'multi-bst', 'regression-fil']) {
  describe(name, () => {
    const s = serve(name);
    test('Seldon answers booster.predict; 2-D outputs are named t:i', async () => {
      const c = cases[name];
      const r = await postJson(`${s.server().url}/api/v1.0/predictions`, { data: { ndarray: c.rows } });
      assert.equal(r.status, 200, r.text.slice(0, 300));
      const two = Array.isArray(c.booster[0]);
      assert.deepEqual(r.json.data.names, two ? (c.booster[0] as number[]).map((_, i) => `t:${i}`) : []);
      assertClose(r.json.data.ndarray, c.booster, F32);
    });
    test('V2: predict by default, predict_proba for classifiers; native engine in metadata', async () => {
      const c = cases[name];
      const input = { name: 'x', shape: [c.rows.length, c.rows[0].length], datatype: 'FP64', data: c.rows.flat() };
      const md = (await (await fetch(`${s.server().url}/v2/models/${name}`)).json()) as any;
      assert.equal(md.parameters.engine, 'native');
      const r = await postJson(`${s.server().url}/v2/models/${name}/infer`, { inputs: [input] });
      assert.equal(r.status, 200, r.text.slice(0, 300));
      if (c.predict) {
        assert.deepEqual(r.json.outputs[0].data, c.predict);
        const p = await postJson(`${s.server().url}/v2/models/${name}/infer`, { inputs: [input], outputs: [{ name: 'predict_proba' }] });
        assertClose(p.json.outputs[0].data, c.predict_proba!.flat(), F32);
      } else {
        assertClose(r.json.outputs[0].data, c.booster as number[], F32);
      }
    });
    test('KServe V1 answers booster.predict; a wrong feature count is a 400', async () => {
      const c = cases[name];
      const r = await postJson(`${s.server().url}/v1/models/${name}:predict`, { instances: c.rows });
      assertClose(r.json.predictions, c.booster, F32);
      const bad = await postJson(`${s.server().url}/v1/models/${name}:predict`, { instances: [[1, 2]] });
      assert.equal(bad.status, 400);
      assert.match(bad.json.error, /expected \d+ features per row, got 2/);
    });
  });
}

describe('a model the native engine cannot reproduce (categorical splits)', () => {
  const s = serve('categorical');
  test('is served by xgboost in Python, with the same answers as the library', async () => {
    const md = (await (await fetch(`${s.server().url}/v2/models/categorical`)).json()) as any;
    assert.equal(md.parameters.engine, 'python');
    assert.match(s.server().logs(), /native engine cannot serve .*categorical.*falling back to xgboost in Python/);
    const c = cases.categorical;
    const r = await postJson(`${s.server().url}/api/v1.0/predictions`, { data: { ndarray: c.rows } });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assertClose(r.json.data.ndarray, c.booster, F32);
  });
});

describe('engine=python on a supported model', () => {
  const s = serve('binary-json', ['--param', 'engine=python']);
  test('gives the same answers as the native engine', async () => {
    const c = cases['binary-json'];
    const r = await postJson(`${s.server().url}/api/v1.0/predictions`, { data: { ndarray: c.rows } });
    assertClose(r.json.data.ndarray, c.booster, F32);
    const p = await postJson(`${s.server().url}/v2/models/binary-json/infer`, {
      inputs: [{ name: 'x', shape: [5, c.rows[0].length], datatype: 'FP64', data: c.rows.flat() }],
      outputs: [{ name: 'predict' }, { name: 'predict_proba' }],
    });
    assert.deepEqual(p.json.outputs[0].data, c.predict);
    assertClose(p.json.outputs[1].data, c.predict_proba!.flat(), F32);
  });
});
