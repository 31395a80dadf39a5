"""Features made of the neighbours' own columns: no price involved, so nothing to cross-fit.

In this order:

- ``nbr_income_k<income_k>``: plain mean ``median_income`` of the ``income_k`` nearest, and
  ``income_rel_nbr_k<income_k>``: the row's own income divided by it;
- ``nbr_dist_k<density_k>_km``: distance to the ``density_k``-th nearest training row, a
  measure of how dense (urban) the area is;
- ``nbr_<c>_k<context_k>`` and ``<c>_minus_nbr_k<context_k>`` for c in housing age, log rooms
  per household and log people per household: the neighbourhood's mean and the row's own
  difference to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from housing_core.model.columns import FloatArray
from housing_core.model.neighbours.nearest import Neighbours, nan_mean, nan_mean_3d
from housing_core.model.neighbours.rows import CONTEXT_NAMES, QueryRows


@dataclass(frozen=True)
class SurroundingFeatures:
    """Which price-free features to compute, as the transformer's parameters say."""

    income_k: int | None
    density_k: int | None
    context_k: int | None

    @property
    def k_max(self) -> int:
        """The most neighbours any of these features reads."""
        return max((k for k in (self.income_k, self.density_k, self.context_k) if k), default=1)

    def names(self) -> list[str]:
        names: list[str] = []
        if self.income_k is not None:
            names += [f"nbr_income_k{self.income_k}", f"income_rel_nbr_k{self.income_k}"]
        if self.density_k is not None:
            names.append(f"nbr_dist_k{self.density_k}_km")
        if self.context_k is not None:
            names += [f"nbr_{c}_k{self.context_k}" for c in CONTEXT_NAMES]
            names += [f"{c}_minus_nbr_k{self.context_k}" for c in CONTEXT_NAMES]
        return names

    def compute(
        self,
        rows: QueryRows,
        neighbours: Neighbours,
        income: FloatArray | None,
        context: FloatArray | None,
    ) -> FloatArray:
        """The columns, in ``names`` order, from the training rows' ``income`` and ``context``."""
        distances, indices = neighbours
        k_max = distances.shape[1]
        columns: list[FloatArray] = []
        if self.income_k is not None and income is not None and rows.income is not None:
            neighbour_income = nan_mean(income[indices[:, : min(self.income_k, k_max)]])
            with np.errstate(divide="ignore", invalid="ignore"):
                columns += [neighbour_income, rows.income / neighbour_income]
        if self.density_k is not None:
            columns.append(distances[:, min(self.density_k, k_max) - 1])
        if context is not None and self.context_k is not None and rows.context is not None:
            neighbour_context = nan_mean_3d(context[indices[:, : min(self.context_k, k_max)]])
            columns += [*neighbour_context.T, *(rows.context - neighbour_context).T]
        return np.column_stack(columns) if columns else np.empty((len(rows.coords), 0))
