"""The seed's engineered features and the column preprocessing, as scikit-learn transformers."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler

from housing_core.model.columns import (
    Table,
    column,
    is_numeric,
    require_columns,
    text_column,
    with_added,
)

RATIO_FEATURES = {
    "rooms_per_household": ("total_rooms", "households"),
    "bedrooms_per_room": ("total_bedrooms", "total_rooms"),
    "population_per_household": ("population", "households"),
}
_RATIO_INPUTS = tuple(sorted({c for pair in RATIO_FEATURES.values() for c in pair}))


class RatioFeatures(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Adds rooms per household, bedrooms per room and population per household.

    A zero denominator gives a blank, which the imputer downstream fills.
    """

    def fit(self, X: Table, y: Any = None) -> RatioFeatures:
        require_columns(X, _RATIO_INPUTS)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def transform(self, X: Table) -> Table:
        require_columns(X, _RATIO_INPUTS)
        ratios = []
        with np.errstate(divide="ignore", invalid="ignore"):
            for numerator, denominator in RATIO_FEATURES.values():
                top, bottom = column(X, numerator), column(X, denominator)
                ratios.append(np.where(bottom == 0, np.nan, top / bottom))
        return with_added(X, list(RATIO_FEATURES), np.column_stack(ratios))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = list(self.feature_names_in_) + list(RATIO_FEATURES)
        return np.asarray(names, dtype=object)


class Preprocessor(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Median-impute and standardise every numeric column; one-hot encode every text column.

    Fitted with scikit-learn's SimpleImputer and StandardScaler, applied with plain numpy: a
    ColumnTransformer's pandas bookkeeping costs more than the whole model when one row is
    scored. The categories are the ones seen while fitting, in sorted order; an unknown or
    blank category encodes as all zeros. Takes a DataFrame or
    :class:`~housing_core.model.columns.Columns` and returns the estimator's matrix.
    """

    def fit(self, X: Table, y: Any = None) -> Preprocessor:
        self.numeric_ = [c for c in X.columns if is_numeric(X, c)]
        self.text_ = [c for c in X.columns if not is_numeric(X, c)]
        values = _numeric_block(X, self.numeric_)
        imputer = SimpleImputer(strategy="median", keep_empty_features=True).fit(values)
        scaler = StandardScaler().fit(imputer.transform(values))
        self.medians_ = np.asarray(imputer.statistics_, dtype=np.float64)
        self.means_ = np.asarray(scaler.mean_, dtype=np.float64)
        self.scales_ = np.asarray(scaler.scale_, dtype=np.float64)
        self.categories_ = [_categories(text_column(X, name)) for name in self.text_]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def transform(self, X: Table) -> np.ndarray:
        require_columns(X, (*self.numeric_, *self.text_))
        values = _numeric_block(X, self.numeric_)
        filled = np.where(np.isnan(values), self.medians_, values)
        blocks = [(filled - self.means_) / self.scales_]
        for name, categories in zip(self.text_, self.categories_, strict=True):
            text = text_column(X, name)
            blocks.append((text[:, None] == categories[None, :]).astype(np.float64))
        return np.hstack(blocks)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = list(self.numeric_)
        for name, categories in zip(self.text_, self.categories_, strict=True):
            names += [f"{name}_{c}" for c in categories]
        return np.asarray(names, dtype=object)


def _categories(values: np.ndarray) -> np.ndarray:
    """The distinct non-blank values, sorted: a stable one-hot order for any training set."""
    seen = {str(v) for v in values if isinstance(v, str)}
    return np.asarray(sorted(seen), dtype=object)


def _numeric_block(X: Table, names: list[str]) -> np.ndarray:
    """The named numeric columns side by side, as one float64 matrix."""
    if not names:
        return np.empty((len(X), 0))
    return np.column_stack([column(X, name) for name in names])
