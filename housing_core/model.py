"""The model: engineered features, preprocessing and the estimator as ONE scikit-learn Pipeline.

The registered model therefore takes the raw housing columns (without the target) and returns
a price in dollars; nothing has to be re-implemented at serving time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from housing_core.columns import ToColumns
from housing_core.ensemble import AveragedBoosting
from housing_core.features import RatioFeatures, build_preprocessor
from housing_core.geo import GeographicFeatures
from housing_core.neighbours import NeighbourTargetFeatures
from housing_core.schemas import FEATURE_COLUMNS, PRICE_CAP, TARGET
from housing_core.settings import (
    FeatureSettings,
    HistGradientBoostingConfig,
    ModelConfig,
    RandomForestConfig,
)


def clipped_expm1(values: np.ndarray) -> np.ndarray:
    """Back from log(1 + price) to dollars, inside the range the data can hold."""
    return np.asarray(np.clip(np.expm1(values), 0.0, PRICE_CAP))


def clip_price(values: np.ndarray) -> np.ndarray:
    return np.asarray(np.clip(values, 0.0, PRICE_CAP))


def identity(values: np.ndarray) -> np.ndarray:
    return values


def build_pipeline(config: ModelConfig) -> Pipeline:
    """An unfitted pipeline for the configured model family and feature groups."""
    # the raw frame becomes numpy columns once; the steps then skip pandas' per-call costs
    steps: list[tuple[str, object]] = [("columns", ToColumns()), ("ratios", RatioFeatures())]
    steps += _feature_steps(config.features, config.random_state)
    steps.append(("preprocess", build_preprocessor()))
    target_in, target_out = (
        (np.log1p, clipped_expm1) if config.log_target else (identity, clip_price)
    )
    regressor = TransformedTargetRegressor(
        regressor=_estimator(config),
        func=target_in,
        inverse_func=target_out,
        check_inverse=False,
    )
    steps.append(("estimator", regressor))
    return Pipeline(steps)


def _feature_steps(features: FeatureSettings, random_state: int) -> list[tuple[str, object]]:
    steps: list[tuple[str, object]] = []
    if features.geo:
        steps.append(("geo", GeographicFeatures(angles=features.rotation_angles)))
    if features.neighbours:
        neighbours = NeighbourTargetFeatures(
            ks=features.neighbour_ks,
            income_k=features.neighbour_income_k,
            density_k=features.neighbour_density_k,
            similar_ks=features.neighbour_similar_ks,
            income_scale_km=features.neighbour_income_scale_km,
            context_k=features.neighbour_context_k,
            spread_k=features.neighbour_spread_k,
            smoothing_km=features.neighbour_smoothing_km,
            n_splits=features.neighbour_folds,
            random_state=random_state,
        )
        steps.append(("neighbours", neighbours))
    return steps


def _estimator(config: ModelConfig) -> RandomForestRegressor | AveragedBoosting:
    if isinstance(config, RandomForestConfig):
        return RandomForestRegressor(
            n_estimators=config.n_estimators,
            max_depth=config.max_depth,
            min_samples_leaf=config.min_samples_leaf,
            random_state=config.random_state,
            n_jobs=-1,
        )
    if isinstance(config, HistGradientBoostingConfig):
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


def train_model(train: pd.DataFrame, config: ModelConfig) -> Pipeline:
    """Fit the pipeline on the training rows, then make it cheap to serve one row at a time."""
    pipeline = build_pipeline(config)
    threads = config.fit_threads if isinstance(config, HistGradientBoostingConfig) else None
    with threadpool_limits(limits=threads, user_api="openmp"):
        pipeline.fit(train.loc[:, list(FEATURE_COLUMNS)], train[TARGET])
    _single_threaded_for_serving(pipeline)
    return pipeline


def _single_threaded_for_serving(pipeline: Pipeline) -> None:
    # Starting a thread pool costs ~20 ms per request; one thread scores a row in ~1 ms.
    regressor = pipeline.named_steps["estimator"].regressor_
    if hasattr(regressor, "n_jobs"):
        regressor.set_params(n_jobs=1)


def predict(model: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    """Prices in dollars for raw rows (extra columns, such as the target, are ignored)."""
    return np.asarray(model.predict(frame.loc[:, list(FEATURE_COLUMNS)]), dtype=float)
