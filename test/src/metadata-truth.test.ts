// Issue 16 item 4: metadata tells the truth. For each server type and fixture model (trained here), ask the V2
// metadata, infer every declared output over REST, and check the answer's datatype and shape against the
// declaration (-1 matches any size). XGBoost multi-class boosters used to declare [-1] and answer [N, 3].
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sklearnModels } from './helpers/models.js';
import { pythonJson } from './helpers/python.js';
import { postJson, serveCli, waitReady, type ServerProcess } from './helpers/server.js';

const TRAIN_XGB = `
import json, os, sys
import xgboost as xgb
from sklearn.datasets import load_iris, load_breast_cancer, load_diabetes
out = sys.argv[1]
paths = {}
def save(name, model):
    d = os.path.join(out, name); os.makedirs(d); model.save_model(os.path.join(d, 'model.json')); paths[name] = d
Xi, yi = load_iris(return_X_y=True)
save('softprob', xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(Xi, yi))
save('softmax', xgb.XGBClassifier(n_estimators=5, max_depth=2, objective='multi:softmax').fit(Xi, yi))
Xb, yb = load_breast_cancer(return_X_y=True)
save('binary', xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(Xb, yb))
Xd, yd = load_diabetes(return_X_y=True)
save('regression', xgb.XGBRegressor(n_estimators=5, max_depth=2).fit(Xd, yd))
print(json.dumps(paths))
`;

interface Fixture {
  label: string;
  args: string[];
}

const fixtures: Fixture[] = [];

before(async () => {
  const sk = await sklearnModels();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-xgb-md-'));
  const xgb = await pythonJson<Record<string, string>>(TRAIN_XGB, ['xgboost', 'sklearn'], [dir]);
  // SVC has no native export: auto serves it in Python. The Python engine's declarations come from the same probe,
  // so one model per server checks it.
  for (const m of ['iris', 'svc', 'diabetes']) fixtures.push({ label: `SKLEARN_SERVER ${m}`, args: ['SKLEARN_SERVER', '--model-uri', sk.paths[m]] });
  for (const m of ['softprob', 'softmax', 'binary', 'regression']) fixtures.push({ label: `XGBOOST_SERVER ${m}`, args: ['XGBOOST_SERVER', '--model-uri', xgb[m], '--param', 'engine=native'] });
  fixtures.push({ label: 'SKLEARN_SERVER iris engine=python', args: ['SKLEARN_SERVER', '--model-uri', sk.paths.iris, '--param', 'engine=python'] });
  for (const m of ['softprob', 'binary']) fixtures.push({ label: `XGBOOST_SERVER ${m} engine=python`, args: ['XGBOOST_SERVER', '--model-uri', xgb[m], '--param', 'engine=python'] });
});

/** Does the answered shape fit the declared one (-1 matches any size)? */
const fits = (declared: number[], got: number[]) => declared.length === got.length && declared.every((d, i) => d === -1 || d === got[i]);

describe('every declared output answers with its declared datatype and shape', () => {
  test('sklearn and xgboost models on both engines', async () => {
    const problems: string[] = [];
    for (const f of fixtures) {
      let server: ServerProcess | undefined;
      try {
        server = await serveCli([...f.args, '--model-name', 'm']);
        await waitReady(server);
        const md = (await (await fetch(`${server.url}/v2/models/m`)).json()) as any;
        const input = md.inputs[0];
        assert.equal(input.shape[0], -1, `${f.label}: the batch dimension is -1`);
        const n = input.shape[1];
        const rows = 3;
        const data = Array.from({ length: rows * n }, (_, i) => ((i * 7) % 11) / 10);
        for (const o of md.outputs) {
          const r = await postJson(`${server.url}/v2/models/m/infer`, { inputs: [{ name: input.name, datatype: input.datatype, shape: [rows, n], data }], outputs: [{ name: o.name }] });
          if (r.status !== 200) {
            // An output the model cannot give (multi:softmax has no probabilities) must at least be a clear 400.
            if (r.status !== 400) problems.push(`${f.label} ${o.name}: ${r.status} ${r.text}`);
            continue;
          }
          const t = r.json.outputs[0];
          if (t.datatype !== o.datatype) problems.push(`${f.label} ${o.name}: declared ${o.datatype}, answered ${t.datatype}`);
          if (!fits(o.shape, t.shape)) problems.push(`${f.label} ${o.name}: declared [${o.shape}], answered [${t.shape}]`);
          if (t.shape[0] !== rows) problems.push(`${f.label} ${o.name}: ${rows} rows in, [${t.shape}] out`);
        }
      } finally {
        if (server) assert.equal(await server.stop(), 0, server.logs());
      }
    }
    assert.deepEqual(problems, []);
  });
});

