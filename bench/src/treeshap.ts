/**
 * TreeSHAP throughput in process: our exact path-dependent TreeSHAP (one thread) against xgboost's own
 * `predict(pred_contribs=True)` with nthread=1, both on the breast-cancer rows of a 100-tree, depth-6 booster.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { findPython } from '@modelfleet/shared';
import { loadXGBoostModel } from '@modelfleet/shared/native/index';
import { treeShap, treeViewOf } from '@modelfleet/shared/explain/tree-shap';
import { loadBackground } from '@modelfleet/shared/explain/background';

const PY = `
import sys, os, json, time, numpy as np, xgboost as xgb
from sklearn.datasets import load_breast_cancer
d = sys.argv[1]
X, y = load_breast_cancer(return_X_y=True)
m = xgb.XGBClassifier(n_estimators=100, max_depth=6, n_jobs=1, random_state=0).fit(X, y)
b = m.get_booster(); b.set_param({"nthread": 1})
b.save_model(os.path.join(d, "model.json")); np.save(os.path.join(d, "X.npy"), X)
dm = xgb.DMatrix(X, nthread=1)
b.predict(dm, pred_contribs=True)
best = min((lambda t: (b.predict(dm, pred_contribs=True), time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(5))
print(json.dumps({"rows": int(X.shape[0]), "seconds": best}))
`;

export interface TreeShapThroughput {
  rows: number;
  oursRowsPerSec: number;
  xgboostRowsPerSec: number;
  ratio: number;
}

export async function treeShapThroughput(dir: string): Promise<TreeShapThroughput> {
  const py = await findPython(['xgboost', 'sklearn']);
  const { stdout } = await promisify(execFile)(py.bin, ['-c', PY, dir], { maxBuffer: 64 * 1024 * 1024 });
  const ref = JSON.parse(stdout) as { rows: number; seconds: number };
  const view = treeViewOf(await loadXGBoostModel(path.join(dir, 'model.json')));
  const { X, nRows } = loadBackground(path.join(dir, 'X.npy'));
  treeShap(view, X, nRows); // warm-up: the JIT compiles the recursion
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    treeShap(view, X, nRows);
    best = Math.min(best, (performance.now() - t) / 1000);
  }
  const ours = nRows / best;
  const theirs = ref.rows / ref.seconds;
  return { rows: nRows, oursRowsPerSec: ours, xgboostRowsPerSec: theirs, ratio: ours / theirs };
}
