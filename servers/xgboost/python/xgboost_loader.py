"""XGBOOST_SERVER's Python fallback: booster.predict on a DMatrix, as Seldon's and KServe's servers do, plus the
sklearn-style predict / predict_proba that MLServer offers."""
import json

import numpy as np
import xgboost as xgb

CLASSIFIERS = ("binary:logistic", "binary:logitraw", "binary:hinge", "multi:softprob", "multi:softmax", "reg:logistic")


class XGBoostModel:
    def __init__(self, path):
        self.booster = xgb.Booster(params={"nthread": 1})
        self.booster.load_model(path)
        config = json.loads(self.booster.save_config())
        self.objective = config["learner"]["objective"]["name"]
        self.classifier = self.objective.startswith(("binary:", "multi:"))

    def info(self):
        outputs = ["booster", "predict"] + (["predict_proba"] if self.classifier else [])
        return {"outputs": outputs, "n_features": self.booster.num_features(), "objective": self.objective,
                "library": "xgboost", "library_version": xgb.__version__}

    def infer(self, inputs, outputs, parameters):
        X = next(iter(inputs.values()))
        if X.ndim != 2:
            raise ValueError(f"expected a 2-D batch of rows (n_samples, n_features), got shape {list(X.shape)}")
        # The booster's own feature names and types: categorical features arrive as their category codes.
        types = self.booster.feature_types
        dm = xgb.DMatrix(np.asarray(X, dtype=np.float32), feature_names=self.booster.feature_names, feature_types=types,
                         enable_categorical=bool(types and "c" in types))
        raw = self.booster.predict(dm)
        result = {}
        for name in outputs:
            if name == "booster":
                result[name] = raw
            elif name == "predict":
                result[name] = self._labels(raw)
            elif name == "predict_proba":
                result[name] = self._proba(raw)
            else:
                raise ValueError(f"unknown output {name}")
        return result

    def _labels(self, raw):
        if not self.classifier:
            return raw
        if raw.ndim == 2:
            return raw.argmax(axis=1).astype(np.int64)
        if self.objective == "multi:softmax":
            return raw.astype(np.int64)
        threshold = 0.0 if self.objective == "binary:logitraw" else 0.5
        return (raw > threshold).astype(np.int64)

    def _proba(self, raw):
        if raw.ndim == 2:
            return raw
        if self.objective == "multi:softmax":
            raise ValueError("multi:softmax boosters give class indices, not probabilities")
        return np.column_stack([1 - raw, raw])


def load(path, options):
    return XGBoostModel(path)
