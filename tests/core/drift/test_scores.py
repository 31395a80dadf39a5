"""The scores on tiny cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from housing_core.drift import js_distance, psi, wasserstein
from housing_core.drift.counts import count_categories, count_numeric, quantile_edges
from housing_core.drift.scores import categorical_scores, numeric_scores


def _psi_by_hand(reference: list[float], current: list[float]) -> float:
    """PSI with half a row added to every bin, written out."""
    ref = [(c + 0.5) / (sum(reference) + 0.5 * len(reference)) for c in reference]
    cur = [(c + 0.5) / (sum(current) + 0.5 * len(current)) for c in current]
    return sum((c - r) * math.log(c / r) for r, c in zip(ref, cur, strict=True))


@pytest.mark.parametrize(
    ("reference", "current", "expected"),
    [
        ([10, 10], [10, 10], 0.0),
        ([50, 50], [90, 10], 0.853_059_2),
        # empty bin on the reference side: smoothed to half a row, stays finite
        ([100, 0], [50, 50], 2.625_398_5),
        ([1, 2, 3, 4], [4, 3, 2, 1], _psi_by_hand([1, 2, 3, 4], [4, 3, 2, 1])),
    ],
)
def test_psi_on_hand_computed_counts(
    reference: list[float], current: list[float], expected: float
) -> None:
    # given two vectors of counts on the same bins / when / then
    value = psi(np.array(reference, dtype=float), np.array(current, dtype=float))

    assert value == pytest.approx(expected, abs=1e-7)
    assert value == pytest.approx(_psi_by_hand(reference, current), rel=1e-12)


@pytest.mark.parametrize(
    ("reference", "current", "expected"),
    [
        ([1, 1], [1, 1], 0.0),
        ([1, 0], [0, 1], 1.0),
        # H(3/4, 1/4) - (H(1/2, 1/2) + H(1, 0)) / 2 = 0.311278..., distance its square root
        ([1, 1], [1, 0], math.sqrt(0.811_278_124_459_133 - 0.5)),
        ([5, 5], [50, 50], 0.0),
    ],
)
def test_jensen_shannon_distance_base_two(
    reference: list[float], current: list[float], expected: float
) -> None:
    value = js_distance(np.array(reference, dtype=float), np.array(current, dtype=float))

    assert value == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("ref_points", "ref", "cur_points", "cur", "expected"),
    [
        ([0, 1], [1, 0], [0, 1], [0, 1], 1.0),
        ([0, 1, 2], [1, 1, 0], [0, 1, 2], [0, 1, 1], 1.0),
        ([0, 10], [1, 1], [0, 10], [1, 1], 0.0),
        # points of their own: all the mass moves from 5 to 15
        ([5], [4], [15], [4], 10.0),
    ],
)
def test_wasserstein_between_discrete_distributions(
    ref_points: list[float],
    ref: list[float],
    cur_points: list[float],
    cur: list[float],
    expected: float,
) -> None:
    value = wasserstein(
        np.array(ref_points, dtype=float),
        np.array(ref, dtype=float),
        np.array(cur_points, dtype=float),
        np.array(cur, dtype=float),
    )

    assert value == pytest.approx(expected, abs=1e-12)


def test_binned_wasserstein_puts_outer_bins_at_their_own_mean() -> None:
    # given a reference inside [0, 10) (mean 5, std sqrt(5)) and a batch beyond the last edge
    edges = (0.0, 10.0)
    reference = count_numeric(np.array([2.0, 4.0, 6.0, 8.0]), edges)
    current = count_numeric(np.array([15.0, 15.0, 15.0, 15.0]), edges)

    # when
    scores = numeric_scores(reference, current)

    # then the inner bin's mass sits at its middle (5), the open top bin's at its mean (15)
    assert scores["wasserstein"] == pytest.approx(10 / math.sqrt(5), rel=1e-12)
    assert scores["blank"] == 0.0


def test_blank_change_is_the_difference_of_blank_shares() -> None:
    edges = (2.5,)
    reference = count_numeric(np.array([1.0, np.nan, 3.0, 4.0]), edges)
    current = count_numeric(np.array([np.nan, np.nan, 1.0, 2.0]), edges)

    assert numeric_scores(reference, current)["blank"] == pytest.approx(0.25)


def test_a_batch_with_no_values_scores_only_its_blanks() -> None:
    reference = count_numeric(np.array([1.0, 2.0, 3.0, 4.0]), (2.5,))
    current = count_numeric(np.array([np.nan, np.nan]), (2.5,))

    scores = numeric_scores(reference, current)

    assert math.isnan(scores["psi"]) and math.isnan(scores["wasserstein"])
    assert scores["blank"] == 1.0


def test_categorical_scores_count_unseen_categories_in_a_bucket_of_their_own() -> None:
    # given a reference of a, b and a batch with one a and three c (never seen)
    reference = count_categories(pd.Series(["a", "a", "b", "b"]))
    current = count_categories(pd.Series(["a", "c", "c", "c", None]))

    scores = categorical_scores(reference, current)

    assert scores["unseen"] == pytest.approx(0.75)
    assert scores["blank"] == pytest.approx(0.2)
    assert scores["psi"] == pytest.approx(_psi_by_hand([2, 2, 0], [1, 0, 3]), rel=1e-12)
    expected_js = js_distance(np.array([2.0, 2.0, 0.0]), np.array([1.0, 0.0, 3.0]))
    assert scores["js"] == pytest.approx(expected_js, rel=1e-12)


@pytest.mark.parametrize(
    ("values", "bins", "edges"),
    [
        # whole numbers: each edge halfway to the next value, at the shortest decimal
        (list(range(1, 11)), 5, (2.5, 4.5, 6.5, 8.5)),
        # a point mass at a cap never straddles an edge; its ties merge the upper bins
        ([1, 2, 3, 4, *[52] * 6], 4, (3.5,)),
        ([0.11, 0.12, 0.13, 0.14], 2, (0.125,)),
        ([7, 7, 7], 4, (math.nextafter(7, -math.inf), math.nextafter(7, math.inf))),
        ([math.nan, math.nan], 4, ()),
    ],
)
def test_quantile_edges_sit_between_reference_values(
    values: list[float], bins: int, edges: tuple[float, ...]
) -> None:
    assert quantile_edges(np.array(values, dtype=float), bins) == edges


def test_counts_on_edges_put_every_value_in_a_bin_and_blanks_aside() -> None:
    counts = count_numeric(np.array([-1e9, 1.0, 2.5, 3.0, 1e9, np.nan, np.inf]), (2.5,))

    assert counts.counts == (2, 3)
    assert counts.blanks == 2  # missing and non-finite
    assert counts.outer_sums == (-1e9 + 1.0, 2.5 + 3.0 + 1e9)
