"""The data contract row by row, for rows that are scored rather than trained on.

A batch to score (or a request to serve) may hold rows that break the contract: a blank where
none is allowed, a value outside what a block group can take, a category never seen, text in
a numeric column. Each such row is named by the rules it breaks, counted per rule, and then
scored with a flag, left unscored, or refused with the whole batch: the caller's setting. The
target is optional and any other column passes through untouched. Columns the model needs
that are missing, and numeric columns without a single number in them (the wrong type, not
a few bad rows), refuse the batch: DataValidationError naming each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from housing_core.data.contract import (
    CATEGORICAL,
    FEATURE_COLUMNS,
    NUMERIC_COLUMNS,
    OCEAN_PROXIMITY_VALUES,
    TARGET,
)
from housing_core.data.validation import DataValidationError

FEATURE_RULES = [c for c in NUMERIC_COLUMNS if c.name != TARGET]


@dataclass(frozen=True)
class RowCheck:
    """Which rows break which rules: per row the rules it breaks ('' if none), per rule how
    many rows, and the features as the model takes them (numbers as float64, text as text)."""

    features: pd.DataFrame
    violations: pd.Series
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def broken(self) -> np.ndarray:
        return np.asarray(self.violations != "", dtype=bool)

    @property
    def rows(self) -> int:
        return len(self.violations)


def check_rows(frame: pd.DataFrame, source: str = "") -> RowCheck:
    """Check every feature of every row; refuse only what cannot be scored at all."""
    missing = [c for c in FEATURE_COLUMNS if c not in frame.columns]
    if missing:
        present = ", ".join(map(str, frame.columns)) or "none"
        raise DataValidationError(
            [
                f"missing column '{c}' (the model needs it; columns present: {present})"
                for c in missing
            ],
            source,
        )
    wrong = [_wrong_type(frame[c.name], c.name) for c in FEATURE_RULES]
    if any(wrong):
        raise DataValidationError([w for w in wrong if w], source)
    broken: list[tuple[str, np.ndarray]] = []
    features: dict[str, object] = {}
    for column in FEATURE_RULES:
        values, rules = _numeric(
            frame[column.name], column.name, column.low, column.high, column.nullable
        )
        features[column.name] = values
        broken += rules
    categories = frame[CATEGORICAL]
    features[CATEGORICAL] = categories.astype(object).where(categories.notna(), None)
    blank = categories.isna().to_numpy()
    unseen = ~blank & ~categories.isin(OCEAN_PROXIMITY_VALUES).to_numpy()
    broken += [(f"{CATEGORICAL}: blank", blank), (f"{CATEGORICAL}: unseen category", unseen)]
    return RowCheck(
        pd.DataFrame(features, index=frame.index).loc[:, list(FEATURE_COLUMNS)],
        _violations(frame.index, broken),
        {rule: int(mask.sum()) for rule, mask in broken if mask.any()},
    )


def _wrong_type(values: pd.Series, name: str) -> str:
    """A numeric column none of whose values is a number: its type is wrong, not its rows."""
    present = values.dropna()
    if present.empty or pd.api.types.is_numeric_dtype(values):
        return ""
    if pd.to_numeric(present, errors="coerce").notna().any():
        return ""
    examples = ", ".join(repr(v) for v in present.drop_duplicates().head(3).tolist())
    return f"column '{name}': expected numbers, got {values.dtype} (e.g. {examples})"


def describe_counts(counts: dict[str, int], rows: int) -> list[str]:
    """`median_income: outside [0, 20]: 12 of 1,000 rows`, one line per rule broken."""
    return [f"{rule}: {count:,} of {rows:,} rows" for rule, count in sorted(counts.items())]


def _numeric(
    values: pd.Series, name: str, low: float, high: float, nullable: bool
) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
    numbers = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    blank = values.isna().to_numpy()
    not_a_number = ~blank & np.isnan(numbers)
    infinite = np.isinf(numbers)
    finite = np.isfinite(numbers)
    outside = np.zeros(len(numbers), dtype=bool)
    outside[finite] = (numbers[finite] < low) | (numbers[finite] > high)
    rules = [
        (f"{name}: not a number", not_a_number),
        (f"{name}: infinite", infinite),
        (f"{name}: outside [{low:g}, {high:g}]", outside),
    ]
    if not nullable:
        rules.append((f"{name}: blank", blank))
    numbers = np.where(infinite, np.nan, numbers)  # the model imputes a blank, never an inf
    return numbers, rules


def _violations(index: pd.Index, broken: Iterable[tuple[str, np.ndarray]]) -> pd.Series:
    """Per row, the rules it breaks joined by '; ' ('' when it breaks none)."""
    rules = [(rule, mask) for rule, mask in broken if mask.any()]
    joined = np.full(len(index), "", dtype=object)
    if rules:
        masks = np.stack([mask for _, mask in rules], axis=1)
        for row in np.flatnonzero(masks.any(axis=1)):  # the broken rows only: usually few
            hits = zip(rules, masks[row], strict=True)
            joined[row] = "; ".join(rule for (rule, _), hit in hits if hit)
    return pd.Series(joined, index=index, dtype=object)
