from __future__ import annotations

import numpy as np
import pytest

from housing_core.evaluation import check_thresholds, regression_metrics
from housing_core.settings import Thresholds


def test_metrics_on_a_known_case() -> None:
    actual = np.array([100_000.0, 200_000.0, 300_000.0])
    predicted = np.array([110_000.0, 190_000.0, 300_000.0])

    metrics = regression_metrics(actual, predicted)

    assert metrics["rmse"] == pytest.approx(np.sqrt(200_000_000 / 3))
    assert metrics["mae"] == pytest.approx(20_000 / 3)
    assert metrics["mape"] == pytest.approx((0.1 + 0.05) / 3)
    assert metrics["r2"] == pytest.approx(1 - 200_000_000 / 20_000_000_000)


@pytest.mark.parametrize(
    ("metrics", "failed"),
    [
        ({"rmse": 50_000, "mae": 30_000, "r2": 0.8, "mape": 0.2}, []),
        ({"rmse": 80_000, "mae": 30_000, "r2": 0.8, "mape": 0.2}, ["rmse"]),
        ({"rmse": 50_000, "mae": 30_000, "r2": 0.5, "mape": 0.4}, ["r2", "mape"]),
        ({"rmse": 70_000, "mae": 50_000, "r2": 0.75, "mape": 0.3}, []),  # limits are inclusive
    ],
)
def test_thresholds(metrics: dict[str, float], failed: list[str]) -> None:
    checks = check_thresholds(metrics, Thresholds())

    assert [c.metric for c in checks if not c.passed] == failed
    for check in checks:
        assert check.metric in check.describe() and ("FAILED" in check.describe()) != check.passed
