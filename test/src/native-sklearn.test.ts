import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { nativeFromSklearnExport, UnsupportedModelError, NativeInputError } from '@modelfleet/shared/native/index';
import { pythonJson } from './helpers/python.js';
import { assertOutputMatches, decodeF64, type EncodedArray, type EncodedOutput } from './helpers/native-compare.js';

const PY_DIR = fileURLToPath(new URL('../../shared/python', import.meta.url));

type Case = { name: string; export: unknown; X: EncodedArray; n: number; outputs: Record<string, EncodedOutput> };

// Trains every model in one Python process; each case carries sklearn's own outputs on data rows + probe rows.
const TRAIN = String.raw`
import sys, json, warnings
sys.path.insert(0, sys.argv[1])
warnings.filterwarnings("ignore")
import numpy as np
from modelfleet_sklearn_export import export, probe, parity_payload, Unsupported, _arr, _encode_output
from sklearn.datasets import load_iris, load_breast_cancer, load_diabetes, load_wine, make_classification
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler, MinMaxScaler, RobustScaler, OneHotEncoder
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, Ridge, Lasso, ElasticNet, LogisticRegression, RidgeClassifier, SGDClassifier
from sklearn.svm import LinearSVC, LinearSVR, SVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.ensemble import (RandomForestClassifier, RandomForestRegressor, ExtraTreesClassifier, ExtraTreesRegressor,
    GradientBoostingClassifier, GradientBoostingRegressor, HistGradientBoostingClassifier, HistGradientBoostingRegressor)

rng = np.random.RandomState(0)
Xi, yi = load_iris(return_X_y=True)
yi_str = load_iris().target_names[yi]
Xb, yb = load_breast_cancer(return_X_y=True)
Xd, yd = load_diabetes(return_X_y=True)
Xw, yw = load_wine(return_X_y=True)
Xb_nan = Xb.copy(); Xb_nan[rng.rand(*Xb.shape) < 0.1] = np.nan
Xd_nan = Xd.copy(); Xd_nan[rng.rand(*Xd.shape) < 0.1] = np.nan
Xc, yc = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=3, random_state=1)
Xcat = np.floor(np.clip(Xc[:, :3], -2, 2)) * 1.0  # small integer categories

cases, unsupported = [], []
def case(name, est, X, y):
    est.fit(X, y)
    e = export(est)
    Xe = np.vstack([X[:80], probe(est)])
    cases.append({"name": name, "export": e, "X": _arr(Xe), "n": int(Xe.shape[0]),
                  "outputs": {o: _encode_output(getattr(est, o)(Xe)) for o in e["outputs"]}})
def refuse(name, est, X, y):
    est.fit(X, y)
    try:
        export(est); unsupported.append({"name": name, "reason": None})
    except Unsupported as u:
        unsupported.append({"name": name, "reason": u.reason})

case("LinearRegression", LinearRegression(), Xd, yd)
case("Ridge multi-target", Ridge(alpha=0.5), Xd, np.c_[yd, yd ** 0.5])
case("Lasso", Lasso(alpha=0.1), Xd, yd)
case("ElasticNet", ElasticNet(alpha=0.01, l1_ratio=0.3), Xd, yd)
case("LinearSVR pipeline", make_pipeline(StandardScaler(), LinearSVR(random_state=0, max_iter=5000)), Xd, yd)
case("LogisticRegression binary", make_pipeline(StandardScaler(), LogisticRegression()), Xb, yb)
case("LogisticRegression multinomial", LogisticRegression(max_iter=500), Xi, yi_str)
case("LogisticRegression ovr", LogisticRegression(multi_class="ovr", max_iter=500), Xw, yw)
case("LogisticRegression liblinear", LogisticRegression(solver="liblinear"), Xi, yi)
case("LogisticRegression multinomial binary", make_pipeline(StandardScaler(), LogisticRegression(multi_class="multinomial")), Xb, yb)
case("LinearSVC", make_pipeline(StandardScaler(), LinearSVC(random_state=0, max_iter=5000)), Xw, yw)
case("RidgeClassifier", make_pipeline(RobustScaler(), RidgeClassifier()), Xw, yw)
case("SGDClassifier log_loss", make_pipeline(StandardScaler(), SGDClassifier(loss="log_loss", random_state=0)), Xi, yi)
case("DecisionTreeClassifier deep str labels", DecisionTreeClassifier(random_state=0), Xi, yi_str)
case("DecisionTreeClassifier float labels", DecisionTreeClassifier(max_depth=3, random_state=0), Xb, yb * 2.0 - 1.0)
case("DecisionTreeClassifier bool labels", DecisionTreeClassifier(max_depth=4, random_state=0), Xb, yb == 1)
case("DecisionTreeRegressor shallow", DecisionTreeRegressor(max_depth=3, random_state=0), Xd, yd)
case("DecisionTreeRegressor multi-output", DecisionTreeRegressor(max_depth=6, random_state=0), Xd, np.c_[yd, -yd])
case("RandomForestClassifier", RandomForestClassifier(n_estimators=15, max_depth=6, random_state=0), Xb, yb)
case("RandomForestRegressor", RandomForestRegressor(n_estimators=15, random_state=0), Xd, yd)
case("ExtraTreesClassifier", ExtraTreesClassifier(n_estimators=15, random_state=0), Xw, yw)
case("ExtraTreesRegressor", ExtraTreesRegressor(n_estimators=10, max_depth=8, random_state=0), Xd, yd)
case("GradientBoostingClassifier binary", GradientBoostingClassifier(n_estimators=30, random_state=0), Xb, yb)
case("GradientBoostingClassifier multi", GradientBoostingClassifier(n_estimators=20, max_depth=2, random_state=0), Xi, yi)
case("GradientBoostingClassifier exponential", GradientBoostingClassifier(loss="exponential", n_estimators=20, random_state=0), Xb, yb)
case("GradientBoostingRegressor", GradientBoostingRegressor(n_estimators=40, learning_rate=0.05, random_state=0), Xd, yd)
case("GradientBoostingRegressor huber zero-init", GradientBoostingRegressor(loss="huber", init="zero", n_estimators=20, random_state=0), Xd, yd)
case("HistGradientBoostingClassifier binary NaN", HistGradientBoostingClassifier(max_iter=30, random_state=0), Xb_nan, yb)
case("HistGradientBoostingClassifier multi", HistGradientBoostingClassifier(max_iter=20, random_state=0), Xi, yi_str)
case("HistGradientBoostingRegressor NaN", HistGradientBoostingRegressor(max_iter=30, random_state=0), Xd_nan, yd)
case("HistGradientBoostingRegressor poisson", HistGradientBoostingRegressor(loss="poisson", max_iter=20, random_state=0), Xd, yd)
case("Pipeline imputer(mean)+scaler+LogisticRegression", make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression()), Xb_nan, yb)
case("Pipeline imputer(median, indicator)+RandomForest", make_pipeline(SimpleImputer(strategy="median", add_indicator=True), RandomForestClassifier(n_estimators=10, random_state=0)), Xb_nan, yb)
case("Pipeline imputer(most_frequent)+MinMaxScaler(clip)+Ridge", make_pipeline(SimpleImputer(strategy="most_frequent"), MinMaxScaler(clip=True), Ridge()), Xd_nan, yd)
case("Pipeline imputer(constant)+RobustScaler+LinearRegression", make_pipeline(SimpleImputer(strategy="constant", fill_value=-1.0), RobustScaler(), LinearRegression()), Xd_nan, yd)
case("Pipeline OneHotEncoder+LogisticRegression", make_pipeline(OneHotEncoder(), LogisticRegression(max_iter=500)), Xcat, yc)
case("Pipeline OneHotEncoder(drop first, ignore)+GradientBoosting", make_pipeline(OneHotEncoder(drop="first", handle_unknown="ignore"), GradientBoostingClassifier(n_estimators=10, random_state=0)), Xcat, yc)

refuse("SVC rbf", SVC(), Xi, yi)
refuse("HistGradientBoosting categorical", HistGradientBoostingClassifier(categorical_features=[0], max_iter=5), Xcat, yc)
refuse("GradientBoosting custom init", GradientBoostingRegressor(init=LinearRegression(), n_estimators=5), Xd, yd)
refuse("OneHotEncoder infrequent", make_pipeline(OneHotEncoder(min_frequency=40, handle_unknown="infrequent_if_exist"), LogisticRegression()), Xcat, yc)
payload = parity_payload(make_pipeline(StandardScaler(), LogisticRegression()).fit(Xb, yb))
json.dump({"cases": cases, "unsupported": unsupported, "payload": payload, "svc": parity_payload(SVC().fit(Xi, yi))}, sys.stdout)
`;

