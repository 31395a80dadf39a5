"""What a batch scoring counts on the way: exact metrics, a bounded uniform sample."""

from __future__ import annotations

import numpy as np
import pytest

from housing_core.evaluation.metrics import regression_metrics
from housing_core.scoring.tally import Tally


def test_the_metrics_over_chunks_equal_the_metrics_over_the_whole() -> None:
    generator = np.random.default_rng(3)
    actual = generator.uniform(50_000, 500_000, 10_000)
    predicted = actual + generator.normal(0, 40_000, actual.size)
    tally = Tally()

    for start in range(0, actual.size, 3_000):
        tally.add(predicted[start : start + 3_000], actual[start : start + 3_000])

    expected = regression_metrics(actual, predicted)
    assert tally.metrics() == pytest.approx(expected, rel=1e-9)
    assert tally.priced == tally.labelled == 10_000


def test_unpriced_rows_and_rows_without_a_price_are_left_out_of_the_metrics() -> None:
    tally = Tally()
    tally.add(np.array([100.0, np.nan, 300.0]), np.array([110.0, 200.0, np.nan]))

    assert tally.priced == 2 and tally.labelled == 1
    assert tally.metrics() == pytest.approx(
        {"rmse": 10.0, "mae": 10.0, "r2": np.nan, "mape": 10 / 110}, nan_ok=True
    )
    assert Tally().metrics() is None


def test_the_sample_stays_bounded_and_uniform_and_gives_the_quantiles() -> None:
    tally = Tally(sample_size=1_000)
    values = np.arange(200_000, dtype=float)
    for start in range(0, values.size, 7_000):
        chunk = values[start : start + 7_000]
        tally.add(chunk, None)

    actual, _ = tally.pairs()
    assert actual.size == 0  # no prices in the file: nothing to picture
    assert tally.quantiles()["p50"] == pytest.approx(100_000, rel=0.1)
    assert tally.quantiles()["p99"] == pytest.approx(198_000, rel=0.02)


def test_the_same_rows_give_the_same_sample() -> None:
    def sample() -> dict[str, float]:
        tally = Tally(sample_size=100)
        tally.add(np.arange(5_000, dtype=float), None)
        return tally.quantiles()

    assert sample() == sample()
