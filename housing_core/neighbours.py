"""What nearby block groups sell for: k-nearest-neighbour target and income features.

House prices are mostly location, and the best summary of a location is what the houses
around it are worth. These features are computed from the training rows, so they would leak
the target if a training row could see its own price. ``fit_transform`` therefore cross-fits
them, exactly like scikit-learn's ``TargetEncoder``: each training row gets features computed
from the other folds only. ``transform`` always uses every training row and treats each input
row on its own, so a row scored alone equals the same row scored in a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import KFold
from sklearn.neighbors import KDTree

from housing_core.geo import EARTH_RADIUS_KM, LATITUDE, LONGITUDE, require_columns

INCOME = "median_income"

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class _Reference:
    """The training rows a query is answered from: a tree on their coordinates and values."""

    tree: KDTree
    log_target: FloatArray
    income: FloatArray | None


class NeighbourTargetFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Add what the nearest training block groups are worth and earn.

    Input is a DataFrame with ``longitude`` and ``latitude`` (degrees, no NaN) and, when
    ``income_k`` is set, ``median_income``; every other column passes through unchanged.
    ``y`` is the price in its natural unit and is log1p-transformed here, because neighbour
    prices average better on a log scale; pass ``log_target=False`` when ``y`` already is on a
    log scale (e.g. when this step sits inside a ``TransformedTargetRegressor(func=np.log1p)``
    rather than before it). Added columns, in this order:

    - ``nbr_log_value_k<k>`` for each k in ``ks``: mean of log1p(price) over the k nearest
      training rows, weighted by ``1 / (distance_km + smoothing_km)`` so that close neighbours
      count more while rows sharing the exact same coordinates do not take all the weight;
    - ``nbr_income_k<income_k>``: plain mean ``median_income`` of the ``income_k`` nearest;
    - ``income_rel_nbr_k<income_k>``: the row's own ``median_income`` divided by that mean
      (NaN when the row's income is NaN);
    - ``nbr_income_adjusted_log_value_k<income_k>`` when ``income_adjusted``: the row's own
      log income plus the neighbours' weighted mean of (log price - log income), i.e. what
      the row would be worth at its neighbourhood's price-to-income ratio; trees cannot form
      that product of two features themselves (NaN when the row's income is NaN);
    - ``nbr_dist_k<density_k>_km``: distance to the ``density_k``-th nearest training row, a
      measure of how dense (urban) the area is, when ``density_k`` is set.

    Distances are chord lengths between points on a sphere of the Earth's radius, which equal
    great-circle distances to well under a metre at these scales and let a plain Euclidean
    ``KDTree`` answer the queries.

    ``fit_transform(X, y)`` returns out-of-fold features (``n_splits``-fold ``KFold``, shuffled
    with ``random_state``): a training row's own price never enters its own features. ``fit``
    followed by ``transform`` on the same training rows is *not* out-of-fold: each row then
    finds itself as its own nearest neighbour at distance 0. That is the correct behaviour for
    new rows and is why a pipeline must (and sklearn's ``Pipeline.fit`` does) call
    ``fit_transform`` while training. ``k`` larger than the number of reference rows is
    clipped to it, which only matters on toy data.

    The fitted state is the tree over the training coordinates plus one log price and one
    income per training row, so the pickled model stays around a megabyte.
    """

    def __init__(
        self,
        ks: tuple[int, ...] = (5, 15, 50),
        income_k: int | None = 15,
        density_k: int | None = 15,
        income_adjusted: bool = True,
        smoothing_km: float = 1.0,
        log_target: bool = True,
        n_splits: int = 5,
        random_state: int = 0,
    ) -> None:
        self.ks = ks
        self.income_k = income_k
        self.density_k = density_k
        self.income_adjusted = income_adjusted
        self.smoothing_km = smoothing_km
        self.log_target = log_target
        self.n_splits = n_splits
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Any) -> NeighbourTargetFeatures:
        """Index every training row, for use by ``transform`` on new rows."""
        coords, log_target, income = self._validate_fit(X, y)
        self.tree_ = KDTree(coords)
        self.log_target_ = log_target
        self.income_ = income
        return self

    def fit_transform(self, X: pd.DataFrame, y: Any = None, **fit_params: Any) -> pd.DataFrame:
        """Fit on all rows, but return features for each row computed from the other folds."""
        if y is None:
            raise ValueError("NeighbourTargetFeatures needs y (the price) to fit")
        self.fit(X, y)
        coords = _unit_vectors_km(X)
        log_target, income = self.log_target_, self.income_
        added = np.empty((len(X), len(self._added_names())), dtype=np.float64)
        folds = KFold(n_splits=self.n_splits, shuffle=True, random_state=self.random_state)
        for train, held_out in folds.split(coords):
            reference = _Reference(
                tree=KDTree(coords[train]),
                log_target=log_target[train],
                income=None if income is None else income[train],
            )
            added[held_out] = self._features(reference, coords[held_out], X.iloc[held_out])
        return self._with_added(X, added)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Return ``X`` with neighbour features computed from all training rows."""
        require_columns(X, self._required_columns())
        reference = _Reference(self.tree_, self.log_target_, self.income_)
        return self._with_added(X, self._features(reference, _unit_vectors_km(X), X))

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        """Input column names followed by the added ones."""
        if input_features is None:
            input_features = self.feature_names_in_
        return np.asarray([*input_features, *self._added_names()], dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    def _validate_fit(
        self, X: pd.DataFrame, y: Any
    ) -> tuple[FloatArray, FloatArray, FloatArray | None]:
        require_columns(X, self._required_columns())
        if not self.ks or min(self.ks) < 1:
            raise ValueError(f"ks must be a non-empty tuple of positive ints, got {self.ks!r}")
        target = np.asarray(y, dtype=np.float64).reshape(-1)
        if len(target) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(target)}")
        invalid = ~np.isfinite(target)
        if self.log_target:
            invalid |= target < 0
        if invalid.any():
            rule = "finite and non-negative" if self.log_target else "finite"
            raise ValueError(f"y must be {rule}; {int(invalid.sum())} row(s) are not")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        income = None if self.income_k is None else X[INCOME].to_numpy(dtype=np.float64)
        log_target = np.log1p(target) if self.log_target else target
        return _unit_vectors_km(X), log_target, income

    def _features(self, reference: _Reference, coords: FloatArray, X: pd.DataFrame) -> FloatArray:
        """One row of added features per query point, in ``_added_names`` order."""
        n_reference = reference.log_target.shape[0]
        wanted = [*self.ks, self.income_k or 1, self.density_k or 1]
        k_max = min(max(wanted), n_reference)
        distances, indices = reference.tree.query(coords, k=k_max, sort_results=True)
        weights = 1.0 / (distances + self.smoothing_km)
        weighted_sum = np.cumsum(weights * reference.log_target[indices], axis=1)
        weight_total = np.cumsum(weights, axis=1)
        columns = []
        for k in self.ks:
            last = min(k, k_max) - 1
            columns.append(weighted_sum[:, last] / weight_total[:, last])
        if self.income_k is not None and reference.income is not None:
            k = min(self.income_k, k_max)
            neighbour_income = _nan_mean(reference.income[indices[:, :k]])
            own_income = X[INCOME].to_numpy(dtype=np.float64)
            columns.append(neighbour_income)
            with np.errstate(divide="ignore", invalid="ignore"):
                columns.append(own_income / neighbour_income)
            if self.income_adjusted:
                neighbour_income_k = reference.income[indices[:, :k]]
                gap = reference.log_target[indices[:, :k]] - _log_or_nan(neighbour_income_k)
                columns.append(_log_or_nan(own_income) + _weighted_nan_mean(gap, weights[:, :k]))
        if self.density_k is not None:
            columns.append(distances[:, min(self.density_k, k_max) - 1])
        return np.column_stack(columns)

    def _required_columns(self) -> tuple[str, ...]:
        if self.income_k is None:
            return (LONGITUDE, LATITUDE)
        return (LONGITUDE, LATITUDE, INCOME)

    def _added_names(self) -> list[str]:
        names = [f"nbr_log_value_k{k}" for k in self.ks]
        if self.income_k is not None:
            names += [f"nbr_income_k{self.income_k}", f"income_rel_nbr_k{self.income_k}"]
            if self.income_adjusted:
                names.append(f"nbr_income_adjusted_log_value_k{self.income_k}")
        if self.density_k is not None:
            names.append(f"nbr_dist_k{self.density_k}_km")
        return names

    def _with_added(self, X: pd.DataFrame, added: FloatArray) -> pd.DataFrame:
        frame = pd.DataFrame(added, index=X.index, columns=self._added_names())
        return pd.concat([X, frame], axis=1)


def _unit_vectors_km(X: pd.DataFrame) -> FloatArray:
    """Points on a sphere of the Earth's radius, so Euclidean distance is (chord) km."""
    lon = X[LONGITUDE].to_numpy(dtype=np.float64)
    lat = X[LATITUDE].to_numpy(dtype=np.float64)
    if np.isnan(lon).any() or np.isnan(lat).any():
        bad = int((np.isnan(lon) | np.isnan(lat)).sum())
        raise ValueError(f"{LONGITUDE}/{LATITUDE} must not be NaN; {bad} row(s) are")
    lon_r, lat_r = np.radians(lon), np.radians(lat)
    cos_lat = np.cos(lat_r)
    return EARTH_RADIUS_KM * np.column_stack(
        (cos_lat * np.cos(lon_r), cos_lat * np.sin(lon_r), np.sin(lat_r))
    )


def _nan_mean(values: FloatArray) -> FloatArray:
    """Row means ignoring NaN (NaN where a row has none), without numpy's warning."""
    present = ~np.isnan(values)
    count = present.sum(axis=1)
    total = np.where(present, values, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(count > 0, total / count, np.nan))


def _weighted_nan_mean(values: FloatArray, weights: FloatArray) -> FloatArray:
    """Row-wise weighted means ignoring NaN values (NaN where a row has none)."""
    present = ~np.isnan(values)
    total_weight = np.where(present, weights, 0.0).sum(axis=1)
    total = np.where(present, values * weights, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(total_weight > 0, total / total_weight, np.nan))


def _log_or_nan(values: FloatArray) -> FloatArray:
    """Natural log, with NaN (not -inf) for a zero income so that it counts as missing."""
    positive = values > 0
    return np.asarray(np.where(positive, np.log(np.where(positive, values, 1.0)), np.nan))
