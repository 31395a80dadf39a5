from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture
def rows() -> pd.DataFrame:
    """Three valid block groups in the raw housing.csv shape."""
    return pd.DataFrame(
        {
            "longitude": [-122.23, -118.30, -121.00],
            "latitude": [37.88, 34.05, 38.60],
            "housing_median_age": [41.0, 21.0, 15.0],
            "total_rooms": [880.0, 7099.0, 2000.0],
            "total_bedrooms": [129.0, None, 400.0],
            "population": [322.0, 2401.0, 1000.0],
            "households": [126.0, 1138.0, 350.0],
            "median_income": [8.3252, 3.5, 2.1],
            "median_house_value": [452600.0, 250000.0, 98000.0],
            "ocean_proximity": ["NEAR BAY", "<1H OCEAN", "INLAND"],
        }
    )
