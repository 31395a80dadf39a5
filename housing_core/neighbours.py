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
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import KFold
from sklearn.neighbors import KDTree

from housing_core.columns import Table, column, require_columns, with_added
from housing_core.geo import LATITUDE, LONGITUDE
from housing_core.nearest import (
    Neighbours,
    log_or_nan,
    nan_mean,
    nan_mean_3d,
    query,
    unit_vectors_km,
    weighted_means,
    weighted_nan_mean,
)

INCOME = "median_income"
AGE = "housing_median_age"
ROOMS = "total_rooms"
POPULATION = "population"
HOUSEHOLDS = "households"
CONTEXT_COLUMNS = (AGE, ROOMS, POPULATION, HOUSEHOLDS)
CONTEXT_NAMES = ("age", "log_rooms_per_household", "log_people_per_household")

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class _Reference:
    """The training rows a query is answered from: trees on their positions, and their values."""

    tree: KDTree
    log_target: FloatArray
    income: FloatArray | None
    similar_tree: KDTree | None
    at_cap: FloatArray


@dataclass(frozen=True)
class _Rows:
    """The columns of the query rows that the features use, read from the frame once."""

    coords: FloatArray
    income: FloatArray | None
    similar: FloatArray | None
    context: FloatArray | None

    def take(self, rows: npt.NDArray[np.intp]) -> _Rows:
        return _Rows(
            self.coords[rows],
            None if self.income is None else self.income[rows],
            None if self.similar is None else self.similar[rows],
            None if self.context is None else self.context[rows],
        )


class NeighbourTargetFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Add what the nearest training block groups are worth, earn and look like.

    Input is a DataFrame (or :class:`~housing_core.columns.Columns`, returned in kind) with
    ``longitude`` and ``latitude`` (degrees, no NaN), plus
    ``median_income`` when ``income_k`` or ``similar_income_ks`` is set and the raw
    ``housing_median_age``, ``total_rooms``, ``population`` and ``households`` when
    ``context_k`` is set; every other column passes through unchanged. ``y`` is the price in
    its natural unit and is log1p-transformed here, because neighbour prices average better on
    a log scale; pass ``log_target=False`` when ``y`` already is on a log scale. Added
    columns, in this order. From the neighbours' prices (cross-fitted, see below):

    - ``nbr_log_value_k<k>`` for each k in ``ks``: mean of log1p(price) over the k nearest
      training rows, weighted by ``1 / (distance_km + smoothing_km)`` so that close neighbours
      count more while rows sharing the exact same coordinates do not take all the weight;
    - ``nbr_income_adjusted_log_value_k<income_k>`` when ``income_k`` and ``income_adjusted``:
      the row's own log income plus the neighbours' weighted mean of (log price - log income),
      i.e. what the row would be worth at its neighbourhood's price-to-income ratio; trees
      cannot form that product of two features themselves (NaN when the income is NaN);
    - ``nbr_similar_income_log_value_k<k>`` for each k in ``similar_ks``: the same weighted
      mean over the k nearest rows in (position, ``income_scale_km`` x log income) space, i.e.
      nearby block groups that also earn alike (an appraiser's comparables);
    - ``nbr_log_value_std_k<spread_k>``, ``nbr_log_value_median_k<spread_k>`` and
      ``nbr_capped_share_k<spread_k>`` when ``spread_k`` is set: how mixed the neighbourhood
      is, and the share of its block groups at the data's price cap (the highest training
      price), which a mean over a few neighbours blurs.

    From the neighbours' own columns (no price involved):

    - ``nbr_income_k<income_k>``: plain mean ``median_income`` of the ``income_k`` nearest,
      and ``income_rel_nbr_k<income_k>``: the row's own income divided by it;
    - ``nbr_dist_k<density_k>_km``: distance to the ``density_k``-th nearest training row, a
      measure of how dense (urban) the area is;
    - ``nbr_<c>_k<context_k>`` and ``<c>_minus_nbr_k<context_k>`` for c in housing age, log
      rooms per household and log people per household: the neighbourhood's mean and the
      row's own difference to it.

    Distances are chord lengths between points on a sphere of the Earth's radius, which equal
    great-circle distances to well under a metre at these scales and let a plain Euclidean
    ``KDTree`` answer the queries.

    ``fit_transform(X, y)`` returns out-of-fold price features (``n_splits``-fold ``KFold``,
    shuffled with ``random_state``): a training row's own price never enters its own
    features. The price-free features of a training row come from all the *other* training
    rows, which is what a new row sees too (all of them). ``fit`` followed by ``transform`` on
    the same training rows is *not* out-of-fold: each row then finds itself as its own nearest
    neighbour at distance 0. That is the correct behaviour for new rows and is why a pipeline
    must (and sklearn's ``Pipeline.fit`` does) call ``fit_transform`` while training. ``k``
    larger than the number of reference rows is clipped to it, which only matters on toy data.

    The fitted state is two trees over the training rows plus a few values per training row,
    so the pickled model stays a few megabytes.
    """

    def __init__(
        self,
        ks: tuple[int, ...] = (5, 15, 50),
        income_k: int | None = 15,
        density_k: int | None = 15,
        income_adjusted: bool = True,
        similar_ks: tuple[int, ...] = (),
        income_scale_km: float = 10.0,
        spread_k: int | None = None,
        context_k: int | None = None,
        smoothing_km: float = 1.0,
        log_target: bool = True,
        n_splits: int = 5,
        random_state: int = 0,
    ) -> None:
        self.ks = ks
        self.income_k = income_k
        self.density_k = density_k
        self.income_adjusted = income_adjusted
        self.similar_ks = similar_ks
        self.income_scale_km = income_scale_km
        self.spread_k = spread_k
        self.context_k = context_k
        self.smoothing_km = smoothing_km
        self.log_target = log_target
        self.n_splits = n_splits
        self.random_state = random_state

    def fit(self, X: Table, y: Any) -> NeighbourTargetFeatures:
        """Index every training row, for use by ``transform`` on new rows."""
        log_target, income = self._validate_fit(X, y)
        self.log_target_ = log_target
        self.at_cap_ = (log_target >= log_target.max()).astype(np.float64)
        self.income_ = income
        self.income_fill_ = 1.0 if income is None else float(np.nanmedian(income))
        rows = self._rows(X)
        self.context_ = rows.context
        self.reference_ = self._reference(rows, np.arange(len(X)))
        return self

    def fit_transform(self, X: Table, y: Any = None, **fit_params: Any) -> Table:
        """Fit on all rows, but return price features for each row from the other folds."""
        if y is None:
            raise ValueError("NeighbourTargetFeatures needs y (the price) to fit")
        self.fit(X, y)
        rows = self._rows(X)
        priced = np.empty((len(X), len(self._price_names())), dtype=np.float64)
        folds = KFold(n_splits=self.n_splits, shuffle=True, random_state=self.random_state)
        for train, held_out in folds.split(rows.coords):
            reference = self._reference(rows, train)
            priced[held_out] = self._price_features(reference, rows.take(held_out))
        own_excluded = query(self.reference_.tree, rows.coords, self._k_free(), exclude_self=True)
        free = self._price_free_features(rows, own_excluded)
        return self._with_added(X, np.hstack([priced, free]))

    def transform(self, X: Table) -> Table:
        """Return ``X`` with neighbour features computed from all training rows."""
        require_columns(X, self._required_columns())
        rows = self._rows(X)
        k = max(*self.ks, self.spread_k or 1, self._k_free())  # one query serves both kinds
        neighbours = query(self.reference_.tree, rows.coords, k, exclude_self=False)
        priced = self._price_features(self.reference_, rows, neighbours)
        free = self._price_free_features(rows, neighbours)
        return self._with_added(X, np.hstack([priced, free]))

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        """Input column names followed by the added ones."""
        if input_features is None:
            input_features = self.feature_names_in_
        return np.asarray([*input_features, *self._added_names()], dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    def _validate_fit(self, X: Table, y: Any) -> tuple[FloatArray, FloatArray | None]:
        require_columns(X, self._required_columns())
        if not self.ks or min(self.ks) < 1 or min(self.similar_ks, default=1) < 1:
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
        needs_income = self.income_k is not None or bool(self.similar_ks)
        income = column(X, INCOME) if needs_income else None
        log_target = np.log1p(target) if self.log_target else target
        return log_target, income

    def _reference(self, rows: _Rows, subset: npt.NDArray[np.intp]) -> _Reference:
        return _Reference(
            tree=KDTree(rows.coords[subset]),
            log_target=self.log_target_[subset],
            income=None if self.income_ is None else self.income_[subset],
            similar_tree=None if rows.similar is None else KDTree(rows.similar[subset]),
            at_cap=self.at_cap_[subset],
        )

    def _rows(self, X: Table) -> _Rows:
        coords = unit_vectors_km(X)
        needs_income = self.income_k is not None or bool(self.similar_ks)
        income = column(X, INCOME) if needs_income else None
        similar = None
        if self.similar_ks and income is not None:
            # position plus scaled log income; an unknown income counts as the training median
            filled = np.where(np.isnan(income), self.income_fill_, income)
            scaled = self.income_scale_km * np.log(np.clip(filled, 0.0, None) + 0.5)
            similar = np.column_stack((coords, scaled))
        context = _context_values(X) if self.context_k is not None else None
        return _Rows(coords, income, similar, context)

    def _price_features(
        self, reference: _Reference, rows: _Rows, neighbours: Neighbours | None = None
    ) -> FloatArray:
        """The cross-fitted columns, in ``_price_names`` order."""
        k_max = min(max(*self.ks, self.income_k or 1, self.spread_k or 1), len(reference.at_cap))
        if neighbours is None:
            neighbours = query(reference.tree, rows.coords, k_max, exclude_self=False)
        distances, indices = neighbours[0][:, :k_max], neighbours[1][:, :k_max]
        weights = 1.0 / (distances + self.smoothing_km)
        columns = weighted_means(weights, reference.log_target[indices], self.ks)
        if self.income_k is not None and self.income_adjusted and reference.income is not None:
            k = min(self.income_k, k_max)
            nearest = indices[:, :k]
            gap = reference.log_target[nearest] - log_or_nan(reference.income[nearest])
            own = log_or_nan(rows.income) if rows.income is not None else np.nan
            columns.append(own + weighted_nan_mean(gap, weights[:, :k]))
        if self.spread_k is not None:
            nearest = indices[:, : min(self.spread_k, k_max)]
            values = reference.log_target[nearest]
            columns += [values.std(axis=1), np.median(values, axis=1)]
            columns.append(reference.at_cap[nearest].mean(axis=1))
        if rows.similar is not None and reference.similar_tree is not None:
            k_similar = max(self.similar_ks)
            distances, indices = query(
                reference.similar_tree, rows.similar, k_similar, exclude_self=False
            )
            weights = 1.0 / (distances + self.smoothing_km)
            columns += weighted_means(weights, reference.log_target[indices], self.similar_ks)
        return np.column_stack(columns)

    def _k_free(self) -> int:
        return max((k for k in (self.income_k, self.density_k, self.context_k) if k), default=1)

    def _price_free_features(self, rows: _Rows, neighbours: Neighbours) -> FloatArray:
        """The columns that use no price, from every training row (but a row itself)."""
        distances, indices = neighbours
        k_max = distances.shape[1]
        columns: list[FloatArray] = []
        if self.income_k is not None and self.income_ is not None and rows.income is not None:
            neighbour_income = nan_mean(self.income_[indices[:, : min(self.income_k, k_max)]])
            with np.errstate(divide="ignore", invalid="ignore"):
                columns += [neighbour_income, rows.income / neighbour_income]
        if self.density_k is not None:
            columns.append(distances[:, min(self.density_k, k_max) - 1])
        if self.context_ is not None and self.context_k is not None and rows.context is not None:
            neighbour_context = nan_mean_3d(self.context_[indices[:, : min(self.context_k, k_max)]])
            columns += [*neighbour_context.T, *(rows.context - neighbour_context).T]
        return np.column_stack(columns) if columns else np.empty((len(rows.coords), 0))

    def _required_columns(self) -> tuple[str, ...]:
        columns = [LONGITUDE, LATITUDE]
        if self.income_k is not None or self.similar_ks:
            columns.append(INCOME)
        if self.context_k is not None:
            columns += list(CONTEXT_COLUMNS)
        return tuple(columns)

    def _price_names(self) -> list[str]:
        names = [f"nbr_log_value_k{k}" for k in self.ks]
        if self.income_k is not None and self.income_adjusted:
            names.append(f"nbr_income_adjusted_log_value_k{self.income_k}")
        if self.spread_k is not None:
            names += [
                f"nbr_log_value_std_k{self.spread_k}",
                f"nbr_log_value_median_k{self.spread_k}",
                f"nbr_capped_share_k{self.spread_k}",
            ]
        names += [f"nbr_similar_income_log_value_k{k}" for k in self.similar_ks]
        return names

    def _added_names(self) -> list[str]:
        names = self._price_names()
        if self.income_k is not None:
            names += [f"nbr_income_k{self.income_k}", f"income_rel_nbr_k{self.income_k}"]
        if self.density_k is not None:
            names.append(f"nbr_dist_k{self.density_k}_km")
        if self.context_k is not None:
            names += [f"nbr_{c}_k{self.context_k}" for c in CONTEXT_NAMES]
            names += [f"{c}_minus_nbr_k{self.context_k}" for c in CONTEXT_NAMES]
        return names

    def _with_added(self, X: Table, added: FloatArray) -> Table:
        return with_added(X, self._added_names(), added)


def _context_values(X: Table) -> FloatArray:
    """Housing age, log rooms per household, log people per household (NaN when undefined)."""
    households = column(X, HOUSEHOLDS)
    households = np.where(households > 0, households, np.nan)
    rooms = column(X, ROOMS) / households
    people = column(X, POPULATION) / households
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.column_stack((column(X, AGE), log_or_nan(rooms), log_or_nan(people)))
