"""The data contract checked at the boundary: one error that names every broken rule."""

from __future__ import annotations

import logging

import pandas as pd

from housing_core.data.contract import (
    CATEGORICAL,
    NUMERIC_COLUMNS,
    OCEAN_PROXIMITY_VALUES,
    RAW_COLUMNS,
)
from housing_core.settings import DataSettings

log = logging.getLogger(__name__)


class DataValidationError(ValueError):
    """The data breaks the contract: it will not heal on retry, and is never trained on."""

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = problems
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"housing data{where} failed {len(problems)} check(s):\n{lines}")
        self.source = source

    def __reduce__(self) -> tuple[type[DataValidationError], tuple[list[str], str]]:
        # pickled by its own arguments: it crosses processes (a Dask worker's refusal)
        return type(self), (self.problems, self.source)


def validate_rows(frame: pd.DataFrame, rules: DataSettings, source: str = "") -> pd.DataFrame:
    """The contract checked with the configured limits: the clean frame, or one error."""
    clean = validate(frame, rules.min_rows, rules.max_missing_fraction, source)
    log.info("validated %d rows: every contract check passed", len(clean))
    return clean


def validate(
    frame: pd.DataFrame, min_rows: int, max_missing_fraction: float, source: str = ""
) -> pd.DataFrame:
    """Check the whole contract and raise ONE error listing every broken rule.

    Returns the frame with the contract's columns in order and numeric columns as float64.
    """
    problems = _column_problems(frame)
    present = [c for c in NUMERIC_COLUMNS if c.name in frame.columns]
    for column in present:
        problems += _numeric_problems(
            frame, column.name, column.low, column.high, column.nullable, max_missing_fraction
        )
    if CATEGORICAL in frame.columns:
        problems += _category_problems(frame[CATEGORICAL])
    if len(frame) < min_rows:
        problems.append(f"too few rows: {len(frame)} < the minimum of {min_rows}")
    if problems:
        raise DataValidationError(problems, source)
    clean = frame.loc[:, list(RAW_COLUMNS)].copy()
    for column in present:
        clean[column.name] = clean[column.name].astype("float64")
    clean[CATEGORICAL] = clean[CATEGORICAL].astype(str)
    return clean.reset_index(drop=True)


def _column_problems(frame: pd.DataFrame) -> list[str]:
    missing = [c for c in RAW_COLUMNS if c not in frame.columns]
    return [f"missing column '{c}'" for c in missing]


def _numeric_problems(
    frame: pd.DataFrame, name: str, low: float, high: float, nullable: bool, max_missing: float
) -> list[str]:
    values = frame[name]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        coerced = pd.to_numeric(values, errors="coerce")
        not_numeric = coerced.isna() & values.notna()
        if not not_numeric.any():  # numbers held as text, or no rows at all: judge the numbers
            return _numeric_problems(
                frame.assign(**{name: coerced.astype("float64")}),
                name,
                low,
                high,
                nullable,
                max_missing,
            )
        return [
            f"column '{name}': dtype {values.dtype}, expected numbers; {int(not_numeric.sum())} "
            f"row(s) are not numeric (e.g. {_examples(values[not_numeric])})"
        ]
    problems = []
    blanks = int(values.isna().sum())
    if blanks and not nullable:
        problems.append(f"column '{name}': {blanks} blank row(s), blanks are not allowed")
    elif blanks and len(values) and blanks / len(values) > max_missing:
        problems.append(
            f"column '{name}': {blanks} blank row(s) ({blanks / len(values):.1%}) "
            f"exceed the missing-value budget of {max_missing:.1%}"
        )
    outside = values.notna() & ~values.between(low, high)
    if outside.any():
        problems.append(
            f"column '{name}': {int(outside.sum())} row(s) outside [{low:g}, {high:g}] "
            f"(e.g. {_examples(values[outside])})"
        )
    return problems


def _category_problems(values: pd.Series) -> list[str]:
    problems = []
    blanks = int(values.isna().sum())
    if blanks:
        problems.append(f"column '{CATEGORICAL}': {blanks} blank row(s), blanks are not allowed")
    unknown = values.notna() & ~values.isin(OCEAN_PROXIMITY_VALUES)
    if unknown.any():
        allowed = ", ".join(OCEAN_PROXIMITY_VALUES)
        problems.append(
            f"column '{CATEGORICAL}': {int(unknown.sum())} row(s) with unknown "
            f"categories {_examples(values[unknown])}; allowed: {allowed}"
        )
    return problems


def _examples(values: pd.Series, limit: int = 3) -> str:
    return ", ".join(repr(v) for v in values.drop_duplicates().head(limit).tolist())
