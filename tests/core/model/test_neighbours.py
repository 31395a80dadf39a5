"""NeighbourTargetFeatures: out-of-fold k-nearest-neighbour price and income features."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from housing_core.model.neighbours.transformer import NeighbourTargetFeatures


@pytest.fixture
def frame() -> pd.DataFrame:
    # Two clusters about 100 km apart, five block groups each.
    return pd.DataFrame(
        {
            "longitude": [
                -122.40,
                -122.41,
                -122.42,
                -122.43,
                -122.44,
                -121.30,
                -121.31,
                -121.32,
                -121.33,
                -121.34,
            ],
            "latitude": [37.70, 37.71, 37.72, 37.73, 37.74, 37.70, 37.71, 37.72, 37.73, 37.74],
            "median_income": [8.0, 7.5, 7.0, 8.5, 9.0, 3.0, 2.5, 3.5, 2.0, 3.0],
            "total_bedrooms": [np.nan, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
            "ocean_proximity": ["NEAR BAY"] * 5 + ["INLAND"] * 5,
        }
    )


@pytest.fixture
def price() -> pd.Series:
    return pd.Series(
        [
            500_000.0,
            480_000.0,
            450_000.0,
            470_000.0,
            490_000.0,
            100_000.0,
            90_000.0,
            110_000.0,
            95_000.0,
            105_000.0,
        ]
    )


def small(**params: Any) -> NeighbourTargetFeatures:
    defaults: dict[str, Any] = {"ks": (1, 3), "income_k": 3, "density_k": 3, "folds": 5}
    return NeighbourTargetFeatures(**{**defaults, **params})


def test_new_row_gets_its_neighbourhood_price(frame: pd.DataFrame, price: pd.Series) -> None:
    # given a model fit on both clusters
    nbrs = small().fit(frame, price)
    new = pd.DataFrame({"longitude": [-122.405], "latitude": [37.701], "median_income": [4.0]})

    # when
    out = nbrs.transform(new)

    # then its nearest neighbour is the first row, and its neighbours earn ~7.5
    first = out.iloc[0]
    assert first["nbr_log_value_k1"] == pytest.approx(np.log1p(500_000.0))
    assert np.expm1(first["nbr_log_value_k3"]) == pytest.approx(480_000, rel=0.05)
    assert first["nbr_income_k3"] == pytest.approx(7.5)
    assert first["income_rel_nbr_k3"] == pytest.approx(4.0 / 7.5)
    assert 0.0 < first["nbr_dist_k3_km"] < 5.0
    # and at its neighbours' price-to-income ratio, earning 4 it is worth about half as much
    worth = np.expm1(first["nbr_income_adjusted_log_value_k3"])
    assert worth == pytest.approx(480_000 * 4.0 / 7.5, rel=0.05)
    assert list(out.columns) == list(nbrs.get_feature_names_out(new.columns))


def test_own_price_never_enters_own_fit_transform_features(
    frame: pd.DataFrame, price: pd.Series
) -> None:
    # given the same rows with one price changed
    changed = price.copy()
    changed[2] = 5_000.0

    # when both are fit_transformed (out-of-fold) and transformed (all rows)
    before, after = small().fit_transform(frame, price), small().fit_transform(frame, changed)
    seen_before = small().fit(frame, price).transform(frame)
    seen_after = small().fit(frame, changed).transform(frame)

    # then row 2's own out-of-fold features do not move ...
    pd.testing.assert_frame_equal(before.iloc[[2]], after.iloc[[2]])
    # ... though the price does reach other rows, and reaches row 2 itself through transform
    assert not before.drop(index=2).equals(after.drop(index=2))
    assert seen_before.loc[2, "nbr_log_value_k1"] == pytest.approx(np.log1p(450_000.0))
    assert seen_after.loc[2, "nbr_log_value_k1"] == pytest.approx(np.log1p(5_000.0))


def test_single_row_equals_the_row_in_a_batch(frame: pd.DataFrame, price: pd.Series) -> None:
    nbrs = small().fit(frame, price)

    batch = nbrs.transform(frame)
    alone = nbrs.transform(frame.iloc[[7]])

    pd.testing.assert_frame_equal(alone, batch.iloc[[7]])


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps])
def test_pickle_round_trip_gives_equal_outputs(
    frame: pd.DataFrame, price: pd.Series, dumps: Callable[[object], bytes]
) -> None:
    nbrs = small().fit(frame, price)

    restored = pickle.loads(dumps(nbrs))

    pd.testing.assert_frame_equal(restored.transform(frame), nbrs.transform(frame))


def test_unused_columns_pass_through_and_nan_income_gives_nan(
    frame: pd.DataFrame, price: pd.Series
) -> None:
    # given a NaN in an unused column and a query row with unknown income
    nbrs = small().fit(frame, price)
    query = frame.assign(median_income=[np.nan, *frame["median_income"][1:]])

    # when
    out = nbrs.transform(query)

    # then unused columns are untouched, and only that row's own-income features are missing
    pd.testing.assert_frame_equal(out[frame.columns], query)
    own_income = ["income_rel_nbr_k3", "nbr_income_adjusted_log_value_k3"]
    assert out.loc[0, own_income].isna().all()
    assert out.drop(columns=[*frame.columns, *own_income]).notna().all().all()
    assert out.drop(index=0).notna().drop(columns="total_bedrooms").all().all()


def test_missing_income_is_named_unless_income_features_are_off(
    frame: pd.DataFrame, price: pd.Series
) -> None:
    without_income = frame.drop(columns="median_income")

    with pytest.raises(ValueError, match="median_income"):
        small().fit_transform(without_income, price)
    out = small(income_k=None).fit_transform(without_income, price)
    assert [c for c in out.columns if "income" in c] == []


def test_fit_needs_a_target(frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="needs y"):
        small().fit_transform(frame)


def test_clone_and_pipeline_with_pandas_output(frame: pd.DataFrame, price: pd.Series) -> None:
    # given a clone inside a pipeline configured for pandas output
    nbrs = small(ks=(2,), folds=2)
    pipeline = make_pipeline(FunctionTransformer(feature_names_out="one-to-one"), clone(nbrs))
    pipeline.set_output(transform="pandas")

    # when the pipeline is fit (which calls fit_transform) and then used on the same rows
    out_of_fold = pipeline.fit_transform(frame, price)
    in_sample = pipeline.transform(frame)

    # then parameters survived the clone, columns are named, and only transform sees itself
    assert clone(nbrs).get_params() == nbrs.get_params()
    assert list(out_of_fold.columns) == list(pipeline.get_feature_names_out())
    assert not np.allclose(out_of_fold["nbr_log_value_k2"], in_sample["nbr_log_value_k2"])


def test_price_free_features_of_a_training_row_come_from_the_other_rows(
    frame: pd.DataFrame, price: pd.Series
) -> None:
    # given features from the single nearest neighbour
    nbrs = small(income_k=1, density_k=1)

    # when the training rows are fit_transformed, and then transformed as if new
    training = nbrs.fit_transform(frame, price)
    as_new = nbrs.transform(frame)

    # then in training row 0's nearest is row 1 (not itself); a new row sees itself
    assert training.loc[0, "nbr_income_k1"] == pytest.approx(7.5)
    assert training.loc[0, "nbr_dist_k1_km"] > 1.0
    assert as_new.loc[0, "nbr_income_k1"] == pytest.approx(8.0)
    assert as_new.loc[0, "nbr_dist_k1_km"] == pytest.approx(0.0)


@pytest.mark.parametrize("income_scale_km, expected_price", [(1e-3, 500_000.0), (1e4, 105_000.0)])
def test_similar_income_neighbours_trade_distance_for_income(
    frame: pd.DataFrame, price: pd.Series, income_scale_km: float, expected_price: float
) -> None:
    # given a new row in the rich cluster that earns like the poor one (income 3.0)
    nbrs = small(similar_ks=(1,), income_scale_km=income_scale_km).fit(frame, price)
    new = pd.DataFrame({"longitude": [-122.40], "latitude": [37.70], "median_income": [3.0]})

    # when
    out = nbrs.transform(new)

    # then a small scale picks the nearest row, a large one the nearest of those earning 3.0
    assert np.expm1(out.loc[0, "nbr_similar_income_log_value_k1"]) == pytest.approx(expected_price)


def test_context_features_compare_a_row_with_its_neighbourhood(
    frame: pd.DataFrame, price: pd.Series
) -> None:
    # given raw size columns: the rich cluster has old, roomy, uncrowded block groups
    sized = frame.assign(
        housing_median_age=[40.0] * 5 + [10.0] * 5,
        total_rooms=[600.0] * 5 + [400.0] * 5,
        population=[200.0] * 5 + [400.0] * 5,
        households=[100.0] * 10,
    )
    nbrs = small(context_k=2).fit(sized, price)
    new = sized.iloc[[0]].assign(housing_median_age=30.0)

    # when
    out = nbrs.transform(new)

    # then the neighbourhood's means and the row's difference to them are added
    assert out.loc[0, "nbr_age_k2"] == pytest.approx(40.0)
    assert out.loc[0, "age_minus_nbr_k2"] == pytest.approx(-10.0)
    assert out.loc[0, "nbr_log_rooms_per_household_k2"] == pytest.approx(np.log(6.0))
    assert out.loc[0, "log_people_per_household_minus_nbr_k2"] == pytest.approx(0.0)
    assert list(out.columns) == list(nbrs.get_feature_names_out())


def test_spread_features_say_how_mixed_the_neighbourhood_is(
    frame: pd.DataFrame, price: pd.Series
) -> None:
    # given a model whose highest training price (the cap) is row 0's 500,000
    nbrs = small(spread_k=3).fit(frame, price)
    new = pd.DataFrame({"longitude": [-122.405], "latitude": [37.701], "median_income": [4.0]})

    # when a new row beside rows 0, 1 and 2 is transformed
    out = nbrs.transform(new).iloc[0]

    # then their spread, median and share at the cap are added
    nearest = np.log1p([500_000.0, 480_000.0, 450_000.0])
    assert out["nbr_log_value_std_k3"] == pytest.approx(nearest.std())
    assert out["nbr_log_value_median_k3"] == pytest.approx(np.log1p(480_000.0))
    assert out["nbr_capped_share_k3"] == pytest.approx(1 / 3)


def test_rows_computed_in_blocks_on_threads_equal_rows_computed_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # many rows are queried block by block on a thread per core (bounded memory at scale);
    # each row's features come from its own neighbours, so the floats must not move
    from housing_core.model.neighbours import nearest

    generator = np.random.default_rng(3)
    n = 2_000
    rows = pd.DataFrame(
        {
            "longitude": generator.uniform(-124.0, -114.0, n).round(2),
            "latitude": generator.uniform(32.5, 42.0, n).round(2),
            "median_income": generator.uniform(0.5, 15.0, n),
            "housing_median_age": generator.integers(1, 52, n).astype(float),
            "total_rooms": generator.integers(100, 5000, n).astype(float),
            "population": generator.integers(100, 5000, n).astype(float),
            "households": generator.integers(50, 1500, n).astype(float),
        }
    )
    prices = pd.Series(generator.uniform(15_000, 500_001, n))
    params: dict[str, Any] = {
        "similar_ks": (5,),
        "spread_k": 10,
        "context_k": 10,
        "random_state": 1,
    }
    whole = NeighbourTargetFeatures(**params)
    at_once = whole.fit_transform(rows, prices)
    new_rows = rows.sample(700, random_state=2).reset_index(drop=True)
    scored_at_once = whole.transform(new_rows)

    monkeypatch.setattr(nearest, "BLOCK_ROWS", 97)  # many blocks, a short last one
    blocked = NeighbourTargetFeatures(**params)
    in_blocks = blocked.fit_transform(rows, prices)
    scored_in_blocks = blocked.transform(new_rows)

    pd.testing.assert_frame_equal(in_blocks, at_once, check_exact=True)
    pd.testing.assert_frame_equal(scored_in_blocks, scored_at_once, check_exact=True)
    assert in_blocks.shape[1] > rows.shape[1] + 10
