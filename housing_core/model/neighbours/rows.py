"""The training rows a neighbour query is answered from, and the query rows' own columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.neighbors import KDTree

from housing_core.model.columns import FloatArray, Table, column
from housing_core.model.neighbours.nearest import log_or_nan, unit_vectors_km

INCOME = "median_income"
AGE = "housing_median_age"
ROOMS = "total_rooms"
POPULATION = "population"
HOUSEHOLDS = "households"
CONTEXT_COLUMNS = (AGE, ROOMS, POPULATION, HOUSEHOLDS)
CONTEXT_NAMES = ("age", "log_rooms_per_household", "log_people_per_household")


@dataclass(frozen=True)
class Reference:
    """The training rows a query is answered from: trees on their positions, and their values."""

    tree: KDTree
    log_target: FloatArray
    income: FloatArray | None
    similar_tree: KDTree | None
    at_cap: FloatArray


@dataclass(frozen=True)
class QueryRows:
    """The columns of the query rows that the features use, read from the table once."""

    coords: FloatArray
    income: FloatArray | None
    similar: FloatArray | None
    context: FloatArray | None

    def take(self, rows: npt.NDArray[np.intp]) -> QueryRows:
        return QueryRows(
            self.coords[rows],
            None if self.income is None else self.income[rows],
            None if self.similar is None else self.similar[rows],
            None if self.context is None else self.context[rows],
        )


def read_rows(
    X: Table,
    *,
    needs_income: bool,
    similar: bool,
    income_scale_km: float,
    income_fill: float,
    context: bool,
) -> QueryRows:
    """Positions in km, and the incomes, (position, income) points and context asked for."""
    coords = unit_vectors_km(X)
    income = column(X, INCOME) if needs_income else None
    similar_points = None
    if similar and income is not None:
        # position plus scaled log income; an unknown income counts as the training median
        filled = np.where(np.isnan(income), income_fill, income)
        scaled = income_scale_km * np.log(np.clip(filled, 0.0, None) + 0.5)
        similar_points = np.column_stack((coords, scaled))
    return QueryRows(coords, income, similar_points, context_values(X) if context else None)


def reference(
    rows: QueryRows,
    subset: npt.NDArray[np.intp],
    log_target: FloatArray,
    income: FloatArray | None,
    at_cap: FloatArray,
) -> Reference:
    """Index the ``subset`` of the training rows (all of them, or the other folds)."""
    return Reference(
        tree=KDTree(rows.coords[subset]),
        log_target=log_target[subset],
        income=None if income is None else income[subset],
        similar_tree=None if rows.similar is None else KDTree(rows.similar[subset]),
        at_cap=at_cap[subset],
    )


def context_values(X: Table) -> FloatArray:
    """Housing age, log rooms per household, log people per household (NaN when undefined)."""
    households = column(X, HOUSEHOLDS)
    households = np.where(households > 0, households, np.nan)
    rooms = column(X, ROOMS) / households
    people = column(X, POPULATION) / households
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.column_stack((column(X, AGE), log_or_nan(rooms), log_or_nan(people)))
