"""The real data, its profile and a stand-in model, shared by the drift tests (built once)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from housing_core.drift import Profile, build_profile

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


class LinearPrices:
    """A stand-in for the model: least squares on the numeric columns, blanks as the median.

    Enough to give the predictions a realistic distribution that moves with incomes, without
    training the real pipeline in a unit test.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.fill = frame[list(NUMERIC)].median()
        design = self._design(frame)
        self.weights = np.linalg.lstsq(design, frame[TARGET].to_numpy(), rcond=None)[0]

    def _design(self, frame: pd.DataFrame) -> np.ndarray:
        values = frame[list(NUMERIC)].astype(float).fillna(self.fill).to_numpy()
        return np.column_stack([np.ones(len(values)), values])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self._design(frame) @ self.weights


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
