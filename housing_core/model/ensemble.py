"""A few gradient-boosted models that differ only in their seed, averaged; scored tree-parallel.

Averaging models whose splits each see a random half of the features removes variance a single
model keeps. Its price is the tree count: scikit-learn scores one tree after another, with a
fixed call overhead per tree that dominates when one row is scored (docs/model.md has the
figures). This module therefore copies the fitted trees into flat arrays once, after fitting,
and walks all of them at once with numpy, one tree level per step; large batches still go
through scikit-learn. The walk follows scikit-learn's own rule (``x <= threshold`` goes left,
NaN goes where the tree learnt) and adds the leaf values in scikit-learn's order, so both paths
give the same floats and a row scored alone equals the row scored in a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import ThreadpoolController

from housing_core.model.columns import FloatArray

IndexArray = npt.NDArray[np.intp]

_ROWS_PER_CHUNK = 1024  # bounds the (rows x trees) working arrays to a few MB
# Up to this many rows the numpy walk wins; beyond, scikit-learn's own per-tree loop does.
TREE_PARALLEL_MAX_ROWS = 64
# Below this many rows scikit-learn's trees are scored on one OpenMP thread, whatever the
# process allows: it opens a parallel region per tree, and a region of a few thousand rows
# holds less work than the wait for a thread the scheduler has put aside on a busy host.
OPENMP_MIN_ROWS = 10_000


@dataclass(frozen=True)
class FlatTrees:
    """Every tree of one or more fitted models, as one array per node field.

    Node ids are global; ``children[2 * n]`` and ``children[2 * n + 1]`` are node n's left and
    right child.
    """

    feature: IndexArray
    threshold: FloatArray
    missing_left: npt.NDArray[np.bool_]
    children: IndexArray
    is_leaf: npt.NDArray[np.bool_]
    value: FloatArray
    roots: IndexArray
    model_of_tree: IndexArray
    baselines: FloatArray
    depth: int

    def predict(self, X: FloatArray) -> FloatArray:
        """Mean over models of (baseline + sum of leaf values), row by row."""
        step = _ROWS_PER_CHUNK
        chunks = [self._predict_chunk(X[i : i + step]) for i in range(0, len(X), step)]
        return np.concatenate(chunks) if chunks else np.empty(0)

    def _predict_chunk(self, X: FloatArray) -> FloatArray:
        leaf_values = self.value[self._leaves(X)]
        total = np.zeros(len(X))
        for model, baseline in enumerate(self.baselines):
            # baseline first, then tree by tree: the same additions, in the same order, as
            # HistGradientBoostingRegressor.predict
            own = leaf_values[:, self.model_of_tree == model]
            with_baseline = np.column_stack((np.full(len(X), baseline), own))
            total += np.cumsum(with_baseline, axis=1)[:, -1]
        return np.asarray(total / len(self.baselines))

    def _leaves(self, X: FloatArray) -> IndexArray:
        """The leaf each (row, tree) lands on, walking only the pairs not yet at a leaf."""
        n_rows, n_trees = len(X), len(self.roots)
        flat = np.ascontiguousarray(X).ravel()
        has_nan = bool(np.isnan(flat).any())
        row_start = np.repeat(np.arange(n_rows) * X.shape[1], n_trees)
        node = np.tile(self.roots, n_rows)
        walking = np.flatnonzero(~self.is_leaf[node])
        for _ in range(self.depth):
            if not walking.size:
                break
            current = node[walking]
            x = flat[row_start[walking] + self.feature[current]]
            go_right = ~(x <= self.threshold[current])  # NaN compares False: goes right ...
            if has_nan:  # ... unless the tree sent missing values left
                go_right &= ~(np.isnan(x) & self.missing_left[current])
            after = self.children[2 * current + go_right]
            node[walking] = after
            walking = walking[~self.is_leaf[after]]
        return node.reshape(n_rows, n_trees)


def flatten_trees(models: list[HistGradientBoostingRegressor]) -> FlatTrees:
    """Copy the trees of fitted squared-error models (numeric features only) into flat arrays."""
    parts: dict[str, list[Any]] = {
        k: [] for k in ("feature", "threshold", "missing", "left", "right", "leaf", "value")
    }
    roots: list[int] = []
    model_of_tree: list[int] = []
    depth, offset = 0, 0
    for index, model in enumerate(models):
        if model.n_trees_per_iteration_ != 1 or model.is_categorical_ is not None:
            raise ValueError("only single-output models on numeric features can be flattened")
        for (predictor,) in model._predictors:
            nodes = predictor.nodes
            parts["feature"].append(nodes["feature_idx"])
            parts["threshold"].append(nodes["num_threshold"])
            parts["missing"].append(nodes["missing_go_to_left"])
            parts["left"].append(nodes["left"].astype(np.intp) + offset)
            parts["right"].append(nodes["right"].astype(np.intp) + offset)
            parts["leaf"].append(nodes["is_leaf"])
            parts["value"].append(nodes["value"])
            roots.append(offset)
            model_of_tree.append(index)
            depth = max(depth, int(nodes["depth"].max()))
            offset += len(nodes)
    is_leaf = np.concatenate(parts["leaf"]).astype(bool)
    children = np.column_stack((np.concatenate(parts["left"]), np.concatenate(parts["right"])))
    return FlatTrees(
        feature=np.concatenate(parts["feature"]).astype(np.intp),
        threshold=np.concatenate(parts["threshold"]).astype(np.float64),
        missing_left=np.concatenate(parts["missing"]).astype(bool),
        children=children.ravel().astype(np.intp),
        is_leaf=is_leaf,
        value=np.where(is_leaf, np.concatenate(parts["value"]), 0.0).astype(np.float64),
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
        with _openmp_threads(1 if len(values) < OPENMP_MIN_ROWS else None):
            for model in self.estimators_:  # large batches: scikit-learn's compiled loop
                total += model.predict(values)
        return np.asarray(total / len(self.estimators_))


@cache
def _controller() -> ThreadpoolController:
    """The process's thread pools, found once (on first use: nothing runs at import)."""
    return ThreadpoolController()


def _openmp_threads(limit: int | None) -> Any:
    """A context with at most `limit` OpenMP threads in the calling thread (None: no limit).

    The limit is the calling thread's own: MLflow's server predicts in `asyncio.to_thread`
    threads, each with its own OpenMP team, which an `OMP_NUM_THREADS` unset leaves at every
    core.
    """
    return _controller().limit(limits=limit, user_api="openmp")


def _as_float_array(X: Any) -> FloatArray:
    values = np.asarray(X, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"expected a 2-D array of features, got shape {values.shape}")
    return values
