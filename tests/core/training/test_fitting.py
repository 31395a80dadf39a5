"""The evaluation step: held-out metrics and importance, one OpenMP thread per call."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from threadpoolctl import threadpool_info

from housing_core.settings import QualityGates
from housing_core.training.fitting import TrainedModel, evaluate


class RecordingPredictor(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Prices every row at its income x 50,000 and records the OpenMP pools' sizes it saw."""

    def __init__(self) -> None:
        self.openmp_threads: list[int] = []

    def fit(self, X: Any, y: Any) -> RecordingPredictor:
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        pools = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"]
        self.openmp_threads.extend(pools)
        return X["median_income"].to_numpy(dtype=float) * 50_000.0


def test_evaluation_predicts_with_one_openmp_thread_and_scores_the_rows(
    rows: pd.DataFrame,
) -> None:
    test = pd.concat([rows] * 20, ignore_index=True)
    predictor = RecordingPredictor()
    trained = TrainedModel(pipeline=predictor, cache_token="t", seconds=0.0)  # type: ignore[arg-type]

    evaluated = evaluate(trained, test, QualityGates())

    assert predictor.openmp_threads, "scikit-learn's OpenMP runtime is loaded"
    assert set(predictor.openmp_threads) == {1}
    expected = np.sqrt(np.mean((test["median_income"] * 50_000 - test["median_house_value"]) ** 2))
    assert np.isclose(evaluated.evaluation.metrics["rmse"], expected)
    assert evaluated.importance.iloc[0]["feature"] == "median_income"
