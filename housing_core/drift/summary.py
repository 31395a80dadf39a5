"""A summary of rows: the binned counts of each column, which add up chunk by chunk.

The reference's summary lives inside its profile; a batch's summary is counted on the
profile's edges (`housing_core.drift.summarize`), so a batch scorer can summarise each chunk
as it goes, add the summaries, and check once at the end while holding only counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from housing_core.drift.counts import (
    CategoricalCounts,
    Counts,
    IncompatibleBinsError,
    NumericCounts,
    count_categories,
    count_numeric,
    counts_from_dict,
    numeric_values,
)

PREDICTION = "prediction"


@dataclass(frozen=True)
class Summary:
    """Counts per column of `rows` rows; the model's predictions, if any, under `prediction`."""

    rows: int
    columns: Mapping[str, Counts]

    def __add__(self, other: Summary) -> Summary:
        """Counts of both sets of rows; refused unless both were counted on the same bins."""
        if set(self.columns) != set(other.columns):
            missing = sorted(set(self.columns) ^ set(other.columns))
            raise IncompatibleBinsError(
                f"cannot merge summaries of different columns: {', '.join(missing)} "
                "is only in one of them"
            )
        merged: dict[str, Counts] = {}
        for name, mine in self.columns.items():
            merged[name] = _add(name, mine, other.columns[name])
        return Summary(self.rows + other.rows, merged)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "columns": {name: c.to_dict() for name, c in self.columns.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Summary:
        columns = {str(k): counts_from_dict(v) for k, v in data["columns"].items()}
        return cls(int(data["rows"]), columns)


def count_rows(
    frame: pd.DataFrame,
    layout: Mapping[str, Counts],
    predictions: np.ndarray[Any, Any] | None = None,
    optional: tuple[str, ...] = (),
) -> Summary:
    """Count `frame` (and `predictions`) on the bins of `layout`, column by column.

    Columns named in `optional` (the target) are counted only when the frame has them;
    predictions are counted only when the layout has a `prediction` column and they are given.
    """
    columns: dict[str, Counts] = {}
    for name, like in layout.items():
        if name == PREDICTION:
            if predictions is not None:
                columns[name] = count_numeric(
                    _predictions(predictions, len(frame)), like_edges(like)
                )
            continue
        if name in optional and name not in frame.columns:
            continue
        if isinstance(like, NumericCounts):
            columns[name] = count_numeric(numeric_values(frame, name), like.edges)
        else:
            if name not in frame.columns:
                raise KeyError(f"column {name!r} is missing from the rows")
            columns[name] = count_categories(frame[name])
    return Summary(len(frame), columns)


def like_edges(counts: Counts) -> tuple[float, ...]:
    if not isinstance(counts, NumericCounts):
        raise TypeError("predictions are profiled as a numeric column")
    return counts.edges


def _predictions(
    predictions: np.ndarray[Any, Any], rows: int
) -> np.ndarray[Any, np.dtype[np.float64]]:
    values = np.asarray(predictions, dtype=float).reshape(-1)
    if values.size != rows:
        raise ValueError(f"{values.size} predictions for {rows} rows: give one per row")
    return values


def _add(name: str, mine: Counts, theirs: Counts) -> Counts:
    try:
        if isinstance(mine, NumericCounts) and isinstance(theirs, NumericCounts):
            return mine + theirs
        if isinstance(mine, CategoricalCounts) and isinstance(theirs, CategoricalCounts):
            return mine + theirs
    except IncompatibleBinsError as error:
        raise IncompatibleBinsError(
            f"cannot merge column {name!r}: {error} (the two were profiled from different "
            "references; summarise both with the same profile, or build one profile from "
            "all the rows)"
        ) from None
    raise IncompatibleBinsError(
        f"cannot merge column {name!r}: numeric in one, categorical in the other"
    )
