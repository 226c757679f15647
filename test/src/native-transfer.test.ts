import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadXGBoostModel, nativeFromSklearnExport, exportSklearnFile, checkParity, type NativeModel } from '@modelfleet/shared/native/index';
import { python } from './helpers/python.js';

const INDEX = fileURLToPath(import.meta.resolve('@modelfleet/shared/native/index'));

// The worker rebuilds the model from the transferable and answers with its output on the same rows.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.index).then(({ nativeFromTransferable }) => {
  const model = nativeFromTransferable(workerData.t);
  const shared = workerData.t.buffers.every((b) => b instanceof SharedArrayBuffer);
  const out = model.run(workerData.X, workerData.n, workerData.output);
  parentPort.postMessage({ kind: model.kind, shared, out });
});
`;

function inWorker(model: NativeModel, X: Float64Array, n: number, output: string): Promise<{ kind: string; shared: boolean; out: { data: ArrayLike<number> } }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { eval: true, workerData: { index: INDEX, t: model.toTransferable(), X, n, output } });
    w.once('message', (m) => {
      void w.terminate();
      resolve(m);
    });
    w.once('error', reject);
  });
}

const dir = mkdtempSync(join(tmpdir(), 'native-transfer-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('models rebuilt in a worker_threads Worker over shared memory give identical outputs', async () => {
  await python(
    String.raw`
import sys, joblib, xgboost as xgb
from sklearn.datasets import load_wine
from sklearn.pipeline import make_pipeline
from sklearn.impute import SimpleImputer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
X, y = load_wine(return_X_y=True)
xgb.XGBClassifier(n_estimators=10, max_depth=3, n_jobs=1).fit(X, y).save_model(sys.argv[1] + "/m.ubj")
joblib.dump(HistGradientBoostingClassifier(max_iter=10).fit(X, y), sys.argv[1] + "/hgb.joblib")
joblib.dump(make_pipeline(SimpleImputer(), LogisticRegression(max_iter=1000)).fit(X, y), sys.argv[1] + "/lr.joblib")
`,
    ['xgboost', 'sklearn', 'joblib'],
    [dir],
  );
  const rows = 50;
  const X = new Float64Array(rows * 13).map((_, i) => ((i * 7919) % 1000) / 10 + (i % 13 === 3 ? NaN : 0));
  const models: [NativeModel, string][] = [[await loadXGBoostModel(join(dir, 'm.ubj')), 'predict_proba']];
  for (const f of ['hgb.joblib', 'lr.joblib']) {
    const r = await exportSklearnFile(join(dir, f));
    assert.ok('export' in r, JSON.stringify(r));
    const model = nativeFromSklearnExport(r.export);
    const report = checkParity(model, r.probe);
    assert.ok(report.ok, report.problems.join('\n'));
    models.push([model, 'predict_proba']);
  }
  for (const [model, output] of models) {
    const local = model.run(X, rows, output);
    const remote = await inWorker(model, X, rows, output);
    assert.equal(remote.kind, model.kind);
    assert.ok(remote.shared, 'buffers should be SharedArrayBuffers');
    assert.deepEqual(Array.from(remote.out.data), Array.from(local.data as ArrayLike<number>));
  }
});

test('a parity probe catches a model that does not match', async () => {
  await python(
    String.raw`
import sys, joblib
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier
X, y = load_iris(return_X_y=True)
joblib.dump(DecisionTreeClassifier(random_state=0).fit(X, y), sys.argv[1] + "/dt.joblib")
`,
    ['sklearn', 'joblib'],
    [dir],
  );
  const r = await exportSklearnFile(join(dir, 'dt.joblib'));
  assert.ok('export' in r);
  const model = nativeFromSklearnExport(r.export);
  assert.ok(checkParity(model, r.probe).ok);
  // Tamper with one expected probability: the check must notice.
  const proba = r.probe.outputs.predict_proba.data as { b64: string };
  const b = Buffer.from(proba.b64, 'base64');
  b.writeDoubleLE(b.readDoubleLE(0) + 1e-6, 0);
  proba.b64 = b.toString('base64');
  const report = checkParity(model, r.probe);
  assert.equal(report.ok, false);
  assert.match(report.problems[0], /^predict_proba\[0\]/);
});
