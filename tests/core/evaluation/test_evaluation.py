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


def test_importance_is_the_same_on_one_thread_and_on_several(data_source: str) -> None:
    import pandas as pd

    from housing_core.data.contract import FEATURE_COLUMNS, TARGET, features_of
    from housing_core.evaluation.importance import feature_importance
    from housing_core.model.pipeline import train_model
    from housing_core.settings import load_settings
    from tests.benchmarks.synthetic import jittered_rows

    real = pd.read_csv(data_source)
    frame = jittered_rows(real, 3_000, seed=5)
    train, test = frame.iloc[:2_500], frame.iloc[2_500:]
    config = load_settings({"model": {"max_iter": 20, "n_models": 2}}).model
    model = train_model(features_of(train), train[TARGET], config)

    alone = feature_importance(model, test, max_rows=300, threads=1)
    beside = feature_importance(model, test, max_rows=300, threads=3)

    pd.testing.assert_frame_equal(alone, beside, check_exact=True)
    assert set(alone["feature"]) == set(FEATURE_COLUMNS)
    assert alone["rmse_increase"].iloc[0] > 0  # the top column matters
