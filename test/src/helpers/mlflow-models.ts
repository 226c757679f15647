import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pythonJson } from './python.js';

/**
 * MLflow model folders assembled as MLflow writes them (MLflow itself cannot be installed here): an MLmodel YAML
 * with flavors and signature (JSON strings), the model file, requirements.txt / conda.yaml / python_env.yaml, an
 * input example. `expected` holds what the libraries themselves predict for the rows the tests send.
 */
export interface MlflowFixtures {
  dirs: Record<string, string>;
  expected: Record<string, any>;
  /** Library versions in the interpreter, for the version report. */
  versions: Record<string, string>;
}

const BUILD = `
import base64, json, os, pickle, sys, uuid
import numpy as np, pandas as pd, sklearn, xgboost as xgb, yaml
from sklearn.datasets import load_iris, load_breast_cancer
from sklearn.linear_model import LogisticRegression, LinearRegression

out = sys.argv[1]
dirs, expected = {}, {}
versions = {'sklearn': sklearn.__version__, 'numpy': np.__version__, 'pandas': pd.__version__, 'xgboost': xgb.__version__,
            'python': '.'.join(map(str, sys.version_info[:3]))}

def folder(name):
    d = os.path.join(out, name); os.makedirs(d); dirs[name] = d; return d

def write_mlmodel(d, flavors, signature=None, example=None):
    doc = {'artifact_path': 'model', 'flavors': flavors, 'mlflow_version': '2.9.2', 'model_uuid': uuid.uuid4().hex,
           'run_id': uuid.uuid4().hex, 'utc_time_created': '2024-01-02 03:04:05.000000'}
    if signature is not None:
        doc['signature'] = {k: (json.dumps(v) if v is not None else None) for k, v in signature.items()}
    if example is not None:
        kind, content = example
        with open(os.path.join(d, 'input_example.json'), 'w') as f: json.dump(content, f)
        doc['saved_input_example_info'] = ({'artifact_path': 'input_example.json', 'type': 'dataframe', 'pandas_orient': 'split'}
                                           if kind == 'dataframe' else {'artifact_path': 'input_example.json', 'type': 'ndarray', 'format': 'tf-serving'})
    with open(os.path.join(d, 'MLmodel'), 'w') as f: yaml.safe_dump(doc, f, sort_keys=False)

def write_env(d, pins, python='3.10.12'):
    reqs = ['mlflow==2.9.2'] + pins
    with open(os.path.join(d, 'requirements.txt'), 'w') as f: f.write('\\n'.join(reqs) + '\\n')
    with open(os.path.join(d, 'conda.yaml'), 'w') as f:
        yaml.safe_dump({'channels': ['conda-forge'], 'dependencies': ['python=' + python, 'pip<=23.3.1', {'pip': reqs}], 'name': 'mlflow-env'}, f)
    with open(os.path.join(d, 'python_env.yaml'), 'w') as f:
        yaml.safe_dump({'python': python, 'build_dependencies': ['pip==23.3.1', 'setuptools==68.0.0', 'wheel==0.41.2'], 'dependencies': ['-r requirements.txt']}, f)

def sklearn_flavors(predict_fn='predict'):
    return {'python_function': {'env': {'conda': 'conda.yaml', 'virtualenv': 'python_env.yaml'}, 'loader_module': 'mlflow.sklearn',
                                'model_path': 'model.pkl', 'predict_fn': predict_fn, 'python_version': '3.10.12'},
            'sklearn': {'code': None, 'pickled_model': 'model.pkl', 'serialization_format': 'cloudpickle', 'sklearn_version': '1.3.0'}}

def pickle_to(d, model):
    with open(os.path.join(d, 'model.pkl'), 'wb') as f: pickle.dump(model, f)

def colspec(df, types):
    return [{'type': types[c], 'name': c, 'required': True} for c in df.columns]

# iris fitted on a DataFrame, with a column signature, an input example, and env files pinning scikit-learn 1.3.0
X, y = load_iris(return_X_y=True, as_frame=True)
iris = LogisticRegression(max_iter=1000).fit(X, y)
rows = pd.DataFrame([[5.1, 3.5, 1.4, 0.2], [6.2, 3.4, 5.4, 2.3], [5.9, 3.0, 4.2, 1.5], [1, 2, 3, 4]], columns=X.columns)
d = folder('iris'); pickle_to(d, iris)
write_mlmodel(d, sklearn_flavors(), {'inputs': colspec(X, {c: 'double' for c in X.columns}), 'outputs': [{'type': 'long', 'required': True}], 'params': None},
              ('dataframe', {'columns': list(X.columns), 'data': X.iloc[:2].values.tolist()}))
write_env(d, ['cloudpickle==2.2.1', 'numpy==' + np.__version__, 'pandas==' + pd.__version__, 'scikit-learn==1.3.0'])
expected['iris'] = {'columns': list(X.columns), 'rows': rows.values.tolist(), 'predict': iris.predict(rows).tolist()}

# the same estimator without a signature or example; conda.yaml only, pinning the interpreter's own versions
d = folder('iris-nosig'); pickle_to(d, iris)
fl = sklearn_flavors(); fl['sklearn']['sklearn_version'] = sklearn.__version__
write_mlmodel(d, fl)
with open(os.path.join(d, 'conda.yaml'), 'w') as f:
    yaml.safe_dump({'dependencies': ['python=' + versions['python'], {'pip': ['mlflow==2.9.2', 'scikit-learn==' + sklearn.__version__]}]}, f)
expected['iris-nosig'] = {'predict': iris.predict(rows.values).tolist()}

# one column of every numeric type, for enforcement
rng = np.random.RandomState(0)
typed_X = pd.DataFrame({'n_long': rng.randint(0, 100, 200).astype(np.int64), 'n_int': rng.randint(-50, 50, 200).astype(np.int32),
                        'x_float': rng.rand(200).astype(np.float32), 'x_double': rng.rand(200), 'flag': rng.rand(200) > 0.5})
typed_y = typed_X['n_long'] * 0.5 - typed_X['n_int'] + 3 * typed_X['x_float'] + typed_X['x_double'] + typed_X['flag'] * 2 + rng.rand(200)
typed = LinearRegression().fit(typed_X, typed_y)
types = {'n_long': 'long', 'n_int': 'integer', 'x_float': 'float', 'x_double': 'double', 'flag': 'boolean'}
d = folder('typed'); pickle_to(d, typed)
write_mlmodel(d, sklearn_flavors(), {'inputs': colspec(typed_X, types), 'outputs': [{'type': 'double', 'required': True}], 'params': None})
typed_rows = typed_X.iloc[:3].copy()
typed_rows['x_float'] = np.array([0.1, 0.25, 0.7], dtype=np.float32)  # values that float32 rounds
# to_json would round to 10 digits: records keep every digit
records = [{c: (bool(v) if c == 'flag' else int(v) if c.startswith('n_') else float(v)) for c, v in r.items()} for r in typed_rows.to_dict(orient='records')]
expected['typed'] = {'records': records,
                     'predict': typed.predict(typed_rows).tolist()}

# iris with a tensor signature (float64, [-1, 4]) from an ndarray example
d = folder('tensor'); iris_np = LogisticRegression(max_iter=1000).fit(X.values, y); pickle_to(d, iris_np)
write_mlmodel(d, sklearn_flavors(), {'inputs': [{'type': 'tensor', 'tensor-spec': {'dtype': 'float64', 'shape': [-1, 4]}}],
                                     'outputs': [{'type': 'tensor', 'tensor-spec': {'dtype': 'int64', 'shape': [-1]}}], 'params': None},
              ('ndarray', {'inputs': X.values[:2].tolist()}))
expected['tensor'] = {'predict': iris_np.predict(rows.values).tolist()}

# XGBoost classifier saved by the scikit-learn API as MLflow does (model.xgb, xgboost's binary format in 1.7)
Xb, yb = load_breast_cancer(return_X_y=True, as_frame=True)
clf = xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(Xb, yb)
d = folder('xgboost'); clf.save_model(os.path.join(d, 'model.xgb'))
write_mlmodel(d, {'python_function': {'data': 'model.xgb', 'env': {'conda': 'conda.yaml', 'virtualenv': 'python_env.yaml'},
                                      'loader_module': 'mlflow.xgboost', 'python_version': '3.10.12'},
                  'xgboost': {'code': None, 'data': 'model.xgb', 'model_class': 'xgboost.sklearn.XGBClassifier', 'model_format': 'xgb', 'xgb_version': xgb.__version__}},
              {'inputs': colspec(Xb, {c: 'double' for c in Xb.columns}), 'outputs': [{'type': 'long', 'required': True}], 'params': None})
write_env(d, ['xgboost==' + xgb.__version__])
xrows = Xb.iloc[:6]
expected['xgboost'] = {'columns': list(Xb.columns), 'rows': xrows.values.tolist(), 'predict': clf.predict(xrows).tolist()}

# an ONNX graph of the iris model (float32 logits = x W + b, label = argmax) in the onnx flavor, with a named
# tensor signature; expected answers computed in float32 as onnxruntime does (onnxruntime is not installed here)
import onnx
from onnx import helper, TensorProto
W = iris_np.coef_.T.astype(np.float32); b = iris_np.intercept_.astype(np.float32)
g = helper.make_graph([helper.make_node('MatMul', ['x', 'W'], ['xw']), helper.make_node('Add', ['xw', 'b'], ['logits']),
                       helper.make_node('ArgMax', ['logits'], ['label'], axis=1, keepdims=0)], 'iris',
                      [helper.make_tensor_value_info('x', TensorProto.FLOAT, [None, 4])],
                      [helper.make_tensor_value_info('logits', TensorProto.FLOAT, [None, 3]), helper.make_tensor_value_info('label', TensorProto.INT64, [None])],
                      [helper.make_tensor('W', TensorProto.FLOAT, W.shape, W.flatten().tolist()), helper.make_tensor('b', TensorProto.FLOAT, b.shape, b.tolist())])
d = folder('onnx'); onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)]), os.path.join(d, 'model.onnx'))
write_mlmodel(d, {'python_function': {'data': 'model.onnx', 'env': {'conda': 'conda.yaml', 'virtualenv': 'python_env.yaml'}, 'loader_module': 'mlflow.onnx', 'python_version': '3.10.12'},
                  'onnx': {'code': None, 'data': 'model.onnx', 'onnx_version': onnx.__version__, 'providers': ['CUDAExecutionProvider', 'CPUExecutionProvider']}},
              {'inputs': [{'type': 'tensor', 'tensor-spec': {'dtype': 'float32', 'shape': [-1, 4]}, 'name': 'x'}],
               'outputs': [{'type': 'tensor', 'tensor-spec': {'dtype': 'float32', 'shape': [-1, 3]}, 'name': 'logits'},
                           {'type': 'tensor', 'tensor-spec': {'dtype': 'int64', 'shape': [-1]}, 'name': 'label'}], 'params': None})
write_env(d, ['onnx==' + onnx.__version__, 'onnxruntime==1.16.3'])
logits = rows.values.astype(np.float32) @ W + b
expected['onnx'] = {'rows': rows.values.tolist(), 'logits': logits.tolist(), 'label': logits.argmax(axis=1).tolist(), 'sklearn_predict': iris_np.predict(rows.values).tolist()}

# LightGBM is not installed here: the server must say so
d = folder('lightgbm'); open(os.path.join(d, 'model.lgb'), 'w').write('tree\\n')
write_mlmodel(d, {'python_function': {'data': 'model.lgb', 'loader_module': 'mlflow.lightgbm', 'python_version': '3.10.12'},
                  'lightgbm': {'code': None, 'data': 'model.lgb', 'model_class': 'lightgbm.basic.Booster', 'lgb_version': '4.1.0'}})

# a python_function model with its own loader_module in code/, its data in data/, strings, a datetime, an optional
# column and a param; it answers a DataFrame
d = folder('custom'); os.makedirs(os.path.join(d, 'code')); os.makedirs(os.path.join(d, 'data'))
with open(os.path.join(d, 'data', 'config.json'), 'w') as f: json.dump({'bonus': 10}, f)
with open(os.path.join(d, 'code', 'word_model.py'), 'w') as f: f.write('''
import json, os
import pandas as pd

class WordModel:
    def __init__(self, bonus):
        self.bonus = bonus
    def predict(self, df, params=None):
        scale = (params or {}).get("scale", 1.0)
        count = df["count"] if "count" in df.columns else pd.Series([1] * len(df))
        return pd.DataFrame({"length": df["name"].str.len(), "year": df["when"].dt.year,
                             "total": (df["amount"] * count + self.bonus) * scale,
                             "kind": [type(v).__name__ for v in df["amount"]]})

def _load_pyfunc(data_path):
    with open(os.path.join(data_path, "config.json")) as f:
        return WordModel(json.load(f)["bonus"])
''')
write_mlmodel(d, {'python_function': {'loader_module': 'word_model', 'code': 'code', 'data': 'data', 'env': {'conda': 'conda.yaml'}, 'python_version': '3.10.12'}},
              {'inputs': [{'type': 'string', 'name': 'name', 'required': True}, {'type': 'datetime', 'name': 'when', 'required': True},
                          {'type': 'double', 'name': 'amount', 'required': True}, {'type': 'long', 'name': 'count', 'required': False}],
               'outputs': [{'type': 'long', 'name': 'length'}, {'type': 'long', 'name': 'year'}, {'type': 'double', 'name': 'total'}, {'type': 'string', 'name': 'kind'}],
               'params': [{'name': 'scale', 'type': 'double', 'default': 1.0, 'shape': None}]},
              ('dataframe', {'columns': ['name', 'when', 'amount'], 'data': [['ab', '2021-03-04T00:00:00', 1.5]]}))
write_env(d, ['pandas==' + pd.__version__])
sys.path.insert(0, os.path.join(d, 'code'))
import word_model
wm = word_model._load_pyfunc(os.path.join(d, 'data'))
def frame(records):
    df = pd.DataFrame(records)
    df['when'] = pd.to_datetime(df['when'])
    return df
def answer(records, params=None):
    return json.loads(wm.predict(frame(records), params).to_json(orient='records'))
custom_cases = {
    'with_params': ([{'name': 'abc', 'when': '2020-01-02', 'amount': 2.0, 'count': 3}, {'name': 'x', 'when': '2019-05-06T10:00:00', 'amount': 1.5, 'count': 1}], {'scale': 2.0}),
    'no_count': ([{'name': 'x', 'when': '2019-05-06', 'amount': 1.5}], None),
    'one_row': ([{'name': 'abcd', 'when': '2022-07-01', 'amount': 3.0}], None),
}
expected['custom'] = {k: {'records': recs, 'params': params, 'answer': answer(recs, params)} for k, (recs, params) in custom_cases.items()}
print(json.dumps({'dirs': dirs, 'expected': expected, 'versions': versions}))
`;

let built: Promise<MlflowFixtures> | undefined;

export function mlflowModels(): Promise<MlflowFixtures> {
  built ??= pythonJson<MlflowFixtures>(BUILD, ['sklearn', 'xgboost', 'pandas', 'yaml', 'onnx'], [mkdtempSync(path.join(os.tmpdir(), 'mlflow-models-'))]);
  return built;
}
