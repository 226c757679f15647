#!/usr/bin/env node
// Native engine vs xgboost's own predictor: 10k rows x 20 features, 200 trees of depth 6, binary:logistic.
// Both single-threaded, timed in-process (best of several runs). Needs `npx tsc -b` first.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadXGBoostModel } from '../shared/dist/native/index.js';

const dir = mkdtempSync(join(tmpdir(), 'bench-native-'));
const py = process.env.PYTHON_BIN ?? '/usr/bin/python3';
const code = String.raw`
import sys, time, json, numpy as np, xgboost as xgb
from sklearn.datasets import make_classification
X, y = make_classification(n_samples=10000, n_features=20, n_informative=12, random_state=0)
b = xgb.train({"objective": "binary:logistic", "max_depth": 6, "nthread": 1}, xgb.DMatrix(X, y), 200)
b.save_model(sys.argv[1] + "/model.json")
X.astype("<f8").tofile(sys.argv[1] + "/X.f64")
b.set_param({"nthread": 1})
best_dm = best_inplace = 1e9
for _ in range(5):
    d = xgb.DMatrix(X, nthread=1)  # a fresh DMatrix each time: booster.predict caches per DMatrix
    t = time.perf_counter(); p = b.predict(d); best_dm = min(best_dm, time.perf_counter() - t)
    t = time.perf_counter(); b.inplace_predict(X); best_inplace = min(best_inplace, time.perf_counter() - t)
p.astype("<f4").tofile(sys.argv[1] + "/p.f32")
print(json.dumps({"dmatrix_s": best_dm, "inplace_s": best_inplace}))
`;
const pyTimes = JSON.parse(execFileSync(py, ['-c', code, dir], { encoding: 'utf8' }));
const model = await loadXGBoostModel(join(dir, 'model.json'));
const X = new Float64Array(readFileSync(join(dir, 'X.f64')).buffer.slice(0));
const want = new Float32Array(readFileSync(join(dir, 'p.f32')).buffer.slice(0));
const n = 10000;
let best = Infinity;
let out;
for (let i = 0; i < 7; i++) {
  const t = process.hrtime.bigint();
  out = model.run(X, n, 'booster');
  best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9);
}
const mismatches = want.reduce((c, v, i) => c + (v === out.data[i] ? 0 : 1), 0);
const rate = (s) => Math.round(n / s).toLocaleString('en-US');
console.log(`native (Node ${process.version}, 1 thread):        ${rate(best)} rows/s  (${(best * 1e3).toFixed(1)} ms / 10k rows)`);
console.log(`xgboost ${'booster.predict(DMatrix), nthread=1'}: ${rate(pyTimes.dmatrix_s)} rows/s  (${(pyTimes.dmatrix_s * 1e3).toFixed(1)} ms, excl. DMatrix build)`);
console.log(`xgboost inplace_predict, nthread=1:        ${rate(pyTimes.inplace_s)} rows/s  (${(pyTimes.inplace_s * 1e3).toFixed(1)} ms)`);
console.log(`outputs differing from xgboost: ${mismatches} / ${n}`);
rmSync(dir, { recursive: true, force: true });
