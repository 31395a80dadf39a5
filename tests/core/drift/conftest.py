"""The real data, its profile and a stand-in model, shared by the drift tests (built once)."""

from __future__ import annotations

import pandas as pd
import pytest

from housing_core.drift import Profile, build_profile
from tests.benchmarks.synthetic import LinearPrices

NUMERIC = (
    "longitude",
    "latitude",
    "housing_median_age",
    "total_rooms",
    "total_bedrooms",
    "population",
    "households",
    "median_income",
)
CATEGORICAL = ("ocean_proximity",)
TARGET = "median_house_value"
FEATURES = (*NUMERIC, *CATEGORICAL)


@pytest.fixture(scope="session")
def housing(data_source: str) -> pd.DataFrame:
    return pd.read_csv(data_source)


@pytest.fixture(scope="session")
def model(housing: pd.DataFrame) -> LinearPrices:
    return LinearPrices(housing)


@pytest.fixture(scope="session")
def profile(housing: pd.DataFrame, model: LinearPrices) -> Profile:
    """The reference profile of the whole real data set, with the stand-in's predictions."""
    return build_profile(housing, NUMERIC, CATEGORICAL, TARGET, model.predict(housing))
