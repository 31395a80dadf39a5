from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from housing_core.data.contract import FEATURE_COLUMNS
from housing_core.model.features import Preprocessor, RatioFeatures


def test_ratio_features_are_added(rows: pd.DataFrame) -> None:
    out = RatioFeatures().fit_transform(rows)

    assert out.loc[0, "rooms_per_household"] == pytest.approx(880 / 126)
    assert out.loc[0, "bedrooms_per_room"] == pytest.approx(129 / 880)
    assert out.loc[0, "population_per_household"] == pytest.approx(322 / 126)
    assert np.isnan(out.loc[1, "bedrooms_per_room"])  # blank bedrooms stay blank for the imputer


def test_zero_denominator_gives_a_blank_not_infinity(rows: pd.DataFrame) -> None:
    rows.loc[0, "households"] = 0.0

    out = RatioFeatures().fit_transform(rows)

    assert np.isnan(out.loc[0, "rooms_per_household"])


def test_missing_input_column_is_named(rows: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="households"):
        RatioFeatures().fit_transform(rows.drop(columns=["households"]))


def test_preprocessor_imputes_scales_and_one_hot_encodes(rows: pd.DataFrame) -> None:
    features = RatioFeatures().fit_transform(rows[list(FEATURE_COLUMNS)])

    out = Preprocessor().fit(features)
    matrix = out.transform(features)

    names = list(out.get_feature_names_out())
    assert "ocean_proximity_INLAND" in names and "bedrooms_per_room" in names
    assert not np.isnan(matrix).any()
    assert matrix[:, names.index("ocean_proximity_NEAR BAY")].tolist() == [1.0, 0.0, 0.0]


def test_a_few_rows_and_a_batch_are_preprocessed_alike(rows: pd.DataFrame) -> None:
    batch = RatioFeatures().fit_transform(pd.concat([rows] * 30, ignore_index=True))
    preprocessor = Preprocessor().fit(batch)

    one_by_one = np.vstack([preprocessor.transform(batch.iloc[[i]]) for i in range(len(batch))])

    np.testing.assert_array_equal(one_by_one, preprocessor.transform(batch))


def test_the_categories_are_learnt_from_the_training_rows_and_an_unknown_one_is_zeros(
    rows: pd.DataFrame,
) -> None:
    # given a preprocessor fitted on rows holding three of the five categories
    features = RatioFeatures().fit_transform(rows[list(FEATURE_COLUMNS)])
    preprocessor = Preprocessor().fit(features)

    # when a row with a category never seen while fitting is transformed
    unseen = features.iloc[[0]].assign(ocean_proximity="ISLAND")
    matrix = preprocessor.transform(unseen)

    # then the one-hot columns are the three seen, sorted, and the unseen one encodes as zeros
    names = list(preprocessor.get_feature_names_out())
    one_hot = [n for n in names if n.startswith("ocean_proximity_")]
    assert one_hot == [
        "ocean_proximity_<1H OCEAN",
        "ocean_proximity_INLAND",
        "ocean_proximity_NEAR BAY",
    ]
    assert matrix[0, [names.index(n) for n in one_hot]].tolist() == [0.0, 0.0, 0.0]
