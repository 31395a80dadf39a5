"""The raw data contract: columns, types, ranges and categories of the housing CSV.

The model wing does not import it (a registered model ships alone): it learns the text columns,
categories and highest price from the training rows that satisfied this contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

TARGET = "median_house_value"
PRICE_CAP = 500_001.0
CATEGORICAL = "ocean_proximity"
OCEAN_PROXIMITY_VALUES = ("<1H OCEAN", "INLAND", "NEAR OCEAN", "NEAR BAY", "ISLAND")


@dataclass(frozen=True)
class NumericColumn:
    """A numeric raw column and the closed range a real block group can take."""

    name: str
    low: float
    high: float
    nullable: bool = False


NUMERIC_COLUMNS: tuple[NumericColumn, ...] = (
    NumericColumn("longitude", -125.0, -114.0),
    NumericColumn("latitude", 32.0, 42.5),
    NumericColumn("housing_median_age", 1.0, 52.0),
    NumericColumn("total_rooms", 1.0, 100_000.0),
    NumericColumn("total_bedrooms", 1.0, 20_000.0, nullable=True),
    NumericColumn("population", 1.0, 100_000.0),
    NumericColumn("households", 1.0, 20_000.0),
    NumericColumn("median_income", 0.0, 20.0),
    NumericColumn(TARGET, 1_000.0, PRICE_CAP),
)

FEATURE_COLUMNS: tuple[str, ...] = (
    *(c.name for c in NUMERIC_COLUMNS if c.name != TARGET),
    CATEGORICAL,
)
RAW_COLUMNS: tuple[str, ...] = (*FEATURE_COLUMNS, TARGET)


def features_of(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's input columns of `frame`, in the contract's order (the target and any
    other column left out): what every step that scores rows hands the model."""
    return frame.loc[:, list(FEATURE_COLUMNS)]


def contract_spec() -> dict[str, Any]:
    """The per-row rules as plain values: what data.portable.rules applies, in this process
    or, as a JSON file, inside a version's own (housing-serve's workers)."""
    return {
        "features": list(FEATURE_COLUMNS),
        "numeric": [
            {"name": c.name, "low": c.low, "high": c.high, "nullable": c.nullable}
            for c in NUMERIC_COLUMNS
            if c.name != TARGET
        ],
        "categorical": [{"name": CATEGORICAL, "values": list(OCEAN_PROXIMITY_VALUES)}],
    }
