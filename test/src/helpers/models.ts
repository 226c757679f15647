import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pythonJson } from './python.js';

/** Rows the tests send, with sklearn's own answers for them (computed by the library, never typed in). */
export const IRIS_ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [1, 2, 3, 4],
  [6.2, 3.4, 5.4, 2.3],
  [5.9, 3.0, 4.2, 1.5],
];

export interface TrainedModels {
  dir: string;
  /** model name -> folder holding model.joblib */
  paths: Record<string, string>;
  /** expected[model][method] for IRIS_ROWS (float64) and, under `${method}_f32`, the rows cast to float32. */
  expected: Record<string, Record<string, number[][] | number[]>>;
}

const TRAIN = `
import json, os, sys
import joblib, numpy as np
from sklearn.datasets import load_iris, load_diabetes
from sklearn.linear_model import LogisticRegression, LinearRegression
from sklearn.svm import SVC

out = sys.argv[1]
rows = np.array(json.loads(sys.argv[2]), dtype=np.float64)
X, y = load_iris(return_X_y=True)

class EvalPickle:
    """Unpickles by evaluating code: lets a test build models with behaviour (sleep, crash) at load time."""
    def __init__(self, code): self.code = code
    def __reduce__(self): return (eval, (self.code,))

def save(name, obj):
    os.makedirs(os.path.join(out, name), exist_ok=True)
    joblib.dump(obj, os.path.join(out, name, 'model.joblib'))
    return os.path.join(out, name)

paths, expected = {}, {}
iris = LogisticRegression(max_iter=1000).fit(X, y)
paths['iris'] = save('iris', iris)
expected['iris'] = {m: getattr(iris, m)(rows).tolist() for m in ('predict', 'predict_proba', 'decision_function')}
expected['iris'].update({m + '_f32': getattr(iris, m)(rows.astype(np.float32)).tolist() for m in ('predict', 'predict_proba')})

svc = SVC(probability=False).fit(X, y)
paths['svc'] = save('svc', svc)
expected['svc'] = {m: getattr(svc, m)(rows).tolist() for m in ('predict', 'decision_function')}

Xd, yd = load_diabetes(return_X_y=True)
reg = LinearRegression().fit(Xd, yd)
paths['diabetes'] = save('diabetes', reg)
expected['diabetes'] = {'predict': reg.predict(Xd[:3]).tolist(), 'rows': Xd[:3].tolist()}

# pickled "by another scikit-learn": the version recorded in the pickle is what unpickling compares
import sklearn.base
real_version = sklearn.base.__version__
sklearn.base.__version__ = '9.9.9'  # what BaseEstimator.__getstate__ records
paths['other_version'] = save('other_version', LogisticRegression(max_iter=1000).fit(X, y))
sklearn.base.__version__ = real_version

# string features (BYTES tensors): one-hot encoded colours and sizes
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
colours, sizes = ['red', 'green', 'blue'], ['small', 'large']
Xs = np.array([[c, z] for c in colours for z in sizes] * 5, dtype=object)
ys = np.array([i % 3 for i in range(len(Xs))])
strings = make_pipeline(OneHotEncoder(handle_unknown='ignore'), LogisticRegression()).fit(Xs, ys)
paths['strings'] = save('strings', strings)
srows = np.array([['red', 'small'], ['blue', 'large'], ['green', 'small']], dtype=object)
expected['strings'] = {'rows': srows.tolist(), 'predict_proba': strings.predict_proba(srows).tolist()}

imports = ("__import__('time'), __import__('os'), __import__('sklearn.linear_model', fromlist=['x']).LogisticRegression, "
           "__import__('sklearn.preprocessing', fromlist=['x']).FunctionTransformer, "
           "__import__('sklearn.pipeline', fromlist=['x']).Pipeline, __import__('sklearn.datasets', fromlist=['x'])")
def pipeline(step):
    return EvalPickle("(lambda time, os, LR, FT, P, ds: P([('f', FT(" + step + ")), "
                      "('m', LR(max_iter=1000).fit(*ds.load_iris(return_X_y=True)))]))(" + imports + ")")
# predict sleeps 0.5 s: requests stay in flight long enough to test draining
paths['slow_predict'] = save('slow_predict', pipeline("lambda X: (time.sleep(0.5), X)[1]"))
# a first feature of 666 kills the Python process: tests worker replacement
paths['crash'] = save('crash', pipeline("lambda X: (os._exit(3) if X[0][0] == 666 else X)"))
# loading takes 4 s: tests readiness before the model is in
paths['slow_load'] = save('slow_load', EvalPickle("(__import__('time').sleep(4), __import__('joblib').load(" + repr(os.path.join(paths['iris'], 'model.joblib')) + "))[1]"))
print(json.dumps({'paths': paths, 'expected': expected}))
`;

let trained: Promise<TrainedModels> | undefined;

/** Trains the test models once per test process, into a temporary folder. */
export function sklearnModels(): Promise<TrainedModels> {
  trained ??= (async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-models-'));
    const r = await pythonJson<Omit<TrainedModels, 'dir'>>(TRAIN, ['sklearn', 'joblib'], [dir, JSON.stringify(IRIS_ROWS)]);
    return { dir, ...r };
  })();
  return trained;
}

/** Asserts two nested numeric arrays are equal within a relative tolerance. */
export function assertClose(actual: unknown, expected: unknown, rel = 1e-12, where = '$'): void {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      throw new Error(`${where}: expected an array of ${expected.length}, got ${JSON.stringify(actual)}`);
    }
    expected.forEach((e, i) => assertClose(actual[i], e, rel, `${where}[${i}]`));
    return;
  }
  if (typeof expected === 'number' && typeof actual === 'number') {
    const tol = rel * Math.max(1, Math.abs(expected));
    if (Math.abs(actual - expected) > tol) throw new Error(`${where}: ${actual} != ${expected} (rel ${rel})`);
    return;
  }
  if (actual !== expected) throw new Error(`${where}: ${JSON.stringify(actual)} != ${JSON.stringify(expected)}`);
}
