"""Data contract checks on the real shared data set, read through the data-source setting."""

from __future__ import annotations

import pandas as pd

from housing_core.data.contract import OCEAN_PROXIMITY_VALUES, RAW_COLUMNS
from housing_core.data.source import parse_csv, read_source
from housing_core.data.split import split_frame
from housing_core.data.validation import validate
from housing_core.settings import DataSettings


def test_the_shared_data_passes_the_contract(data_source: str) -> None:
    rules = DataSettings(source=data_source)
    raw = read_source(rules.source)

    clean = validate(parse_csv(raw), rules.min_rows, rules.max_missing_fraction, raw.source)

    assert list(clean.columns) == list(RAW_COLUMNS)
    assert len(clean) > 15_000
    assert set(clean["ocean_proximity"]) <= set(OCEAN_PROXIMITY_VALUES)
    assert clean["total_bedrooms"].isna().mean() < rules.max_missing_fraction
    assert len(raw.version) == 64


def test_split_of_the_real_data_is_80_20_and_keeps_every_category(data_source: str) -> None:
    frame = pd.read_csv(data_source)

    parts = split_frame(frame)

    assert abs(len(parts.test) / len(frame) - 0.2) < 0.01
    common = {"<1H OCEAN", "INLAND", "NEAR OCEAN", "NEAR BAY"}
    assert common <= set(parts.test["ocean_proximity"])
    # the held-out prices look like the training prices (no skew from the hash)
    assert (
        abs(
            parts.test["median_house_value"].median() / parts.train["median_house_value"].median()
            - 1
        )
        < 0.05
    )
