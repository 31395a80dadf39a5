"""The reference profile: compact, exact through JSON, and mergeable on the same bins."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from housing_core.drift import (
    PREDICTION,
    IncompatibleBinsError,
    NumericCounts,
    Profile,
    build_profile,
    check,
    summarize,
)
from tests.benchmarks.synthetic import LinearPrices
from tests.core.drift.conftest import CATEGORICAL, NUMERIC, TARGET


def _halves(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    shuffled = frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    middle = len(shuffled) // 2
    return shuffled.iloc[:middle], shuffled.iloc[middle:]


def test_the_real_datas_profile_is_a_few_kilobytes_of_plain_json(profile: Profile) -> None:
    text = json.dumps(profile.to_dict(), separators=(",", ":"))

    assert len(text.encode()) < 8_000
    assert profile.to_dict()["schema_version"] == 1
    assert set(profile.columns) == {*NUMERIC, *CATEGORICAL, TARGET, PREDICTION}


def test_json_round_trip_is_exact(profile: Profile) -> None:
    # given the profile written as JSON and read back
    text = json.dumps(profile.to_dict())

    # when
    again = Profile.from_dict(json.loads(text))

    # then nothing changed, not even the last digit of a float
    assert again == profile
    assert json.dumps(again.to_dict()) == text


def test_a_profile_of_another_schema_version_is_refused(profile: Profile) -> None:
    data = {**profile.to_dict(), "schema_version": 99}

    with pytest.raises(ValueError, match="schema version 99"):
        Profile.from_dict(data)


def test_the_profile_holds_bins_counts_blanks_and_quantiles_not_rows(
    profile: Profile, housing: pd.DataFrame
) -> None:
    bedrooms = profile.reference.columns["total_bedrooms"]
    assert isinstance(bedrooms, NumericCounts)

    assert bedrooms.rows == len(housing)
    assert bedrooms.blanks == int(housing["total_bedrooms"].isna().sum())
    assert 10 <= len(bedrooms.counts) <= 20
    assert bedrooms.std == pytest.approx(housing["total_bedrooms"].std(ddof=0))
    quantiles = profile.target_quantiles()
    assert len(quantiles) >= 10
    assert quantiles[len(quantiles) // 2] == pytest.approx(housing[TARGET].median(), rel=0.05)


@pytest.mark.parametrize("chunk_rows", [1_000, 4_321, 20_000])
def test_summaries_of_chunks_add_up_to_the_summary_of_all_rows(
    profile: Profile, housing: pd.DataFrame, model: LinearPrices, chunk_rows: int
) -> None:
    # given the rows cut into chunks, each summarised on the profile's bins
    chunks = [housing.iloc[i : i + chunk_rows] for i in range(0, len(housing), chunk_rows)]
    parts = [summarize(c, like=profile, predictions=model.predict(c)) for c in chunks]

    # when they are added
    total = parts[0]
    for part in parts[1:]:
        total = total + part

    # then the counts are those of all the rows at once, and so is the verdict
    whole = summarize(housing, like=profile, predictions=model.predict(housing))
    assert total.rows == whole.rows
    for name, counts in whole.columns.items():
        merged = total.columns[name]
        if isinstance(counts, NumericCounts):
            assert isinstance(merged, NumericCounts)
            assert (merged.counts, merged.blanks) == (counts.counts, counts.blanks)
            assert merged.mean == pytest.approx(counts.mean)
            assert merged.std == pytest.approx(counts.std)
        else:
            assert merged == counts
    by_chunks, at_once = check(profile, total), check(profile, whole)
    for mine, theirs in zip(by_chunks.features, at_once.features, strict=True):
        assert mine.status == theirs.status
        assert mine.scores == pytest.approx(theirs.scores, abs=1e-9)


def test_a_summary_survives_json(profile: Profile, housing: pd.DataFrame) -> None:
    summary = summarize(housing.head(500), like=profile)

    again = type(summary).from_dict(json.loads(json.dumps(summary.to_dict())))

    assert again == summary


def test_profiles_on_the_same_bins_add_up_to_the_profile_of_both(housing: pd.DataFrame) -> None:
    # given two halves profiled on the bins of the first
    first, second = _halves(housing)
    a = build_profile(first, NUMERIC, CATEGORICAL, TARGET)
    b = build_profile(second, like=a)

    # when they are merged
    merged = a + b

    # then the counts are those of one profile of all the rows on the same bins
    both = build_profile(pd.concat([first, second]), like=a)
    for name, counts in both.reference.columns.items():
        mine = merged.reference.columns[name]
        if isinstance(counts, NumericCounts):
            assert isinstance(mine, NumericCounts)
            assert (mine.edges, mine.counts, mine.blanks) == (
                counts.edges,
                counts.counts,
                counts.blanks,
            )
        else:
            assert mine == counts
    assert merged.reference.rows == len(housing)


def test_profiles_on_different_bins_are_not_merged(housing: pd.DataFrame) -> None:
    first, second = _halves(housing)
    a = build_profile(first, NUMERIC, CATEGORICAL, folds=0)
    b = build_profile(second, NUMERIC, CATEGORICAL, folds=0)

    with pytest.raises(
        IncompatibleBinsError, match=r"cannot merge column 'longitude'.*other edges"
    ):
        a + b
    with pytest.raises(IncompatibleBinsError, match="cannot merge column"):
        summarize(first, like=a) + summarize(first, like=b)
    with pytest.raises(IncompatibleBinsError, match="not counted on this profile's bins"):
        check(a, summarize(second, like=b))


def test_summaries_of_different_columns_are_not_merged(
    profile: Profile, housing: pd.DataFrame
) -> None:
    with_target = summarize(housing.head(100), like=profile)
    without = summarize(housing.head(100).drop(columns=[TARGET]), like=profile)

    with pytest.raises(IncompatibleBinsError, match=TARGET):
        with_target + without


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda f: f.drop(columns=["median_income"]), KeyError, "median_income"),
        (lambda f: f.drop(columns=["ocean_proximity"]), KeyError, "ocean_proximity"),
    ],
)
def test_a_batch_without_a_profiled_column_is_refused_by_name(
    profile: Profile, housing: pd.DataFrame, change: object, error: type, message: str
) -> None:
    batch = change(housing.head(50))  # type: ignore[operator]

    with pytest.raises(error, match=message):
        summarize(batch, like=profile)


def test_predictions_must_be_one_per_row(profile: Profile, housing: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="3 predictions for 50 rows"):
        summarize(housing.head(50), like=profile, predictions=np.zeros(3))


def test_predictions_need_a_profile_that_has_them(housing: pd.DataFrame) -> None:
    plain = build_profile(housing.head(200), NUMERIC, folds=0)

    with pytest.raises(ValueError, match="without predictions"):
        summarize(housing.head(50), like=plain, predictions=np.zeros(50))


def test_calibration_needs_enough_rows_or_none(rows: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="folds=0"):
        build_profile(rows, ["median_income"], ["ocean_proximity"])

    floors_only = build_profile(rows, ["median_income"], ["ocean_proximity"], folds=0)

    assert floors_only.thresholds["median_income"]["psi"].noise == 0.0
