"""The model: engineered features, preprocessing and the estimator as ONE scikit-learn Pipeline.

The registered model therefore takes the raw housing columns (without the target) and returns
a price in dollars; nothing has to be re-implemented at serving time. What it needs to know of
the data (which columns are text, their categories, the highest price) it learns from the
training rows, so the wing imports nothing of the data contract.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from housing_core.model.columns import ToColumns
from housing_core.model.ensemble import AveragedBoosting
from housing_core.model.features import Preprocessor, RatioFeatures
from housing_core.model.geo import GeographicFeatures
from housing_core.model.neighbours.transformer import NeighbourTargetFeatures
from housing_core.model.spec import FeatureSpec, ModelSpec


def clip_price(values: np.ndarray, high: float) -> np.ndarray:
    """Predictions inside the range the training prices held: [0, highest price]."""
    return np.asarray(np.clip(values, 0.0, high))


def clipped_expm1(values: np.ndarray, high: float) -> np.ndarray:
    """Back from log(1 + price) to dollars, inside [0, highest price]."""
    return clip_price(np.expm1(values), high)


def identity(values: np.ndarray) -> np.ndarray:
    return values


def build_pipeline(config: ModelSpec, price_cap: float) -> Pipeline:
    """An unfitted pipeline for the configured model family and feature groups."""
    # the raw frame becomes numpy columns once; the steps then skip pandas' per-call costs
    steps: list[tuple[str, object]] = [("columns", ToColumns()), ("ratios", RatioFeatures())]
    steps += _feature_steps(config.features, config.random_state)
    steps.append(("preprocess", Preprocessor()))
    target_in: Callable[[np.ndarray], np.ndarray] = np.log1p if config.log_target else identity
    target_out = partial(clipped_expm1 if config.log_target else clip_price, high=price_cap)
    regressor = TransformedTargetRegressor(
        regressor=_estimator(config),
        func=target_in,
        inverse_func=target_out,
        check_inverse=False,
    )
    steps.append(("estimator", regressor))
    return Pipeline(steps)


def _feature_steps(features: FeatureSpec, random_state: int) -> list[tuple[str, object]]:
    steps: list[tuple[str, object]] = []
    if features.geo:
        steps.append(("geo", GeographicFeatures(angles=features.rotation_angles)))
    if features.neighbours:
        # the settings name each parameter as the transformer does, under a `neighbour_` prefix
        params = features.neighbour_params()
        steps.append(("neighbours", NeighbourTargetFeatures(**params, random_state=random_state)))
    return steps


def _estimator(config: ModelSpec) -> RandomForestRegressor | AveragedBoosting:
    if config.family == "random_forest":
        return RandomForestRegressor(
            n_estimators=config.n_estimators,
            max_depth=config.max_depth,
            min_samples_leaf=config.min_samples_leaf,
            random_state=config.random_state,
            n_jobs=-1,
        )
    if config.family == "hist_gradient_boosting":
        boosting = HistGradientBoostingRegressor(
            learning_rate=config.learning_rate,
            max_iter=config.max_iter,
            max_leaf_nodes=config.max_leaf_nodes,
            min_samples_leaf=config.min_samples_leaf,
            l2_regularization=config.l2_regularization,
            max_depth=config.max_depth,
            max_features=config.max_features,
            early_stopping=False,
            random_state=config.random_state,
        )
        return AveragedBoosting(boosting, n_models=config.n_models)
    raise TypeError(f"unknown model family: {config!r}")


def train_model(X: pd.DataFrame, y: pd.Series, config: ModelSpec) -> Pipeline:
    """Fit the pipeline on raw feature columns and prices, then make it cheap to serve."""
    pipeline = build_pipeline(config, price_cap=float(np.max(y)))
    threads = config.fit_threads if config.family == "hist_gradient_boosting" else None
    with threadpool_limits(limits=threads, user_api="openmp"):
        pipeline.fit(X, y)
    _single_threaded_for_serving(pipeline)
    return pipeline


def _single_threaded_for_serving(pipeline: Pipeline) -> None:
    # Starting a thread pool costs more than scoring one row single-threaded (docs/model.md).
    regressor = pipeline.named_steps["estimator"].regressor_
    if hasattr(regressor, "n_jobs"):
        regressor.set_params(n_jobs=1)


def predict(model: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    """Prices in dollars for raw rows; columns the model was not fitted on are ignored."""
    return np.asarray(model.predict(frame.loc[:, list(model.feature_names_in_)]), dtype=float)
