import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadXGBoostModel, UnsupportedModelError, NativeInputError } from '@modelfleet/shared/native/index';
import { pythonJson } from './helpers/python.js';
import { assertOutputMatches, decodeF64, type EncodedArray, type EncodedOutput } from './helpers/native-compare.js';

type Case = { name: string; X: EncodedArray; n: number; outputs: Record<string, EncodedOutput> };

// Trains every model in one Python process, saves each as .json/.ubj/.bst, and records xgboost's own outputs.
const TRAIN = String.raw`
import sys, json, os, warnings, base64
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd, xgboost as xgb
from sklearn.datasets import load_iris, load_breast_cancer, load_diabetes
out_dir = sys.argv[1]
def arr(a):
    a = np.ascontiguousarray(np.asarray(a, dtype="<f8"))
    return {"dtype": "f8", "shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode()}
def enc(a):
    a = np.asarray(a)
    if a.dtype.kind in "iu":
        return {"datatype": "INT64", "shape": list(a.shape), "data": [str(int(v)) for v in a.ravel()]}
    return {"datatype": "FP32" if a.dtype == np.float32 else "FP64", "shape": list(a.shape), "data": arr(a)}
rng = np.random.RandomState(0)
Xi, yi = load_iris(return_X_y=True)
Xb, yb = load_breast_cancer(return_X_y=True)
Xd, yd = load_diabetes(return_X_y=True)
Xb_nan = Xb.copy(); Xb_nan[rng.rand(*Xb.shape) < 0.15] = np.nan
Xd_nan = Xd.copy(); Xd_nan[rng.rand(*Xd.shape) < 0.15] = np.nan
cases = []
def save(name, booster, X, extra):
    for ext in ("json", "ubj", "bst"):
        booster.save_model(os.path.join(out_dir, f"{name}.{ext}"))
    Xp = np.vstack([X, X[:20] * 1.01, np.full((1, X.shape[1]), np.nan)])
    outputs = {"booster": enc(booster.predict(xgb.DMatrix(Xp))), "raw": enc(booster.predict(xgb.DMatrix(Xp), output_margin=True))}
    outputs.update({k: enc(f(Xp)) for k, f in extra.items()})
    cases.append({"name": name, "X": arr(Xp), "n": int(Xp.shape[0]), "outputs": outputs})
def wrapper(name, m, X, y, **fit):
    m.fit(X, y, **fit)
    extra = {"predict": m.predict}
    if hasattr(m, "predict_proba"):
        extra["predict_proba"] = m.predict_proba
    save(name, m.get_booster(), X, extra)
def booster(name, params, X, y, rounds=15):
    save(name, xgb.train({**params, "nthread": 1}, xgb.DMatrix(X, y), rounds), X, {})

wrapper("binary-logistic-deep-nan", xgb.XGBClassifier(n_estimators=25, max_depth=8, n_jobs=1), Xb_nan, yb)
wrapper("binary-logistic-stump-base", xgb.XGBClassifier(n_estimators=10, max_depth=1, base_score=0.3, n_jobs=1), Xb, yb)
wrapper("multi-softprob", xgb.XGBClassifier(n_estimators=12, max_depth=3, n_jobs=1), Xi, yi)
wrapper("multi-softmax", xgb.XGBClassifier(objective="multi:softmax", n_estimators=12, max_depth=3, n_jobs=1), Xi, yi)
wrapper("reg-squarederror-nan", xgb.XGBRegressor(n_estimators=30, max_depth=5, n_jobs=1), Xd_nan, yd)
wrapper("dart", xgb.XGBClassifier(booster="dart", rate_drop=0.3, n_estimators=15, max_depth=3, n_jobs=1), Xb_nan, yb)
wrapper("gblinear", xgb.XGBRegressor(booster="gblinear", n_estimators=20, n_jobs=1), Xd_nan, yd)
wrapper("rf-parallel-trees", xgb.XGBRFClassifier(n_estimators=4, max_depth=4, n_jobs=1), Xi, yi)
wrapper("early-stopping", xgb.XGBClassifier(n_estimators=200, learning_rate=0.5, max_depth=4, early_stopping_rounds=3, n_jobs=1), Xb[:400], yb[:400], eval_set=[(Xb[400:], yb[400:])], verbose=False)
booster("binary-logitraw", {"objective": "binary:logitraw", "max_depth": 3, "base_score": 0.3}, Xb_nan, yb)
booster("binary-hinge", {"objective": "binary:hinge", "max_depth": 3}, Xb, yb)
booster("reg-logistic", {"objective": "reg:logistic", "max_depth": 4}, Xd, (yd - yd.min()) / np.ptp(yd))
booster("count-poisson", {"objective": "count:poisson", "max_depth": 4}, Xd_nan, yd)
booster("reg-tweedie", {"objective": "reg:tweedie", "max_depth": 4, "tweedie_variance_power": 1.3}, Xd, yd)
booster("reg-gamma", {"objective": "reg:gamma", "max_depth": 4}, Xd, yd)
booster("multi-softprob-parallel", {"objective": "multi:softprob", "num_class": 3, "num_parallel_tree": 2, "subsample": 0.7, "max_depth": 2}, Xi, yi, 6)
booster("gblinear-multi", {"objective": "multi:softprob", "num_class": 3, "booster": "gblinear"}, Xi, yi, 10)

df = pd.DataFrame({"a": pd.Categorical(rng.randint(0, 4, 200)), "b": rng.rand(200)})
cat = xgb.train({"tree_method": "hist", "max_cat_to_onehot": 1, "max_depth": 3}, xgb.DMatrix(df, rng.rand(200), enable_categorical=True), 4)
cat.save_model(os.path.join(out_dir, "categorical.json"))
cox = xgb.train({"objective": "survival:cox"}, xgb.DMatrix(Xd, yd), 2)
cox.save_model(os.path.join(out_dir, "cox.json"))
json.dump({"cases": cases}, sys.stdout)
`;