const fixtures = pythonJson<{
  cases: Case[];
  unsupported: { name: string; reason: string | null }[];
  payload: { export: unknown; probe: { X: EncodedArray; n_rows: number; outputs: Record<string, EncodedOutput> } };
  svc: { unsupported?: string };
}>(TRAIN, ['sklearn', 'numpy'], [PY_DIR]);

test('sklearn estimators and pipelines: native predict / predict_proba / decision_function match sklearn (1e-9 rel)', async (t) => {
  const { cases } = await fixtures;
  assert.ok(cases.length >= 30);
  for (const c of cases) {
    await t.test(c.name, () => {
      const model = nativeFromSklearnExport(c.export);
      assert.match(model.kind, /^sklearn:/);
      assert.deepEqual([...model.outputNames].sort(), Object.keys(c.outputs).sort());
      const X = decodeF64(c.X);
      for (const [name, want] of Object.entries(c.outputs)) {
        assertOutputMatches(`${c.name} ${name}`, model.run(X, c.n, name), want, 1e-9);
      }
    });
  }
});

test('sklearn models the engine cannot reproduce exactly are refused with a reason', async () => {
  const { unsupported, svc } = await fixtures;
  for (const u of unsupported) assert.ok(u.reason, `${u.name} should be unsupported`);
  assert.match(unsupported.find((u) => u.name === 'SVC rbf')!.reason!, /SVC/);
  assert.match(unsupported.find((u) => u.name === 'HistGradientBoosting categorical')!.reason!, /categorical/);
  assert.throws(() => nativeFromSklearnExport(svc), (e: unknown) => e instanceof UnsupportedModelError && /SVC/.test(e.message));
});

test('parity payload: probe rows checked against the estimator, then input validation like sklearn', async () => {
  const { payload } = await fixtures;
  const model = nativeFromSklearnExport(payload.export);
  const X = decodeF64(payload.probe.X);
  for (const [name, want] of Object.entries(payload.probe.outputs)) assertOutputMatches(name, model.run(X, payload.probe.n_rows, name), want, 1e-9);
  assert.throws(() => model.run(new Float64Array(29), 1, 'predict'), (e: unknown) => e instanceof NativeInputError && e.message === 'expected 30 features, got 29');
  const nan = new Float64Array(30);
  nan[3] = NaN;
  assert.throws(() => model.run(nan, 1, 'predict'), /contains NaN/);
  assert.throws(() => model.run(new Float64Array(30), 1, 'transform'), /not available/);
});
