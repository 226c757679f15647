// The client library against the servers that answer its repository and explain calls, over real sockets:
// `modelfleet start <repo>` for repositoryIndex / loadModel / unloadModel over REST and over gRPC (Triton's RPCs on
// inference.GRPCInferenceService), and XGBOOST_SERVER with a TreeShap explainer for client.seldon.explain,
// client.kserve.explain and `modelfleet predict --explain`. Answers are checked against what scikit-learn and
// xgboost compute in Python (predict_proba, pred_contribs, the margin from output_margin=True).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClientError, ModelClient, seldonData } from '@modelfleet/client';
import { rejects } from './helpers/client-errors.js';
import { assertClose } from './helpers/models.js';
import { pythonJson } from './helpers/python.js';
import { CLI, serveCli, spawnServer, waitReady, type ServerProcess } from './helpers/server.js';

interface Trained {
  repo: string;
  xgb: string;
  iris_rows: number[][];
  iris_proba: number[][];
  rows: number[][];
  contribs: number[][];
  margin: number[];
}

const TRAIN = `
import json, os, sys
import joblib, numpy as np, xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression
root = sys.argv[1]
def folder(*p):
    d = os.path.join(root, *p); os.makedirs(d, exist_ok=True); return d
X, y = load_iris(return_X_y=True)
lr = LogisticRegression(max_iter=1000).fit(X, y)
joblib.dump(lr, os.path.join(folder('repo', 'iris'), 'model.joblib'))
with open(os.path.join(folder('repo', 'iris'), 'model-settings.json'), 'w') as f:
    json.dump({'name': 'iris', 'implementation': 'mlserver_sklearn.SKLearnModel'}, f)
Xb, yb = load_breast_cancer(return_X_y=True)
m = xgb.XGBClassifier(n_estimators=25, max_depth=3, n_jobs=1).fit(Xb, yb)
m.save_model(os.path.join(folder('repo', 'cancer'), 'model.json'))
with open(os.path.join(folder('repo', 'cancer'), 'model-settings.json'), 'w') as f:
    json.dump({'name': 'cancer', 'implementation': 'mlserver_xgboost.XGBoostModel'}, f)
m.save_model(os.path.join(folder('xgb'), 'model.json'))
rows = Xb[[0, 20, 40, 60]]
d = xgb.DMatrix(rows)
b = m.get_booster()
iris_rows = X[::30]
json.dump({'repo': os.path.join(root, 'repo'), 'xgb': os.path.join(root, 'xgb'),
           'iris_rows': iris_rows.tolist(), 'iris_proba': lr.predict_proba(iris_rows).tolist(),
           'rows': rows.tolist(), 'contribs': b.predict(d, pred_contribs=True).tolist(),
           'margin': b.predict(d, output_margin=True).tolist()}, sys.stdout)
`;

let t: Trained;
let repo: ServerProcess;
let explainer: ServerProcess;
const clients: ModelClient[] = [];

before(async () => {
  t = await pythonJson<Trained>(TRAIN, ['sklearn', 'xgboost', 'joblib'], [mkdtempSync(path.join(os.tmpdir(), 'modelfleet-client-servers-'))]);
  [repo, explainer] = await Promise.all([
    spawnServer([CLI, 'start', t.repo]),
    serveCli(['XGBOOST_SERVER', '--model-uri', t.xgb, '--model-name', 'cancer'], { MODELFLEET_EXPLAINER_TYPE: 'TreeShap' }),
  ]);
  await Promise.all([waitReady(repo, 180_000), waitReady(explainer, 120_000)]);
});
after(async () => {
  for (const c of clients) c.close();
  for (const s of [repo, explainer]) if (s) assert.equal(await s.stop(), 0, s.logs());
});

function client(server: ServerProcess, transport: 'rest' | 'grpc'): ModelClient {
  const c = new ModelClient({ url: server.url, grpc: server.grpcTarget, transport });
  clients.push(c);
  return c;
}

const states = async (c: ModelClient, ready?: boolean) =>
  Object.fromEntries((await c.v2.repositoryIndex(ready === undefined ? {} : { ready })).map((e) => [e.name, e.state]));

