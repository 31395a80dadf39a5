"""The synthetic rows the drift tests and benchmarks use keep to the data contract."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from housing_core.data.contract import NUMERIC_COLUMNS, OCEAN_PROXIMITY_VALUES
from tests.benchmarks.synthetic import (
    SHIFTS,
    jittered_rows,
    shifted,
    write_jittered_csv,
    write_jittered_parquet,
)


@pytest.fixture(scope="module")
def many(housing: pd.DataFrame) -> pd.DataFrame:
    return jittered_rows(housing, 200_000, seed=2)


@pytest.mark.parametrize("column", NUMERIC_COLUMNS, ids=lambda c: c.name)
def test_jittered_values_stay_inside_the_contract(many: pd.DataFrame, column: object) -> None:
    values = many[column.name]  # type: ignore[attr-defined]

    assert values.min() >= column.low and values.max() <= column.high  # type: ignore[attr-defined]
    if not column.nullable:  # type: ignore[attr-defined]
        assert values.notna().all()


def test_jittered_rows_keep_categories_blanks_and_caps(
    many: pd.DataFrame, housing: pd.DataFrame
) -> None:
    assert set(many["ocean_proximity"].astype(str)) == set(OCEAN_PROXIMITY_VALUES)
    real = housing["total_bedrooms"].isna().mean()
    assert many["total_bedrooms"].isna().mean() == pytest.approx(real, abs=0.002)
    assert many["median_house_value"].max() == 500_001
    assert (many["median_house_value"] == 500_001).mean() == pytest.approx(
        (housing["median_house_value"] == 500_001).mean(), abs=0.003
    )
    assert list(many.columns) == list(housing.columns)


def test_jittered_rows_are_reproducible(housing: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        jittered_rows(housing, 1_000, 4), jittered_rows(housing, 1_000, 4)
    )


@pytest.mark.parametrize("write", [write_jittered_csv, write_jittered_parquet])
def test_writers_stream_chunks_to_one_file(
    housing: pd.DataFrame, tmp_path: Path, write: object
) -> None:
    path = write(housing, 2_500, tmp_path / "rows", chunk_rows=1_000)  # type: ignore[operator]

    read = pd.read_csv(path) if write is write_jittered_csv else pd.read_parquet(path)
    assert len(read) == 2_500
    assert list(read.columns) == list(housing.columns)


@pytest.mark.parametrize("kind", SHIFTS)
def test_every_shift_kind_gives_a_frame(housing: pd.DataFrame, kind: str) -> None:
    out = shifted(housing, kind)

    assert list(out.columns) == list(housing.columns) and len(out) > 1_000


def test_an_unknown_shift_is_refused(housing: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="unknown shift"):
        shifted(housing, "prices_up")
