"""The seed's engineered features and the column preprocessing, as scikit-learn transformers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from housing_core.schemas import CATEGORICAL, OCEAN_PROXIMITY_VALUES

RATIO_FEATURES = {
    "rooms_per_household": ("total_rooms", "households"),
    "bedrooms_per_room": ("total_bedrooms", "total_rooms"),
    "population_per_household": ("population", "households"),
}


class RatioFeatures(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Adds rooms per household, bedrooms per room and population per household.

    A zero denominator gives a blank, which the imputer downstream fills.
    """

    def fit(self, X: pd.DataFrame, y: Any = None) -> RatioFeatures:
        _require_columns(X, {c for pair in RATIO_FEATURES.values() for c in pair})
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        _require_columns(X, {c for pair in RATIO_FEATURES.values() for c in pair})
        out = X.copy()
        for name, (numerator, denominator) in RATIO_FEATURES.items():
            out[name] = X[numerator] / X[denominator].replace(0, np.nan)
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = list(self.feature_names_in_) + list(RATIO_FEATURES)
        return np.asarray(names, dtype=object)


def build_preprocessor() -> ColumnTransformer:
    """Impute and scale every numeric column, impute and one-hot encode `ocean_proximity`."""
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            (
                "encode",
                OneHotEncoder(
                    categories=[list(OCEAN_PROXIMITY_VALUES)],
                    handle_unknown="ignore",
                    sparse_output=False,
                ),
            ),
        ]
    )
    return ColumnTransformer(
        [
            ("numeric", numeric, make_column_selector(dtype_include="number")),
            ("categorical", categorical, [CATEGORICAL]),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )


def _require_columns(X: pd.DataFrame, needed: set[str]) -> None:
    missing = sorted(needed - set(X.columns))
    if missing:
        raise ValueError(f"missing input column(s): {', '.join(missing)}")
