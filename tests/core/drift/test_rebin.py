"""One profile's counts on another's bins: exact on the same edges, close on others."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from housing_core.drift import build_profile, check
from housing_core.drift.counts import NumericCounts
from housing_core.drift.rebin import on_bins_of, rebinned


def test_on_the_same_edges_nothing_moves() -> None:
    counts = NumericCounts((1.0, 2.0), (3, 4, 5), 1, 1.5, 0.5, (1.5, 12.5))
    assert rebinned(counts, (1.0, 2.0)) is counts


def test_an_inner_bin_spreads_evenly_and_an_outer_one_lands_at_its_mean() -> None:
    # given 10 values evenly in [0, 10) and 4 beyond 10 whose mean is 12
    counts = NumericCounts((0.0, 10.0), (0, 10, 4), 0, 5.0, 3.0, (0.0, 48.0))

    # when they are counted on edges 5 and 11
    moved = rebinned(counts, (5.0, 11.0))

    # then half of [0, 10) falls below 5, half in [5, 11), and the outer four beyond 11
    assert moved.counts == (5, 5, 4)
    assert sum(moved.counts) == sum(counts.counts)
    assert moved.outer_sums == pytest.approx((5 * 2.5, 48.0))


def test_a_sample_of_the_same_data_on_another_profiles_bins_does_not_drift(
    data_source: str,
) -> None:
    frame = pd.read_csv(data_source)
    half = frame.sample(frac=0.5, random_state=1)
    names = ["median_income", "housing_median_age", "longitude"]
    mine = build_profile(half, numeric=names)
    theirs = build_profile(frame.drop(half.index), numeric=names)

    report = check(mine, on_bins_of(theirs.reference, mine))

    for feature in report.features:
        assert feature.status_of("wasserstein") == "ok", feature


def test_a_shift_on_another_profiles_bins_shows_as_the_exact_count_does(data_source: str) -> None:
    frame = pd.read_csv(data_source)
    half = frame.sample(frac=0.5, random_state=1)
    shifted = frame.drop(half.index).assign(median_income=lambda f: f.median_income * 1.2)
    mine = build_profile(half, numeric=["median_income"])
    theirs = build_profile(shifted, numeric=["median_income"])

    approx = check(mine, on_bins_of(theirs.reference, mine)).feature("median_income")
    exact = check(mine, shifted).feature("median_income")

    assert approx.status_of("wasserstein") == exact.status_of("wasserstein") == "drift"
    assert approx.scores["wasserstein"] == pytest.approx(exact.scores["wasserstein"], rel=0.05)
    assert np.isfinite(approx.scores["psi"])
