"""Features made of the neighbours' prices: the ones that would leak if not cross-fitted.

For a query row, from the training rows of a :class:`~.rows.Reference`, in this order:

- ``nbr_log_value_k<k>`` for each k in ``ks``: mean of log1p(price) over the k nearest rows,
  weighted by ``1 / (distance_km + smoothing_km)`` so that close neighbours count more while
  rows sharing the exact same coordinates do not take all the weight;
- ``nbr_income_adjusted_log_value_k<income_k>`` when ``income_k`` and ``income_adjusted``: the
  row's own log income plus the neighbours' weighted mean of (log price - log income), i.e.
  what the row would be worth at its neighbourhood's price-to-income ratio; trees cannot form
  that product of two features themselves (NaN when the income is NaN);
- ``nbr_log_value_std_k<spread_k>``, ``nbr_log_value_median_k<spread_k>`` and
  ``nbr_capped_share_k<spread_k>`` when ``spread_k`` is set: how mixed the neighbourhood is,
  and the share of its block groups at the data's price cap (the highest training price),
  which a mean over a few neighbours blurs;
- ``nbr_similar_income_log_value_k<k>`` for each k in ``similar_ks``: the same weighted mean
  over the k nearest rows in (position, scaled log income) space, i.e. nearby block groups that
  also earn alike (an appraiser's comparables).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from housing_core.model.columns import FloatArray
from housing_core.model.neighbours.nearest import (
    Neighbours,
    log_or_nan,
    query,
    weighted_means,
    weighted_nan_mean,
)
from housing_core.model.neighbours.rows import QueryRows, Reference


@dataclass(frozen=True)
class PriceFeatures:
    """Which price features to compute, as the transformer's parameters say."""

    ks: tuple[int, ...]
    income_k: int | None
    income_adjusted: bool
    spread_k: int | None
    similar_ks: tuple[int, ...]
    smoothing_km: float

    @property
    def k_max(self) -> int:
        """The most position neighbours any of these features reads."""
        return max(*self.ks, self.income_k or 1, self.spread_k or 1)

    def names(self) -> list[str]:
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

    def compute(
        self, reference: Reference, rows: QueryRows, neighbours: Neighbours | None = None
    ) -> FloatArray:
        """The columns, in ``names`` order; ``neighbours`` may come from a larger query."""
        k_max = min(self.k_max, len(reference.at_cap))
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
            distances, indices = query(
                reference.similar_tree, rows.similar, max(self.similar_ks), exclude_self=False
            )
            weights = 1.0 / (distances + self.smoothing_km)
            columns += weighted_means(weights, reference.log_target[indices], self.similar_ks)
        return np.column_stack(columns)
