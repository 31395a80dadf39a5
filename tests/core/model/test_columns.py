"""Columns: the numpy table the model's feature steps pass each other."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from housing_core.data.contract import FEATURE_COLUMNS, TARGET
from housing_core.model.columns import Columns, ToColumns, text_columns_of, to_columns
from housing_core.model.features import Preprocessor, RatioFeatures
from housing_core.model.geo import GeographicFeatures
from housing_core.model.neighbours.transformer import NeighbourTargetFeatures

TEXT = ("ocean_proximity",)


def test_the_text_columns_are_the_ones_without_numbers(rows: pd.DataFrame) -> None:
    assert text_columns_of(rows) == TEXT
    assert ToColumns().fit(rows).text_columns_ == TEXT


def test_a_frame_becomes_float_columns_and_one_text_column(rows: pd.DataFrame) -> None:
    table = to_columns(rows[list(FEATURE_COLUMNS)], TEXT)

    assert table.columns == list(FEATURE_COLUMNS)
    assert len(table) == 3
    assert table["median_income"].dtype == np.float64
    assert np.isnan(table["total_bedrooms"][1])  # a blank stays a blank
    assert list(table["ocean_proximity"]) == ["NEAR BAY", "<1H OCEAN", "INLAND"]


def test_a_table_holds_the_values_of_the_frame_it_came_from(rows: pd.DataFrame) -> None:
    table = to_columns(rows, TEXT)

    for name in rows.columns:
        np.testing.assert_array_equal(table[name], rows[name].to_numpy(), err_msg=name)


def test_a_few_rows_and_a_batch_are_read_alike(rows: pd.DataFrame) -> None:
    batch = pd.concat([rows] * 40, ignore_index=True)  # past the few-rows path

    few, many = to_columns(rows, TEXT), to_columns(batch, TEXT)

    for name in rows.columns:
        assert few[name].dtype == many[name].dtype, name
        np.testing.assert_array_equal(few[name], many[name][:3])


def test_a_text_value_in_a_numeric_column_is_named(rows: pd.DataFrame) -> None:
    broken = rows.astype({"households": object})
    broken.loc[1, "households"] = "many"

    with pytest.raises(ValueError, match="'households' must be numeric"):
        ToColumns().fit(rows).transform(broken)


def test_columns_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        Columns({"a": np.zeros(2), "b": np.zeros(3)})


def test_each_step_gives_the_same_values_on_columns_as_on_a_frame(rows: pd.DataFrame) -> None:
    # given the feature steps fitted on a frame of a few dozen rows
    frame = pd.concat([rows] * 10, ignore_index=True)
    frame["longitude"] += np.linspace(0.0, 0.5, len(frame))  # distinct positions
    X, y = frame[list(FEATURE_COLUMNS)], frame[TARGET]
    steps = [
        RatioFeatures(),
        GeographicFeatures(),
        NeighbourTargetFeatures(ks=(2, 4), income_k=3, density_k=3, context_k=3, spread_k=3),
    ]
    as_frame: pd.DataFrame = X
    for step in steps:
        as_frame = step.fit(as_frame, y).transform(as_frame)
    preprocessor = Preprocessor().fit(as_frame)

    # when the same rows go through the fitted steps as Columns
    as_columns: Columns = to_columns(X, TEXT)
    for step in steps:
        as_columns = step.transform(as_columns)

    # then every column, and the estimator's matrix, is the same
    assert isinstance(as_columns, Columns)
    assert as_columns.columns == list(as_frame.columns)
    for name in as_frame.columns:
        expected = as_frame[name].to_numpy()
        np.testing.assert_array_equal(as_columns[name], expected, err_msg=name)
    np.testing.assert_array_equal(
        preprocessor.transform(as_columns), preprocessor.transform(as_frame)
    )
