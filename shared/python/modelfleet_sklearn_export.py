"""Exports fitted scikit-learn estimators as plain parameters that the modelfleet native engine evaluates exactly.

`export(estimator) -> dict` is JSON-serialisable (arrays are little-endian base64 so float64 values survive exactly);
anything the engine cannot reproduce exactly raises `Unsupported(reason)`. `probe(estimator, ranges)` builds a batch
of rows for checking native outputs against the estimator's own before switching engines, and `parity_payload`
bundles export + probe + the estimator's outputs on the probe. Run as a script on a joblib/pickle file to print it.
"""
import base64
import json
import sys

import numpy as np

FORMAT = "modelfleet-sklearn/1"


class Unsupported(Exception):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def _arr(a, dtype="f8"):
    a = np.ascontiguousarray(np.asarray(a, dtype={"f8": "<f8", "i4": "<i4"}[dtype]))
    return {"dtype": dtype, "shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode("ascii")}


def _labels(classes):
    """classes_ with the datatype predict returns them in."""
    c = np.asarray(classes)
    if c.dtype.kind == "b":
        return {"datatype": "BOOL", "values": [bool(v) for v in c]}
    if c.dtype.kind in "iu":
        return {"datatype": "INT64", "values": [str(int(v)) for v in c]}
    if c.dtype.kind == "f":
        return {"datatype": "FP64", "values": _arr(c)}
    if c.dtype.kind in "UO" and all(isinstance(v, str) for v in c):
        return {"datatype": "BYTES", "values": [str(v) for v in c]}
    raise Unsupported(f"class labels of dtype {c.dtype}")


def _name(est):
    return type(est).__name__


# ---------------------------------------------------------------- transformers


def _transformer(t):
    name = _name(t)
    if name == "StandardScaler":
        return {
            "op": "center_scale",
            "sub": _arr(t.mean_) if t.with_mean else None,
            "div": _arr(t.scale_) if t.with_std and t.scale_ is not None else None,
            "accept": "allow-nan",
        }
    if name == "RobustScaler":
        return {
            "op": "center_scale",
            "sub": _arr(t.center_) if t.with_centering else None,
            "div": _arr(t.scale_) if t.with_scaling else None,
            "accept": "allow-nan",
        }
    if name == "MinMaxScaler":
        return {
            "op": "mul_add",
            "mul": _arr(t.scale_),
            "add": _arr(t.min_),
            "clip": [float(t.feature_range[0]), float(t.feature_range[1])] if getattr(t, "clip", False) else None,
            "accept": "allow-nan",
        }
    if name == "SimpleImputer":
        stats = np.asarray(t.statistics_)
        if stats.dtype.kind != "f":
            raise Unsupported(f"SimpleImputer with non-numeric statistics ({stats.dtype})")
        mv = t.missing_values
        nan_missing = isinstance(mv, float) and np.isnan(mv)
        if not nan_missing and not isinstance(mv, (int, float, np.integer, np.floating)):
            raise Unsupported(f"SimpleImputer with missing_values={mv!r}")
        if t.strategy == "constant" or getattr(t, "keep_empty_features", False):
            keep = np.arange(stats.shape[0])
        else:
            keep = np.flatnonzero(~np.isnan(stats))
        indicator = None
        if t.add_indicator:
            ind = t.indicator_
            if ind.features != "missing-only" and ind.features != "all":
                raise Unsupported(f"MissingIndicator features={ind.features!r}")
            indicator = _arr(ind.features_, "i4")
        return {
            "op": "impute",
            "missing": None if nan_missing else float(mv),
            "fill": _arr(stats[keep]),
            "keep": _arr(keep, "i4"),
            "indicator": indicator,
            "accept": "allow-nan" if nan_missing else "finite",
        }
    if name == "OneHotEncoder":
        cats = []
        for c in t.categories_:
            c = np.asarray(c)
            if c.dtype.kind not in "iuf":
                raise Unsupported("OneHotEncoder with non-numeric categories")
            cats.append(_arr(c))
        if getattr(t, "_infrequent_enabled", False):
            raise Unsupported("OneHotEncoder with infrequent categories")
        drop = getattr(t, "drop_idx_", None)
        drop_idx = [-1 if drop is None or drop[i] is None else int(drop[i]) for i in range(len(cats))]
        return {
            "op": "onehot",
            "categories": cats,
            "drop": drop_idx,
            "unknown": "error" if t.handle_unknown == "error" else "ignore",
            "accept": "allow-nan",
        }
    raise Unsupported(f"the transformer {name}")


# ---------------------------------------------------------------- final estimators

_LINEAR_REGRESSORS = {
    "LinearRegression", "Ridge", "RidgeCV", "Lasso", "LassoCV", "ElasticNet", "ElasticNetCV",
    "LinearSVR", "SGDRegressor", "BayesianRidge", "HuberRegressor",
}
_LINEAR_CLASSIFIERS = {"LogisticRegression", "LogisticRegressionCV", "LinearSVC", "RidgeClassifier", "SGDClassifier"}
_FORESTS = {
    "DecisionTreeClassifier", "DecisionTreeRegressor", "ExtraTreeClassifier", "ExtraTreeRegressor",
    "RandomForestClassifier", "RandomForestRegressor", "ExtraTreesClassifier", "ExtraTreesRegressor",
}


def _tree_arrays(tree, value):
    """One sklearn Tree as flat arrays; leaves have feature -1. `value` is (node_count, width) float64."""
    feature = np.where(tree.children_left < 0, -1, tree.feature)
    return {
        "feature": _arr(feature, "i4"),
        "threshold": _arr(tree.threshold),
        "left": _arr(tree.children_left, "i4"),
        "right": _arr(tree.children_right, "i4"),
        "value": _arr(value),
        "cover": _arr(tree.weighted_n_node_samples),  # TreeSHAP's path weights
    }


def _linear(est, name):
    coef = np.asarray(est.coef_, dtype=np.float64)
    if coef.ndim == 1:
        coef2, ravel = coef[None, :], True
    else:
        coef2, ravel = coef, False
    intercept = np.broadcast_to(np.asarray(est.intercept_, dtype=np.float64), (coef2.shape[0],))
    head = {"type": "linear", "coef": _arr(coef2), "intercept": _arr(intercept)}
    if name in _LINEAR_REGRESSORS:
        return head, {"task": "regressor", "ravel": ravel, "predict": "identity"}
    # LinearClassifierMixin: decision_function ravels a single column, predict uses its sign / argmax.
    spec = {"task": "classifier", "ravel": coef2.shape[0] == 1, "predict": "decision", "decision": True, "proba": None}
    if name in ("LogisticRegression", "LogisticRegressionCV"):
        mc = est.multi_class
        ovr = mc in ("ovr", "warn") or (mc == "auto" and (est.classes_.size <= 2 or est.solver == "liblinear"))
        spec["proba"] = "ovr" if ovr else "softmax"
    elif name == "SGDClassifier" and est.loss in ("log_loss", "log"):
        spec["proba"] = "ovr"
    return head, spec


def _forest(est, name):
    if est.n_outputs_ != 1 and name.endswith("Classifier"):
        raise Unsupported(f"multi-output {name}")
    trees = [est] if hasattr(est, "tree_") else list(est.estimators_)
    out = []
    for t in trees:
        v = t.tree_.value
        if name.endswith("Classifier"):
            # DecisionTreeClassifier.predict_proba: leaf counts / their sum (0 -> 1), computed with numpy here.
            v = v[:, 0, :]
            norm = v.sum(axis=1)[:, np.newaxis]
            norm[norm == 0.0] = 1.0
            v = v / norm
        else:
            v = v[:, :, 0]
        out.append(_tree_arrays(t.tree_, v))
    width = out[0]["value"]["shape"][1]
    head = {
        "type": "trees", "compare": "f32le", "trees": out, "leaf_width": width, "groups": 1,
        "tree_groups": None, "weights": None, "init": _arr(np.zeros(width)), "average": True,
    }
    if name.endswith("Classifier"):
        return head, {"task": "classifier", "proba": "identity", "predict": "proba-argmax"}
    return head, {"task": "regressor", "ravel": est.n_outputs_ == 1, "predict": "identity"}


def _gradient_boosting(est, name):
    init = est.init_
    if not (isinstance(init, str) and init == "zero") and _name(init) not in ("DummyClassifier", "DummyRegressor"):
        raise Unsupported(f"{name} with init estimator {_name(init)}")
    # The init raw prediction of a Dummy estimator does not depend on X: evaluate it on one row.
    raw0 = np.asarray(est._raw_predict_init(np.zeros((1, est.n_features_in_), dtype=np.float32)))[0]
    stages, K = est.estimators_.shape
    trees, groups = [], []
    for i in range(stages):
        for k in range(K):
            t = est.estimators_[i, k].tree_
            trees.append(_tree_arrays(t, t.value[:, 0, :1]))
            groups.append(k)
    head = {
        "type": "trees", "compare": "f32le", "trees": trees, "leaf_width": 1, "groups": K,
        "tree_groups": _arr(groups, "i4"), "weights": _arr(np.full(len(trees), est.learning_rate, dtype=np.float64)),
        "init": _arr(raw0), "average": False,
    }
    loss = _name(est._loss)
    if name == "GradientBoostingRegressor":
        if loss not in ("LeastSquaresError", "LeastAbsoluteError", "HuberLossFunction", "QuantileLossFunction"):
            raise Unsupported(f"GradientBoostingRegressor loss {loss}")
        return head, {"task": "regressor", "ravel": True, "predict": "identity"}
    proba = {"BinomialDeviance": "expit", "MultinomialDeviance": "logsumexp", "ExponentialLoss": "expit2x"}.get(loss)
    if proba is None:
        raise Unsupported(f"GradientBoostingClassifier loss {loss}")
    return head, {
        "task": "classifier", "ravel": K == 1, "decision": True, "proba": proba,
        "predict": "raw-ge0" if loss == "ExponentialLoss" else "proba-argmax",
    }


def _hist_gradient_boosting(est, name):
    if getattr(est, "is_categorical_", None) is not None and np.any(est.is_categorical_):
        raise Unsupported(f"{name} with categorical features")
    K = est.n_trees_per_iteration_
    trees, groups = [], []
    for predictors in est._predictors:
        for k, p in enumerate(predictors):
            n = p.nodes
            leaf = n["is_leaf"].astype(bool)
            trees.append({
                "feature": _arr(np.where(leaf, -1, n["feature_idx"]), "i4"),
                "threshold": _arr(n["num_threshold"]),
                "left": _arr(np.where(leaf, -1, n["left"]), "i4"),
                "right": _arr(np.where(leaf, -1, n["right"]), "i4"),
                "default_left": _arr(n["missing_go_to_left"], "i4"),
                "value": _arr(n["value"][:, None]),
                "cover": _arr(n["count"]),
            })
            groups.append(k)
    head = {
        "type": "trees", "compare": "f64le", "trees": trees, "leaf_width": 1, "groups": K,
        "tree_groups": _arr(groups, "i4"), "weights": None,
        "init": _arr(np.asarray(est._baseline_prediction, dtype=np.float64).reshape(-1)), "average": False,
    }
    link = _name(est._loss.link)
    if name == "HistGradientBoostingRegressor":
        inv = {"IdentityLink": "identity", "LogLink": "exp"}.get(link)
        if inv is None:
            raise Unsupported(f"HistGradientBoostingRegressor link {link}")
        return head, {"task": "regressor", "ravel": True, "predict": inv, "accept": "any"}
    proba = {"LogitLink": "expit", "MultinomialLogit": "softmax"}.get(link)
    if proba is None:
        raise Unsupported(f"HistGradientBoostingClassifier link {link}")
    return head, {"task": "classifier", "ravel": K == 1, "decision": True, "proba": proba, "predict": "proba-argmax", "accept": "any"}


def _final(est):
    name = _name(est)
    if name in _LINEAR_REGRESSORS or name in _LINEAR_CLASSIFIERS:
        head, spec = _linear(est, name)
    elif name in _FORESTS:
        head, spec = _forest(est, name)
    elif name in ("GradientBoostingClassifier", "GradientBoostingRegressor"):
        head, spec = _gradient_boosting(est, name)
    elif name in ("HistGradientBoostingClassifier", "HistGradientBoostingRegressor"):
        head, spec = _hist_gradient_boosting(est, name)
    else:
        raise Unsupported(f"the estimator {name}")
    spec.setdefault("accept", "finite32" if head["type"] == "trees" else "finite")
    if spec["task"] == "classifier":
        spec["classes"] = _labels(est.classes_)
    return head, spec


def _flatten(est):
    """Pipeline steps (nested pipelines flattened), dropping None/'passthrough'."""
    if _name(est) == "Pipeline":
        out = []
        for _, step in est.steps:
            if step is None or (isinstance(step, str) and step == "passthrough"):
                continue
            out.extend(_flatten(step))
        return out
    return [est]


def export(estimator):
    """Exports a fitted estimator or Pipeline; raises Unsupported for anything not reproducible exactly."""
    steps = _flatten(estimator)
    if not steps:
        raise Unsupported("an empty pipeline")
    final = steps[-1]
    if not hasattr(final, "predict"):
        raise Unsupported(f"a pipeline ending in {_name(final)} (no predict)")
    n_features = getattr(steps[0], "n_features_in_", None)
    if n_features is None:
        raise Unsupported(f"{_name(steps[0])} without n_features_in_")
    transforms = [_transformer(t) for t in steps[:-1]]
    head, spec = _final(final)
    outputs = ["predict"]
    if spec.get("proba"):
        outputs.append("predict_proba")
    if spec.get("decision"):
        outputs.append("decision_function")
    names = [_name(s) for s in steps]
    return {
        "format": FORMAT,
        "kind": "sklearn:" + (names[0] if len(names) == 1 else "Pipeline(" + ",".join(names) + ")"),
        "n_features": int(n_features),
        "transforms": transforms,
        "head": head,
        "spec": spec,
        "outputs": outputs,
        "accepts_nan": _accepts_nan(transforms, spec),
    }


def _accepts_nan(transforms, spec):
    """NaN reaches the estimator only through stages that let it pass; an imputer on NaN removes it."""
    for t in transforms:
        if t["accept"] == "finite":
            return False
        if t["op"] == "impute" and t["missing"] is None:
            return True
    return spec["accept"] == "any"


# ---------------------------------------------------------------- parity probe


def _guess_ranges(steps, n_features):
    """Per-feature (low, high) where the training data probably lay, from fitted statistics."""
    first = steps[0]
    name = _name(first)
    if name == "StandardScaler" and first.with_mean and first.scale_ is not None:
        return np.stack([first.mean_ - 3 * first.scale_, first.mean_ + 3 * first.scale_], axis=1)
    if name == "MinMaxScaler":
        return np.stack([first.data_min_, first.data_max_], axis=1)
    if name == "RobustScaler" and first.center_ is not None and first.scale_ is not None:
        return np.stack([first.center_ - 3 * first.scale_, first.center_ + 3 * first.scale_], axis=1)
    if name == "SimpleImputer":
        s = np.nan_to_num(np.asarray(first.statistics_, dtype=np.float64))
        return np.stack([s - np.abs(s) - 1, s + np.abs(s) + 1], axis=1)
    thresholds = _split_points(steps[-1]) if len(steps) == 1 else {}
    lo = np.full(n_features, -3.0)
    hi = np.full(n_features, 3.0)
    for f, ts in thresholds.items():
        ts = [t for t in ts if np.isfinite(t)]
        if ts:
            span = max(ts) - min(ts)
            lo[f], hi[f] = min(ts) - 0.2 * span - 1e-3, max(ts) + 0.2 * span + 1e-3
    return np.stack([lo, hi], axis=1)


def _split_points(est):
    """feature -> split thresholds of a tree model (empty for others)."""
    out = {}

    def add(feature, threshold):
        for f, t in zip(feature, threshold):
            if f >= 0:
                out.setdefault(int(f), []).append(float(t))

    name = _name(est)
    if name in _FORESTS:
        for t in [est] if hasattr(est, "tree_") else est.estimators_:
            add(t.tree_.feature, t.tree_.threshold)
    elif name.startswith("GradientBoosting"):
        for t in est.estimators_.ravel():
            add(t.tree_.feature, t.tree_.threshold)
    elif name.startswith("HistGradientBoosting"):
        for predictors in est._predictors:
            for p in predictors:
                leaf = p.nodes["is_leaf"].astype(bool)
                add(np.where(leaf, -1, p.nodes["feature_idx"]), p.nodes["num_threshold"])
    return out


def probe(estimator, ranges=None, n_random=48, seed=0):
    """Probe rows (float64, n x n_features): random rows within `ranges` (list of [low, high] per feature, guessed
    from fitted statistics when None), edge rows (bounds, zeros, split thresholds and their float32 neighbours),
    and rows with NaN where the model accepts NaN."""
    steps = _flatten(estimator)
    exported = export(estimator)
    nf = exported["n_features"]
    rng = np.random.RandomState(seed)
    r = np.asarray(ranges, dtype=np.float64) if ranges is not None else _guess_ranges(steps, nf)
    lo, hi = r[:, 0], r[:, 1]
    rows = [lo + (hi - lo) * rng.rand(n_random, nf), lo[None, :], hi[None, :], ((lo + hi) / 2)[None, :]]
    if np.all(lo <= 0) and np.all(hi >= 0):
        rows.append(np.zeros((1, nf)))
    # Rows sitting exactly on split thresholds (and one float32 step either side) exercise <= vs < and the cast.
    splits = _split_points(steps[-1]) if len(steps) == 1 else {}
    if splits:
        base = (lo + hi) / 2
        for _ in range(8):
            row = base.copy()
            for f, ts in splits.items():
                t = ts[rng.randint(len(ts))]
                if np.isfinite(t):
                    t32 = np.float32(t)
                    row[f] = float([t, t32, np.nextafter(t32, np.float32(np.inf)), np.nextafter(t32, np.float32(-np.inf))][rng.randint(4)])
            rows.append(row[None, :])
    X = np.concatenate(rows, axis=0)
    onehot = steps[0] if _name(steps[0]) == "OneHotEncoder" else None
    if onehot is not None:
        for j, c in enumerate(onehot.categories_):
            X[:, j] = rng.choice(np.asarray(c, dtype=np.float64), size=X.shape[0])
    if exported["accepts_nan"]:
        nan_rows = X[: min(16, X.shape[0])].copy()
        nan_rows[rng.rand(*nan_rows.shape) < 0.3] = np.nan
        nan_rows[0, :] = np.nan
        X = np.concatenate([X, nan_rows], axis=0)
    return X


def _encode_output(a):
    a = np.asarray(a)
    if a.dtype.kind == "f":
        return {"datatype": "FP64" if a.dtype == np.float64 else "FP32", "shape": list(a.shape), "data": _arr(a)}
    if a.dtype.kind in "iu":
        return {"datatype": "INT64", "shape": list(a.shape), "data": [str(int(v)) for v in a.ravel()]}
    if a.dtype.kind == "b":
        return {"datatype": "BOOL", "shape": list(a.shape), "data": [bool(v) for v in a.ravel()]}
    return {"datatype": "BYTES", "shape": list(a.shape), "data": [str(v) for v in a.ravel()]}


def parity_payload(estimator, ranges=None):
    """{'export', 'probe': {'X', 'n_rows', 'outputs': {name: encoded}}} or {'unsupported': reason}."""
    try:
        exported = export(estimator)
    except Unsupported as e:
        return {"unsupported": e.reason}
    X = probe(estimator, ranges)
    outputs = {name: _encode_output(getattr(estimator, name)(X)) for name in exported["outputs"]}
    return {"export": exported, "probe": {"X": _arr(X), "n_rows": int(X.shape[0]), "outputs": outputs}}


def _load(path):
    try:
        import joblib

        return joblib.load(path)
    except ImportError:
        import pickle

        with open(path, "rb") as f:
            return pickle.load(f)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: modelfleet_sklearn_export.py MODEL_FILE [RANGES_JSON]")
    import warnings

    import sklearn

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = _load(sys.argv[1])
    rng_arg = json.loads(sys.argv[2]) if len(sys.argv) == 3 else None
    payload = parity_payload(model, rng_arg)
    # What the server reports at load either way: the library version and what unpickling warned about
    # (scikit-learn names the version the model was pickled with), and the column names it was fitted with.
    payload["estimator"] = type(model).__name__
    names = getattr(model, "feature_names_in_", None)
    payload["feature_names"] = [str(n) for n in names] if names is not None else None
    payload["sklearn_version"] = sklearn.__version__
    payload["sklearn_file"] = sklearn.__file__  # the export cache re-reads its __version__ to see an upgrade
    payload["load_warnings"] = [str(w.message) for w in caught]
    json.dump(payload, sys.stdout)
