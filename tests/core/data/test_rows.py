"""The contract row by row, for rows that are priced rather than trained on: tables of cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from housing_core.data.contract import FEATURE_COLUMNS, TARGET
from housing_core.data.rows import check_rows, describe_counts
from housing_core.data.validation import DataValidationError

GOOD = {
    "longitude": -122.23,
    "latitude": 37.88,
    "housing_median_age": 41.0,
    "total_rooms": 880.0,
    "total_bedrooms": 129.0,
    "population": 322.0,
    "households": 126.0,
    "median_income": 8.3252,
    "ocean_proximity": "NEAR BAY",
}


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"median_income": -1.0}, "median_income: outside [0, 20]"),
        ({"longitude": -130.0}, "longitude: outside [-125, -114]"),
        ({"latitude": 50.0}, "latitude: outside [32, 42.5]"),
        ({"population": 0.0}, "population: outside [1, 100000]"),
        ({"households": None}, "households: blank"),
        ({"population": math.inf}, "population: infinite"),
        ({"total_rooms": "lots"}, "total_rooms: not a number"),
        ({"ocean_proximity": "MARS"}, "ocean_proximity: unseen category"),
        ({"ocean_proximity": None}, "ocean_proximity: blank"),
    ],
)
def test_a_row_that_breaks_a_rule_is_named_by_it_and_counted(
    change: dict[str, object], rule: str
) -> None:
    # given two good rows and one that breaks one rule
    frame = pd.DataFrame([GOOD, {**GOOD, **change}, GOOD])

    # when the rows are checked
    check = check_rows(frame)

    # then only that row is named, by that rule, and the count says so
    assert check.violations.tolist() == ["", rule, ""]
    assert check.counts == {rule: 1}
    assert check.broken.tolist() == [False, True, False]
    assert describe_counts(check.counts, 3) == [f"{rule}: 1 of 3 rows"]


def test_a_blank_bedroom_count_is_allowed_and_a_row_may_break_several_rules() -> None:
    frame = pd.DataFrame(
        [{**GOOD, "total_bedrooms": None}, {**GOOD, "median_income": 99.0, "latitude": 10.0}]
    )

    check = check_rows(frame)

    assert check.violations.tolist() == [
        "",
        "latitude: outside [32, 42.5]; median_income: outside [0, 20]",
    ]


def test_the_features_go_to_the_model_as_numbers_and_text_and_other_columns_stay_out() -> None:
    frame = pd.DataFrame([{**GOOD, "total_rooms": "880", "extra": "x", TARGET: 452600.0}])

    features = check_rows(frame).features

    assert list(features.columns) == list(FEATURE_COLUMNS)
    assert features["total_rooms"].dtype == np.float64 and features.loc[0, "total_rooms"] == 880
    assert features["ocean_proximity"].tolist() == ["NEAR BAY"]


def test_an_infinite_value_reaches_the_model_as_a_blank() -> None:
    features = check_rows(pd.DataFrame([{**GOOD, "population": -math.inf}])).features
    assert math.isnan(features.loc[0, "population"])


def test_missing_columns_refuse_the_batch_naming_each_one() -> None:
    frame = pd.DataFrame([GOOD]).drop(columns=["median_income", "households"])

    with pytest.raises(DataValidationError) as raised:
        check_rows(frame, "in.csv")

    assert raised.value.problems[0].startswith("missing column 'households'")
    assert raised.value.problems[1].startswith("missing column 'median_income'")
    assert "in.csv" in str(raised.value)


def test_the_real_data_meets_the_contract_row_by_row(data_source: str) -> None:
    check = check_rows(pd.read_csv(data_source))
    assert check.counts == {} and not check.broken.any()


def test_a_numeric_column_of_text_is_the_wrong_type_not_bad_rows() -> None:
    frame = pd.DataFrame([{**GOOD, "median_income": "high"}, {**GOOD, "median_income": "low"}])

    with pytest.raises(DataValidationError, match=r"column 'median_income': expected numbers"):
        check_rows(frame)
