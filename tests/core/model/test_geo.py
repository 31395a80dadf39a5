"""GeographicFeatures: fixed location features computed from a row's own coordinates."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from housing_core.model.geo import CITIES, COASTLINE, GeographicFeatures, distance_to_polyline_km


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "longitude": [-122.4194, -118.2437, -119.7871],  # San Francisco, LA, Fresno
            "latitude": [37.7749, 34.0522, 36.7378],
            "total_bedrooms": [np.nan, 120.0, 300.0],
            "ocean_proximity": ["NEAR BAY", "<1H OCEAN", "INLAND"],
        }
    )


def test_adds_rotations_city_and_coast_distances(frame: pd.DataFrame) -> None:
    # given three rows at known cities
    geo = GeographicFeatures(angles=(0.0, 90.0, 22.5))

    # when
    out = geo.fit_transform(frame)

    # then rotations project on the stated axes
    np.testing.assert_allclose(out["rot_0"], frame["longitude"])
    np.testing.assert_allclose(out["rot_90"], frame["latitude"], atol=1e-12)
    assert "rot_22.5" in out.columns
    # and distances are in km: a city is 0 km from itself, SF to LA is about 559 km
    assert out.loc[0, "dist_san_francisco_km"] == pytest.approx(0.0, abs=1e-6)
    assert out.loc[1, "dist_san_francisco_km"] == pytest.approx(559.0, rel=0.01)
    assert out.loc[2, "dist_fresno_km"] == pytest.approx(0.0, abs=1e-6)
    # and San Francisco is near the coast, Fresno is not
    assert out.loc[0, "dist_coast_km"] < 10.0
    assert 120.0 < out.loc[2, "dist_coast_km"] < 250.0


def test_other_columns_pass_through_unchanged(frame: pd.DataFrame) -> None:
    # given a frame with a NaN and a string column the transformer does not use
    # when
    out = GeographicFeatures().fit_transform(frame)

    # then they come out as they went in, with the same index
    pd.testing.assert_frame_equal(out[frame.columns], frame)
    assert len(out.columns) == len(frame.columns) + 5 + len(CITIES) + 1


def test_feature_names_out_match_the_columns(frame: pd.DataFrame) -> None:
    geo = GeographicFeatures(angles=(30.0,), city_distances=False).fit(frame)

    names = geo.get_feature_names_out()

    assert list(names) == [*frame.columns, "rot_30", "dist_coast_km"]
    assert list(geo.transform(frame).columns) == list(names)


def test_missing_longitude_is_named(frame: pd.DataFrame) -> None:
    # given a frame without longitude
    broken = frame.drop(columns="longitude")

    # when / then the error names the column
    with pytest.raises(ValueError, match="longitude"):
        GeographicFeatures().fit_transform(broken)


def test_single_row_equals_the_row_in_a_batch(frame: pd.DataFrame) -> None:
    geo = GeographicFeatures().fit(frame)

    batch = geo.transform(frame)
    alone = geo.transform(frame.iloc[[1]])

    pd.testing.assert_frame_equal(alone, batch.iloc[[1]])


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps])
def test_pickle_round_trip_gives_equal_outputs(
    frame: pd.DataFrame, dumps: Callable[[object], bytes]
) -> None:
    geo = GeographicFeatures().fit(frame)

    restored = pickle.loads(dumps(geo))

    pd.testing.assert_frame_equal(restored.transform(frame), geo.transform(frame))


def test_clone_and_pipeline_with_pandas_output(frame: pd.DataFrame) -> None:
    # given a clone inside a pipeline configured for pandas output
    geo = GeographicFeatures(angles=(45.0,))
    pipeline = make_pipeline(FunctionTransformer(feature_names_out="one-to-one"), clone(geo))
    pipeline.set_output(transform="pandas")

    # when
    out = pipeline.fit_transform(frame)

    # then the parameters survived the clone and the columns are named
    assert clone(geo).get_params() == geo.get_params()
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(pipeline.get_feature_names_out())


def test_coast_distance_separates_ocean_from_inland_rows(data_source: str) -> None:
    # given the real data
    data = pd.read_csv(data_source)

    # when
    out = GeographicFeatures().fit_transform(data)

    # then the fixed coastline agrees with the data's own labels
    median = out.groupby("ocean_proximity")["dist_coast_km"].median()
    assert median["NEAR OCEAN"] < 15.0 < median["<1H OCEAN"] < 60.0 < median["INLAND"]
    assert out.filter(like="dist_").notna().all().all()


def test_a_large_batch_gives_each_row_the_distance_it_gets_alone() -> None:
    # the coast distance goes through large batches in blocks: a block's edge changes nothing
    rng = np.random.default_rng(7)
    n = 2_500  # more than two blocks, the last one short
    lon, lat = rng.uniform(-124.3, -114.2, n), rng.uniform(32.5, 42.0, n)

    batch = distance_to_polyline_km(lon, lat, COASTLINE)
    alone = [distance_to_polyline_km(lon[[i]], lat[[i]], COASTLINE)[0] for i in range(n)]

    assert batch.shape == (n,)
    np.testing.assert_array_equal(batch, np.asarray(alone))
    assert distance_to_polyline_km(lon[:0], lat[:0], COASTLINE).shape == (0,)