const dir = mkdtempSync(join(tmpdir(), 'native-xgb-'));
const fixtures = pythonJson<{ cases: Case[] }>(TRAIN, ['xgboost', 'sklearn', 'pandas'], [dir]);
test.after(() => rmSync(dir, { recursive: true, force: true }));

// exp-based transforms go through libm's expf, which is not always correctly rounded: allow one float32 ulp there.
const F32_RTOL = 2.5e-7;

test('XGBoost models from .json, .ubj and .bst: booster/raw/predict/predict_proba match xgboost', async (t) => {
  const { cases } = await fixtures;
  let exact = 0;
  let total = 0;
  for (const c of cases) {
    await t.test(c.name, async () => {
      const X = decodeF64(c.X);
      // The legacy format goes through one Python conversion per load: check it on a few models only.
      const exts = ['binary-logistic-deep-nan', 'multi-softprob', 'dart', 'gblinear'].includes(c.name) ? ['json', 'ubj', 'bst'] : ['json', 'ubj'];
      for (const ext of exts) {
        const logs: string[] = [];
        const model = await loadXGBoostModel(join(dir, `${c.name}.${ext}`), { log: (m) => logs.push(m) });
        assert.match(logs.join('\n'), ext === 'bst' ? /legacy binary/ : ext === 'json' ? /JSON/ : /UBJSON/);
        assert.match(model.kind, /^xgboost:/);
        for (const [name, want] of Object.entries(c.outputs)) {
          if (ext === 'bst' && (name === 'predict' || name === 'predict_proba')) continue; // no sklearn metadata in .bst
          const got = model.run(X, c.n, name);
          // Margins are float32 sums in the same order as xgboost: they must be bit-identical.
          const rtol = name === 'raw' ? 0 : name === 'predict_proba' && c.name === 'multi-softmax' ? 1e-6 : F32_RTOL;
          const r = assertOutputMatches(`${c.name}.${ext} ${name}`, got, want, rtol, 0);
          if (r.exact < r.total) t.diagnostic(`${c.name}.${ext} ${name}: ${r.total - r.exact}/${r.total} values differ (within ${rtol})`);
          if (name === 'predict_proba' && c.name === 'multi-softmax') return; // numpy's float32 SIMD exp: approximate by design
          exact += r.exact;
          total += r.total;
        }
      }
    });
  }
  t.diagnostic(`bit-identical values: ${exact}/${total}`);
  assert.ok(exact / total > 0.9995, `only ${exact}/${total} values bit-identical`);
});

test('early stopping: predict uses best_iteration, booster uses every tree', async () => {
  const { cases } = await fixtures;
  const c = cases.find((x) => x.name === 'early-stopping')!;
  const model = await loadXGBoostModel(join(dir, 'early-stopping.json'));
  const X = decodeF64(c.X);
  const booster = model.run(X, c.n, 'booster').data as Float32Array;
  const proba = model.run(X, c.n, 'predict_proba').data as Float32Array;
  assert.ok(booster.some((p, i) => p !== proba[2 * i + 1]), 'best_iteration should change the sklearn outputs');
});

test('unsupported XGBoost features raise UnsupportedModelError; bad input raises NativeInputError', async () => {
  await fixtures;
  await assert.rejects(loadXGBoostModel(join(dir, 'categorical.json')), (e: unknown) => e instanceof UnsupportedModelError && /categorical/.test(e.message));
  await assert.rejects(loadXGBoostModel(join(dir, 'cox.json')), (e: unknown) => e instanceof UnsupportedModelError && /survival:cox/.test(e.message));
  const model = await loadXGBoostModel(join(dir, 'multi-softprob.json'));
  assert.deepEqual(model.outputNames, ['booster', 'raw', 'predict', 'predict_proba']);
  assert.throws(() => model.run(new Float64Array(6), 2, 'booster'), (e: unknown) => e instanceof NativeInputError && e.message === 'expected 4 features, got 3');
  const reg = await loadXGBoostModel(join(dir, 'reg-gamma.json'));
  assert.ok(!reg.outputNames.includes('predict_proba'));
});
