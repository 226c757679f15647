"""SKLEARN_SERVER loader: unpickles a scikit-learn estimator and answers predict / predict_proba /
decision_function / transform on it."""
import re
import sys

import joblib
import numpy as np
import sklearn

METHODS = ("predict", "predict_proba", "decision_function", "transform")
PICKLE_VERSION = re.compile(r"from version (\S+) when using version (\S+)")


class SklearnModel:
    def __init__(self, estimator, path, load_warnings):
        self.estimator = estimator
        self.path = path
        self.pickled_version = None
        for w in load_warnings:
            m = PICKLE_VERSION.search(str(w))
            if m:
                self.pickled_version = m.group(1)

    def info(self):
        est = self.estimator
        final = est.steps[-1][1] if hasattr(est, "steps") else est
        classes = getattr(final, "classes_", None)
        names = getattr(est, "feature_names_in_", None)
        return {
            "estimator": type(est).__name__,
            "final_estimator": type(final).__name__,
            "outputs": [m for m in METHODS if _has_method(est, m)],
            "n_features": int(getattr(est, "n_features_in_", 0)) or None,
            "feature_names": [str(n) for n in names] if names is not None else None,
            "classes": [c.item() if hasattr(c, "item") else c for c in classes] if classes is not None else None,
            "library": "scikit-learn",
            "library_version": sklearn.__version__,
            "pickled_version": self.pickled_version,
        }

    def infer(self, inputs, outputs, parameters):
        X = next(iter(inputs.values()))
        if X.ndim != 2:
            raise ValueError(f"expected a 2-D batch of rows (n_samples, n_features), got shape {list(X.shape)}")
        if X.dtype == object:
            X = _numeric_if_possible(X)
        names = getattr(self.estimator, "feature_names_in_", None)
        if names is not None and X.shape[1] == len(names):
            # A model fitted on a DataFrame checks column names; give it the ones it was fitted with.
            import pandas as pd
            X = pd.DataFrame(X, columns=names)
        result = {}
        for name in outputs:
            if not _has_method(self.estimator, name):
                raise ValueError(f"{type(self.estimator).__name__} has no {name}; available: "
                                 + ", ".join(m for m in METHODS if _has_method(self.estimator, m)))
            result[name] = getattr(self.estimator, name)(X)
        return result


def _has_method(est, name):
    # Pipelines and some meta-estimators expose methods only when the final step has them.
    try:
        return callable(getattr(est, name))
    except AttributeError:
        return False


def _numeric_if_possible(X):
    try:
        return X.astype(np.float64)
    except (ValueError, TypeError):
        return X


def load(path, options):
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator = joblib.load(path)
    for w in caught:
        warnings.warn(w.message)  # surfaces in the load report
    return SklearnModel(estimator, path, [w.message for w in caught])
