"""One trial's work: fit a configuration on the fitting rows, score it on the validation fold."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd
from threadpoolctl import threadpool_limits

from housing_core.data.contract import TARGET, features_of
from housing_core.evaluation.metrics import regression_metrics
from housing_core.settings import ModelConfig, SplitSettings
from housing_core.sweep.folds import validation_split
from housing_core.training import fitting

OBJECTIVE = "rmse"  # on the validation fold, minimised


@dataclass(frozen=True)
class TrialScore:
    """What a trial measured, and where it ran (a cached score keeps where it was computed)."""

    metrics: dict[str, float]
    fit_seconds: float
    n_fit_rows: int
    n_validation_rows: int
    worker: str

    @property
    def value(self) -> float:
        return self.metrics[OBJECTIVE]


def score_trial(
    train: pd.DataFrame,
    config: ModelConfig,
    validation_fraction: float,
    split: SplitSettings,
    worker: str = "",
) -> TrialScore:
    """Fit on the training rows outside the validation fold; score on the fold (one OpenMP
    thread while predicting, as the training's evaluation does: see fitting.evaluate)."""
    fold = validation_split(train, validation_fraction, split)
    started = time.perf_counter()
    trained = fitting.fit(fold.train, config)
    seconds = time.perf_counter() - started
    with threadpool_limits(limits=1, user_api="openmp"):
        predicted = trained.pipeline.predict(features_of(fold.test))
    metrics = regression_metrics(fold.test[TARGET].to_numpy(), predicted)
    return TrialScore(metrics, seconds, len(fold.train), len(fold.test), worker)
