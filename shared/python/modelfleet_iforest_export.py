"""Exports a fitted scikit-learn IsolationForest for modelfleet's native IForest outlier detector.

Trees go out through the native engine's sklearn export (`_tree_arrays`, float64 as little-endian base64). Each
node's value is what `IsolationForest._compute_score_samples` adds for a row ending in that leaf: the number of
nodes on its path plus `_average_path_length(n_node_samples) - 1`, computed here with sklearn's own function so
the native sum, tree by tree, is the same float64 sum sklearn does. Features are mapped through
`estimators_features_`. Run as a script: `modelfleet_iforest_export.py MODEL_FILE` prints the JSON.
"""
import json
import sys

import numpy as np

from modelfleet_sklearn_export import _arr, _load, _tree_arrays

FORMAT = "modelfleet-iforest/1"


def _node_depths(tree):
    depth = np.zeros(tree.node_count, dtype=np.int64)
    stack = [0]
    while stack:
        i = stack.pop()
        for c in (tree.children_left[i], tree.children_right[i]):
            if c >= 0:
                depth[c] = depth[i] + 1
                stack.append(c)
    return depth


def export_isolation_forest(est):
    from sklearn.ensemble._iforest import _average_path_length

    if type(est).__name__ != "IsolationForest":
        raise ValueError(f"expected a fitted IsolationForest, got {type(est).__name__}")
    trees = []
    for t, features in zip(est.estimators_, est.estimators_features_):
        tree = t.tree_
        path_nodes = (_node_depths(tree) + 1).astype(np.float64)
        value = path_nodes + _average_path_length(tree.n_node_samples) - 1.0
        arrays = _tree_arrays(tree, value[:, None])
        feature = np.where(tree.children_left < 0, -1, np.asarray(features)[np.maximum(tree.feature, 0)])
        arrays["feature"] = _arr(feature, "i4")
        trees.append(arrays)
    denominator = float(len(est.estimators_) * _average_path_length([est.max_samples_])[0])
    return {
        "format": FORMAT,
        "n_features": int(est.n_features_in_),
        "trees": trees,
        "denominator": denominator,
        "offset": float(est.offset_),
    }


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: modelfleet_iforest_export.py MODEL_FILE")
    json.dump(export_isolation_forest(_load(sys.argv[1])), sys.stdout)
