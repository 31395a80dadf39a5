"""A few gradient-boosted models that differ only in their seed, averaged; scored tree-parallel.

Averaging models whose splits each see a random half of the features removes variance a single
model keeps (about 1 % RMSE here). Its price is the tree count: scikit-learn scores one tree
after another, at ~8 µs of call overhead per tree, so 900 trees cost ~7 ms for a single row.
This module therefore copies the fitted trees into flat arrays once, after fitting, and walks
all of them at once with numpy, one tree level per step (~0.5 ms a row); large batches still go
through scikit-learn. The walk follows scikit-learn's own rule (``x <= threshold`` goes left,
NaN goes where the tree learnt) and adds the leaf values in scikit-learn's order, so both paths
give the same floats and a row scored alone equals the row scored in a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.ensemble import HistGradientBoostingRegressor

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]

_ROWS_PER_CHUNK = 1024  # bounds the (rows x trees) working arrays to a few MB
# Up to this many rows the numpy walk wins; beyond, scikit-learn's own per-tree loop does.
TREE_PARALLEL_MAX_ROWS = 64


@dataclass(frozen=True)
class FlatTrees:
    """Every tree of one or more fitted models, as one array per node field.

    Node ids are global. A leaf points to itself on both sides, so walking ``depth`` steps
    from the roots lands every row on its leaf whatever the depth of each tree.
    """

    feature: IndexArray
    threshold: FloatArray
    missing_left: npt.NDArray[np.bool_]
    left: IndexArray
    right: IndexArray
    value: FloatArray
    roots: IndexArray
    model_of_tree: IndexArray
    baselines: FloatArray
    depth: int

    def predict(self, X: FloatArray) -> FloatArray:
        """Mean over models of (baseline + sum of leaf values), row by row."""
        chunks = [
            self._predict_chunk(X[i : i + _ROWS_PER_CHUNK])
            for i in range(0, len(X), _ROWS_PER_CHUNK)
        ]
        return np.concatenate(chunks) if chunks else np.empty(0)

    def _predict_chunk(self, X: FloatArray) -> FloatArray:
        rows = np.arange(len(X))[:, None]
        node = np.broadcast_to(self.roots, (len(X), len(self.roots)))
        for _ in range(self.depth):
            x = X[rows, self.feature[node]]
            go_left = np.where(np.isnan(x), self.missing_left[node], x <= self.threshold[node])
            node = np.where(go_left, self.left[node], self.right[node])
        leaf_values = self.value[node]
        total = np.zeros(len(X))
        for model, baseline in enumerate(self.baselines):
            # baseline first, then tree by tree: the same additions, in the same order, as
            # HistGradientBoostingRegressor.predict
            own = leaf_values[:, self.model_of_tree == model]
            with_baseline = np.column_stack((np.full(len(X), baseline), own))
            total += np.cumsum(with_baseline, axis=1)[:, -1]
        return np.asarray(total / len(self.baselines))


def flatten_trees(models: list[HistGradientBoostingRegressor]) -> FlatTrees:
    """Copy the trees of fitted squared-error models (numeric features only) into flat arrays."""
    fields: dict[str, list[Any]] = {
        k: [] for k in ("feature", "threshold", "missing", "left", "right", "value")
    }
    roots: list[int] = []
    model_of_tree: list[int] = []
    depth, offset = 0, 0
    for index, model in enumerate(models):
        if model.n_trees_per_iteration_ != 1 or model.is_categorical_ is not None:
            raise ValueError("only single-output models on numeric features can be flattened")
        for (predictor,) in model._predictors:
            nodes = predictor.nodes
            own = np.arange(len(nodes)) + offset
            leaf = nodes["is_leaf"].astype(bool)
            fields["feature"].append(np.where(leaf, 0, nodes["feature_idx"]))
            fields["threshold"].append(nodes["num_threshold"])
            fields["missing"].append(nodes["missing_go_to_left"].astype(bool))
            fields["left"].append(np.where(leaf, own, nodes["left"].astype(np.intp) + offset))
            fields["right"].append(np.where(leaf, own, nodes["right"].astype(np.intp) + offset))
            fields["value"].append(np.where(leaf, nodes["value"], 0.0))
            roots.append(offset)
            model_of_tree.append(index)
            depth = max(depth, int(nodes["depth"].max()))
            offset += len(nodes)
    return FlatTrees(
        feature=np.concatenate(fields["feature"]).astype(np.intp),
        threshold=np.concatenate(fields["threshold"]).astype(np.float64),
        missing_left=np.concatenate(fields["missing"]),
        left=np.concatenate(fields["left"]).astype(np.intp),
        right=np.concatenate(fields["right"]).astype(np.intp),
        value=np.concatenate(fields["value"]).astype(np.float64),
        roots=np.asarray(roots, dtype=np.intp),
        model_of_tree=np.asarray(model_of_tree, dtype=np.intp),
        baselines=np.asarray([float(m._baseline_prediction.ravel()[0]) for m in models]),
        depth=depth,
    )


class AveragedBoosting(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """``n_models`` clones of ``estimator`` with seeds ``random_state + i``, averaged.

    ``estimator`` must be a squared-error ``HistGradientBoostingRegressor`` with an integer
    ``random_state``; inputs are numeric arrays (the preprocessor's output). ``estimators_``
    keeps the fitted models for inspection; predictions come from their flattened trees.
    """

    def __init__(self, estimator: HistGradientBoostingRegressor, n_models: int = 3) -> None:
        self.estimator = estimator
        self.n_models = n_models

    def fit(self, X: Any, y: Any) -> AveragedBoosting:
        """Fit each member on all rows; only the seed differs between them."""
        if self.n_models < 1:
            raise ValueError(f"n_models must be at least 1, got {self.n_models}")
        values = _as_float_array(X)
        seed = int(self.estimator.random_state or 0)
        self.estimators_ = [
            clone(self.estimator).set_params(random_state=seed + i).fit(values, y)
            for i in range(self.n_models)
        ]
        self.trees_ = flatten_trees(self.estimators_)
        self.n_features_in_ = values.shape[1]
        return self

    def predict(self, X: Any) -> FloatArray:
        """The members' mean prediction: the same floats whichever path scores the rows."""
        values = _as_float_array(X)
        if values.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {values.shape[1]} features, expected {self.n_features_in_}")
        if len(values) <= TREE_PARALLEL_MAX_ROWS:
            return self.trees_.predict(values)
        total = np.zeros(len(values))
        for model in self.estimators_:  # large batches: scikit-learn's compiled loop is faster
            total += model.predict(values)
        return np.asarray(total / len(self.estimators_))


def _as_float_array(X: Any) -> FloatArray:
    values = np.asarray(X, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"expected a 2-D array of features, got shape {values.shape}")
    return values
