from __future__ import annotations

import numpy as np
import pytest

from housing_core.evaluation.gates import check_gates
from housing_core.evaluation.metrics import regression_metrics
from housing_core.settings import QualityGates


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
def test_gates(metrics: dict[str, float], failed: list[str]) -> None:
    checks = check_gates(metrics, QualityGates())

    assert [c.metric for c in checks if not c.passed] == failed
    for check in checks:
        assert check.metric in check.describe() and ("FAILED" in check.describe()) != check.passed


def test_a_missed_gate_names_the_metric_the_limit_and_the_margin_in_one_format() -> None:
    rmse, _, r2, mape = check_gates(
        {"rmse": 72_345.4, "mae": 1.0, "r2": 0.6517, "mape": 0.35}, QualityGates()
    )

    assert rmse.miss() == "rmse gate: $72,345 > $70,000 (over by $2,345)"
    assert r2.miss() == "r2 gate: 0.6517 < 0.7500 (under by 0.0983)"
    assert mape.miss() == "mape gate: 35.00% > 30.00% (over by 5.00%)"
    assert (
        check_gates({"rmse": 1.0, "mae": 1.0, "r2": 0.9, "mape": 0.1}, QualityGates())[0].miss()
        == ""
    )


def test_a_version_that_could_not_be_scored_fails_every_gate() -> None:
    nan = float("nan")

    checks = check_gates({"rmse": nan, "mae": nan, "r2": nan, "mape": nan}, QualityGates())

    assert not any(c.passed for c in checks)
