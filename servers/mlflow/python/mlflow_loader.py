"""MLFLOW_SERVER loader: loads an MLflow model folder the way its python_function flavor says, without MLflow.

The server has already matched the request to the signature; this side builds what pyfunc's predict gets (a pandas
DataFrame, an ndarray or a dict of ndarrays), calls the flavor's predict, and returns the result with MLServer's
content type: "pd" (one output per DataFrame column), "np" (one output, "predictions") or "dict" (one per key).
"""
import base64
import importlib
import inspect
import os
import pickle
import sys

import numpy as np
import pandas as pd


def _short(cls_path):
    return cls_path.rsplit(".", 1)[-1]


def _unpickle(path):
    # cloudpickle writes standard pickles; only models pickled by value (lambdas, __main__ classes) need it.
    with open(path, "rb") as f:
        return pickle.load(f)


def _load_sklearn(data_path, conf, flavors):
    model = _unpickle(data_path)
    method = getattr(model, conf.get("predict_fn") or "predict")
    return lambda X, params: method(X)


def _load_xgboost(data_path, conf, flavors):
    import xgboost as xgb

    model_class = (flavors.get("xgboost") or {}).get("model_class") or "xgboost.core.Booster"
    if _short(model_class) == "Booster":
        booster = xgb.Booster(model_file=data_path)
        return lambda X, params: booster.predict(xgb.DMatrix(X))
    model = getattr(xgb, _short(model_class))()
    model.load_model(data_path)
    return lambda X, params: model.predict(X)


def _load_lightgbm(data_path, conf, flavors):
    import lightgbm as lgb

    model_class = (flavors.get("lightgbm") or {}).get("model_class") or "lightgbm.basic.Booster"
    model = lgb.Booster(model_file=data_path) if _short(model_class) == "Booster" else _unpickle(data_path)
    return lambda X, params: model.predict(X)


def _keras_file(data_path):
    for name in ("model.keras", "model.h5", "model"):
        candidate = os.path.join(data_path, name)
        if os.path.exists(candidate):
            return candidate
    return data_path


def _load_tensorflow(data_path, conf, flavors):
    import tensorflow as tf

    tf_conf = flavors.get("tensorflow") or {}
    if tf_conf.get("saved_model_dir"):
        # A TF SavedModel: call its serving signature with one tensor per column (or the array / dict given).
        root = os.path.dirname(data_path) if os.path.isfile(data_path) else data_path
        loaded = tf.saved_model.load(os.path.join(root, tf_conf["saved_model_dir"]), tags=tf_conf.get("meta_graph_tags"))
        fn = loaded.signatures[tf_conf.get("signature_def_key") or "serving_default"]

        def predict(X, params):
            if isinstance(X, pd.DataFrame):
                feed = {c: tf.constant(X[c].to_numpy()) for c in X.columns}
            elif isinstance(X, dict):
                feed = {k: tf.constant(v) for k, v in X.items()}
            else:
                feed = {next(iter(fn.structured_input_signature[1])): tf.constant(X)}
            return {k: v.numpy() for k, v in fn(**feed).items()}

        return predict
    model = tf.keras.models.load_model(_keras_file(data_path))
    return lambda X, params: model.predict(X.to_numpy() if isinstance(X, pd.DataFrame) else X, verbose=0)


def _load_pytorch(data_path, conf, flavors):
    import torch

    path = os.path.join(data_path, "model.pth") if os.path.isdir(data_path) else data_path
    model = torch.load(path, map_location="cpu")
    model.eval()

    def predict(X, params):
        arr = X.to_numpy() if isinstance(X, pd.DataFrame) else X
        with torch.no_grad():
            out = model(torch.from_numpy(np.ascontiguousarray(arr)))
        return out.numpy()

    return predict


def _load_python_model(data_path, conf, flavors):
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(data_path)
    return lambda X, params: model.predict(X, params=params)


def _load_custom(data_path, conf, flavors, loader_module):
    # MLflow's custom-flavor contract: loader_module._load_pyfunc(data_path) returns an object with predict().
    module = importlib.import_module(loader_module)
    model = module._load_pyfunc(data_path)
    takes_params = "params" in inspect.signature(model.predict).parameters
    return lambda X, params: model.predict(X, params=params) if takes_params else model.predict(X)


LOADERS = {
    "mlflow.sklearn": _load_sklearn,
    "mlflow.xgboost": _load_xgboost,
    "mlflow.lightgbm": _load_lightgbm,
    "mlflow.tensorflow": _load_tensorflow,
    "mlflow.keras": _load_tensorflow,
    "mlflow.pytorch": _load_pytorch,
    "mlflow.pyfunc.model": _load_python_model,
}


class MlflowModel:
    def __init__(self, predict, loader_module, column_types):
        self.predict = predict
        self.loader_module = loader_module
        self.column_types = column_types

    def info(self):
        return {"outputs": [], "loader_module": self.loader_module,
                "numpy_version": np.__version__, "pandas_version": pd.__version__}

    def frame(self, inputs, positional):
        columns = {}
        for name, values in inputs.items():
            kind = self.column_types.get(name)
            if kind == "datetime":
                values = pd.to_datetime(values)
            elif kind == "binary":
                values = np.array([base64.b64decode(v) for v in values], dtype=object)
            columns[name] = values
        df = pd.DataFrame(columns)
        if positional:
            df.columns = range(len(df.columns))  # pandas' own names for a table sent without column names
        return df

    def infer(self, inputs, outputs, parameters):
        content = parameters.get("content_type")
        if content == "pd":
            X = self.frame(inputs, parameters.get("positional", False))
        elif content == "dict":
            X = dict(inputs)
        else:
            X = next(iter(inputs.values()))
        result = self.predict(X, parameters.get("params") or None)
        if isinstance(result, pd.DataFrame):
            return {str(c): result[c].to_numpy() for c in result.columns}, {"content_type": "pd"}
        if isinstance(result, dict):
            return {str(k): np.asarray(v) for k, v in result.items()}, {"content_type": "dict"}
        return {"predictions": np.asarray(result)}, {"content_type": "np"}


def load(path, options):
    conf = options["pyfunc"]
    flavors = options.get("flavors") or {}
    loader_module = conf["loader_module"]
    if conf.get("code"):
        sys.path.insert(0, os.path.join(path, conf["code"]))
    rel = conf.get("data") or conf.get("model_path")
    data_path = os.path.join(path, rel) if rel else path
    loader = LOADERS.get(loader_module)
    predict = loader(data_path, conf, flavors) if loader else _load_custom(data_path, conf, flavors, loader_module)
    return MlflowModel(predict, loader_module, {c["name"]: c["type"] for c in options.get("columns") or [] if c.get("name")})