for (const transport of ['rest', 'grpc'] as const) {
  describe(`V2 repository calls over ${transport} against \`modelfleet start\``, () => {
    test('index, unload, load: the model stops and comes back answering as scikit-learn does', async () => {
      const c = client(repo, transport);
      assert.deepEqual(await states(c), { cancer: 'READY', iris: 'READY' });
      const infer = () => c.v2.infer('iris', { inputs: [{ name: 'x', data: t.iris_rows }], outputs: ['predict_proba'] });
      assertClose(Array.from((await infer()).outputs[0].data as Float64Array), t.iris_proba.flat());

      await c.v2.unloadModel('iris');
      assert.equal((await states(c)).iris, 'UNAVAILABLE');
      assert.deepEqual(Object.keys(await states(c, true)), ['cancer']);
      const gone = await rejects(infer());
      if (transport === 'rest') assert.ok([404, 503].includes(gone.status!), gone.message);
      else assert.ok(['NOT_FOUND', 'UNAVAILABLE'].includes(gone.grpcCode!), gone.message);
      assert.equal(await c.v2.modelReady('cancer'), true);

      await c.v2.loadModel('iris');
      assert.deepEqual(await states(c, true), { cancer: 'READY', iris: 'READY' });
      assert.equal(await c.v2.modelReady('iris'), true);
      assertClose(Array.from((await infer()).outputs[0].data as Float64Array), t.iris_proba.flat());
    });

    test("an unknown model is the server's 404 / NOT_FOUND", async () => {
      const c = client(repo, transport);
      for (const call of [c.v2.loadModel('nope'), c.v2.unloadModel('nope')]) {
        const e = await rejects(call);
        if (transport === 'rest') assert.equal(e.status, 404, e.message);
        else assert.equal(e.grpcCode, 'NOT_FOUND', e.message);
        assert.match(e.message, /nope/);
      }
    });

    test('a single-model server lists its model and refuses load/unload with 501 / UNIMPLEMENTED', async () => {
      const c = client(explainer, transport);
      assert.deepEqual(await states(c), { cancer: 'READY' });
      const e = await rejects(c.v2.unloadModel('cancer'));
      if (transport === 'rest') assert.equal(e.status, 501, e.message);
      else assert.equal(e.grpcCode, 'UNIMPLEMENTED', e.message);
      assert.equal(await c.v2.modelReady('cancer'), true);
    });
  });
}

/** An Alibi TreeShap Explanation for `t.rows`: the SHAP values equal xgboost's pred_contribs, and each row's
 *  values plus the expected value add up to the model's margin (the local accuracy property). */
function checkExplanation(json: any): void {
  assert.equal(json.meta?.name, 'TreeShap', JSON.stringify(json).slice(0, 300));
  const M = t.contribs[0].length - 1;
  const shap = json.data.shap_values[0] as number[][];
  const base = json.data.expected_value[0] as number;
  assert.equal(shap.length, t.rows.length);
  assertClose(shap, t.contribs.map((r) => r.slice(0, M)), 1e-5);
  assert.ok(Math.abs(base - t.contribs[0][M]) < 1e-5, `expected_value ${base} vs ${t.contribs[0][M]}`);
  shap.forEach((r, i) => {
    const sum = r.reduce((a, v) => a + v, base);
    assert.ok(Math.abs(sum - t.margin[i]) < 1e-4 * Math.max(1, Math.abs(t.margin[i])), `row ${i}: ${sum} vs margin ${t.margin[i]}`);
  });
}

function modelfleet(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('explain against XGBOOST_SERVER with a TreeShap explainer', () => {
  test('client.seldon.explain answers the Explanation equal to pred_contribs, summing to the margin', async () => {
    checkExplanation(await client(explainer, 'rest').seldon.explain(seldonData(t.rows)));
  });

  test('client.kserve.explain answers the same Explanation', async () => {
    checkExplanation(await client(explainer, 'rest').kserve.explain('cancer', { instances: t.rows }));
    const e = await rejects(client(explainer, 'rest').kserve.explain('other', { instances: t.rows }));
    assert.equal(e.status, 404);
  });

  test('modelfleet predict --explain prints it (Seldon, KServe; V2 via <model>-explainer); no explainer is exit 1', async () => {
    for (const protocol of ['seldon', 'kserve']) {
      const r = await modelfleet(['predict', '--url', explainer.url, '--protocol', protocol, '--model', 'cancer', '--explain', '--data', JSON.stringify(t.rows)]);
      assert.equal(r.code, 0, r.stderr);
      checkExplanation(JSON.parse(r.stdout));
    }
    // V2: the explainer is a model named <model>-explainer answering one BYTES output holding the JSON.
    const v2 = await modelfleet(['predict', '--url', explainer.url, '--protocol', 'v2', '--model', 'cancer-explainer', '--data', JSON.stringify(t.rows)]);
    assert.equal(v2.code, 0, v2.stderr);
    const out = JSON.parse(v2.stdout).outputs[0];
    assert.equal(out.datatype, 'BYTES');
    checkExplanation(JSON.parse(out.data[0]));
    const refused = await modelfleet(['predict', '--url', explainer.url, '--protocol', 'v2', '--model', 'cancer', '--explain', '--data', '[[1]]']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--model <model>-explainer/);
    const none = await modelfleet(['predict', '--url', repo.url, '--protocol', 'kserve', '--model', 'iris', '--explain', '--data', JSON.stringify(t.iris_rows)]);
    assert.equal(none.code, 1, none.stdout + none.stderr);
  });
});
