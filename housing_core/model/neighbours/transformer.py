"""What nearby block groups sell for: the k-nearest-neighbour step of the model's pipeline.

House prices are mostly location, and the best summary of a location is what the houses
around it are worth. These features are computed from the training rows, so they would leak
the target if a training row could see its own price. ``fit_transform`` therefore cross-fits
them, exactly like scikit-learn's ``TargetEncoder``: each training row gets features computed
from the other folds only. ``transform`` always uses every training row and treats each input
row on its own, so a row scored alone equals the same row scored in a batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import KFold

from housing_core.model.columns import FloatArray, Table, column, require_columns, with_added
from housing_core.model.geo import LATITUDE, LONGITUDE
from housing_core.model.neighbours.nearest import by_blocks, query
from housing_core.model.neighbours.prices import PriceFeatures
from housing_core.model.neighbours.rows import (
    CONTEXT_COLUMNS,
    INCOME,
    QueryRows,
    Reference,
    read_rows,
    reference,
)
from housing_core.model.neighbours.surroundings import SurroundingFeatures


class NeighbourTargetFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Add what the nearest training block groups are worth, earn and look like.

    Input is a DataFrame (or :class:`~housing_core.model.columns.Columns`, returned in kind)
    with ``longitude`` and ``latitude`` (degrees, no NaN), plus ``median_income`` when
    ``income_k`` or ``similar_ks`` is set and the raw ``housing_median_age``, ``total_rooms``,
    ``population`` and ``households`` when ``context_k`` is set; every other column passes
    through unchanged. ``y`` is the price in its natural unit and is log1p-transformed here,
    because neighbour prices average better on a log scale; pass ``log_target=False`` when
    ``y`` already is on a log scale. The added columns are the price features of
    :mod:`~housing_core.model.neighbours.prices` followed by the price-free ones of
    :mod:`~housing_core.model.neighbours.surroundings`.

    Distances are chord lengths between points on a sphere of the Earth's radius, which equal
    great-circle distances to well under a metre at these scales and let a plain Euclidean
    ``KDTree`` answer the queries.

    ``fit_transform(X, y)`` returns out-of-fold price features (``folds``-fold ``KFold``,
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
        folds: int = 5,
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
        self.folds = folds
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
        prices, surroundings = self._prices(), self._surroundings()
        n_priced, n_free = len(prices.names()), len(surroundings.names())
        priced = np.empty((len(X), n_priced), dtype=np.float64)
        folds = KFold(n_splits=self.folds, shuffle=True, random_state=self.random_state)
        for train, held_out in folds.split(rows.coords):
            fold = self._reference(rows, train)

            def priced_of(a: int, b: int, fold: Reference = fold, rows_of: Any = held_out) -> Any:
                return prices.compute(fold, rows.take(rows_of[a:b]))

            priced[held_out] = by_blocks(len(held_out), n_priced, priced_of)

        def free_of(a: int, b: int) -> FloatArray:
            block = rows.take(np.arange(a, b))
            own_excluded = query(
                self.reference_.tree,
                block.coords,
                surroundings.k_max,
                exclude_self=True,
                first_row=a,
            )
            return surroundings.compute(block, own_excluded, self.income_, self.context_)

        free = by_blocks(len(X), n_free, free_of)
        return self._with_added(X, np.hstack([priced, free]))

    def transform(self, X: Table) -> Table:
        """Return ``X`` with neighbour features computed from all training rows."""
        require_columns(X, self._required_columns())
        rows = self._rows(X)
        prices, surroundings = self._prices(), self._surroundings()
        k = max(*self.ks, self.spread_k or 1, surroundings.k_max)  # one query serves both kinds

        def features_of(a: int, b: int) -> FloatArray:
            block = rows if (a, b) == (0, len(rows.coords)) else rows.take(np.arange(a, b))
            neighbours = query(self.reference_.tree, block.coords, k, exclude_self=False)
            priced = prices.compute(self.reference_, block, neighbours)
            free = surroundings.compute(block, neighbours, self.income_, self.context_)
            return np.hstack([priced, free])

        added = by_blocks(len(rows.coords), len(self._added_names()), features_of)
        return self._with_added(X, added)

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        """Input column names followed by the added ones."""
        if input_features is None:
            input_features = self.feature_names_in_
        return np.asarray([*input_features, *self._added_names()], dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    def _prices(self) -> PriceFeatures:
        return PriceFeatures(
            self.ks,
            self.income_k,
            self.income_adjusted,
            self.spread_k,
            self.similar_ks,
            self.smoothing_km,
        )

    def _surroundings(self) -> SurroundingFeatures:
        return SurroundingFeatures(self.income_k, self.density_k, self.context_k)

    def _needs_income(self) -> bool:
        return self.income_k is not None or bool(self.similar_ks)

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
        income = column(X, INCOME) if self._needs_income() else None
        log_target = np.log1p(target) if self.log_target else target
        return log_target, income

    def _rows(self, X: Table) -> QueryRows:
        return read_rows(
            X,
            needs_income=self._needs_income(),
            similar=bool(self.similar_ks),
            income_scale_km=self.income_scale_km,
            income_fill=self.income_fill_,
            context=self.context_k is not None,
        )

    def _reference(self, rows: QueryRows, subset: npt.NDArray[np.intp]) -> Reference:
        return reference(rows, subset, self.log_target_, self.income_, self.at_cap_)

    def _required_columns(self) -> tuple[str, ...]:
        columns = [LONGITUDE, LATITUDE]
        if self._needs_income():
            columns.append(INCOME)
        if self.context_k is not None:
            columns += list(CONTEXT_COLUMNS)
        return tuple(columns)

    def _added_names(self) -> list[str]:
        return self._prices().names() + self._surroundings().names()

    def _with_added(self, X: Table, added: FloatArray) -> Table:
        return with_added(X, self._added_names(), added)
