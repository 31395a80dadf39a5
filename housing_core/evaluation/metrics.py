"""Regression metrics in the units people read them in."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    mean_absolute_error,
    mean_absolute_percentage_error,
    r2_score,
    root_mean_squared_error,
)

METRICS = ("rmse", "mae", "r2", "mape")


def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """RMSE, MAE in dollars, R², and MAPE as a fraction (0.17 means 17 %)."""
    return {
        "rmse": float(root_mean_squared_error(actual, predicted)),
        "mae": float(mean_absolute_error(actual, predicted)),
        "r2": float(r2_score(actual, predicted)),
        "mape": float(mean_absolute_percentage_error(actual, predicted)),
    }


def not_scored() -> dict[str, float]:
    """The metrics of a version that could not be scored: NaN, which fails every gate."""
    return {name: float("nan") for name in METRICS}
