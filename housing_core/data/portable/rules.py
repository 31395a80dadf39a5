"""The data contract's rules applied row by row, from a plain spec (data.contract.contract_spec).

One implementation for every place rows are priced: batch scoring (through housing_core.data
.rows) and housing-serve's workers, which load this file by path inside a version's own
process. For each row, the rules it breaks; for each rule, how many rows; the features as the
model takes them (numbers as float64, an infinite value as a blank, text as text); and what
refuses the batch outright: a missing column, a numeric column without a single number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Checked:
    """What the rules found in a frame of rows."""

    features: pd.DataFrame
    violations: pd.Series
    counts: dict[str, int] = field(default_factory=dict)
    unusable: tuple[str, ...] = ()  # problems that refuse the whole batch

    @property
    def broken(self) -> np.ndarray:
        return np.asarray(self.violations != "", dtype=bool)


def check(frame: pd.DataFrame, spec: Mapping[str, Any]) -> Checked:
    """Apply `spec` (`features`, `numeric` [{name, low, high, nullable}], `categorical`
    [{name, values}]) to every row of `frame`."""
    columns = set(map(str, frame.columns))
    present = ", ".join(map(str, frame.columns)) or "none"
    unusable = [
        f"missing column '{name}' (the model needs it; columns present: {present})"
        for name in spec["features"]
        if name not in columns
    ]
    dtypes = dict(zip(map(str, frame.columns), frame.dtypes, strict=True))
    unusable += [
        p
        for c in spec["numeric"]
        if c["name"] in columns
        and not pd.api.types.is_numeric_dtype(dtypes[c["name"]])  # the usual case: no lookup
        and (p := _wrong_type(frame[c["name"]], c["name"]))
    ]
    if unusable:
        empty = pd.Series("", index=frame.index, dtype=object)
        return Checked(frame.iloc[:0], empty, {}, tuple(unusable))
    broken: list[tuple[str, np.ndarray]] = []
    features: dict[str, Any] = {}
    for rule in spec["numeric"]:
        values, found = _numeric(frame[rule["name"]], rule)
        features[rule["name"]] = values
        broken += found
    for rule in spec["categorical"]:
        name, values = rule["name"], frame[rule["name"]]
        blank = values.isna().to_numpy()
        text = values.to_numpy(dtype=object, copy=True)  # blanks become None below
        text[blank] = None
        features[name] = text
        unseen = ~blank & ~values.isin(rule["values"]).to_numpy()
        broken += [(f"{name}: blank", blank), (f"{name}: unseen category", unseen)]
    return Checked(
        pd.DataFrame({name: features[name] for name in spec["features"]}, index=frame.index),
        _violations(frame.index, broken),
        {rule: int(mask.sum()) for rule, mask in broken if mask.any()},
    )


def describe_counts(counts: Mapping[str, int], rows: int) -> list[str]:
    """`median_income: outside [0, 20]: 12 of 1,000 rows`, one line per rule broken."""
    return [f"{rule}: {count:,} of {rows:,} rows" for rule, count in sorted(counts.items())]


def _wrong_type(values: pd.Series, name: str) -> str:
    """A numeric column none of whose values is a number: its type is wrong, not its rows."""
    if pd.api.types.is_numeric_dtype(values):
        return ""
    present = values.dropna()
    if present.empty:
        return ""
    if pd.to_numeric(present, errors="coerce").notna().any():
        return ""
    examples = ", ".join(repr(v) for v in present.drop_duplicates().head(3).tolist())
    return f"column '{name}': expected numbers, got {values.dtype} (e.g. {examples})"


def _numeric(
    values: pd.Series, rule: Mapping[str, Any]
) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
    name, low, high = rule["name"], float(rule["low"]), float(rule["high"])
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "biuf":
        # already numbers (the usual case): numpy alone, a row costs what a batch does
        numbers = values.to_numpy(dtype=np.float64)
        blank = np.isnan(numbers)
    else:
        numbers = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
        blank = values.isna().to_numpy()
    infinite = np.isinf(numbers)
    finite = np.isfinite(numbers)
    outside = np.zeros(len(numbers), dtype=bool)
    outside[finite] = (numbers[finite] < low) | (numbers[finite] > high)
    found = [
        (f"{name}: not a number", ~blank & np.isnan(numbers)),
        (f"{name}: infinite", infinite),
        (f"{name}: outside [{low:g}, {high:g}]", outside),
    ]
    if not rule["nullable"]:
        found.append((f"{name}: blank", blank))
    return np.where(infinite, np.nan, numbers), found


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
