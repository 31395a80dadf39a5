"""The data contract: every broken rule is named, with its column and how many rows broke it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from housing_core.data.contract import RAW_COLUMNS
from housing_core.data.source import (
    DataSourceError,
    RawData,
    load,
    parse_csv,
    read_source,
    source_fingerprint,
)
from housing_core.data.validation import DataValidationError, validate


def check(frame: pd.DataFrame, min_rows: int = 1, max_missing: float = 0.5) -> pd.DataFrame:
    return validate(frame, min_rows=min_rows, max_missing_fraction=max_missing, source="t.csv")


def problems_of(frame: pd.DataFrame, **kwargs: float) -> list[str]:
    with pytest.raises(DataValidationError) as caught:
        check(frame, **kwargs)  # type: ignore[arg-type]
    return caught.value.problems


def test_valid_rows_pass_with_contract_columns_in_order(rows: pd.DataFrame) -> None:
    shuffled = rows[list(reversed(rows.columns))]

    clean = check(shuffled)

    assert list(clean.columns) == list(RAW_COLUMNS)
    assert clean["total_bedrooms"].isna().sum() == 1


def test_missing_column_is_named(rows: pd.DataFrame) -> None:
    assert problems_of(rows.drop(columns=["median_income"])) == ["missing column 'median_income'"]


def test_wrong_dtype_names_the_column_and_the_bad_rows(rows: pd.DataFrame) -> None:
    rows["households"] = ["126", "many", "n/a"]

    (problem,) = problems_of(rows)

    assert "column 'households'" in problem
    assert "2 row(s) are not numeric" in problem and "'many'" in problem


def test_unknown_category_is_counted_and_the_allowed_values_listed(rows: pd.DataFrame) -> None:
    rows.loc[[0, 1], "ocean_proximity"] = "MARS"

    (problem,) = problems_of(rows)

    assert "2 row(s) with unknown categories 'MARS'" in problem
    assert "NEAR BAY" in problem


def test_out_of_range_values_give_the_range_and_the_count(rows: pd.DataFrame) -> None:
    rows.loc[0, "latitude"] = 95.0
    rows.loc[[1, 2], "median_income"] = -1.0

    problems = problems_of(rows)

    assert "column 'latitude': 1 row(s) outside [32, 42.5]" in problems[0]
    assert "column 'median_income': 2 row(s) outside [0, 20]" in problems[1]


def test_blanks_beyond_the_budget_and_in_required_columns(rows: pd.DataFrame) -> None:
    rows["total_bedrooms"] = float("nan")
    rows.loc[0, "population"] = float("nan")

    problems = problems_of(rows, max_missing=0.10)

    assert any("'total_bedrooms': 3 blank row(s) (100.0%) exceed" in p for p in problems)
    assert any("'population': 1 blank row(s), blanks are not allowed" in p for p in problems)


def test_too_few_rows(rows: pd.DataFrame) -> None:
    assert problems_of(rows, min_rows=1000) == ["too few rows: 3 < the minimum of 1000"]


def test_every_broken_rule_is_reported_in_one_error(rows: pd.DataFrame) -> None:
    broken = rows.drop(columns=["households"])
    broken.loc[0, "ocean_proximity"] = "MARS"

    with pytest.raises(DataValidationError) as caught:
        check(broken, min_rows=10)

    message = str(caught.value)
    assert "failed 3 check(s)" in message and "t.csv" in message
    assert "households" in message and "MARS" in message and "too few rows" in message


def test_empty_file_is_a_validation_error() -> None:
    with pytest.raises(DataValidationError, match="empty"):
        parse_csv(RawData("empty.csv", b""))


def test_header_only_file_fails_on_row_count(rows: pd.DataFrame) -> None:
    frame = parse_csv(RawData("h.csv", (",".join(RAW_COLUMNS) + "\n").encode()))

    assert problems_of(frame, min_rows=1) == ["too few rows: 0 < the minimum of 1"]


def test_a_missing_file_is_a_source_error_that_will_not_heal(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match=r"nope\.csv") as raised:
        read_source(str(tmp_path / "nope.csv"))
    assert raised.value.retryable is False


def test_an_unreachable_server_is_a_source_error_that_may_heal() -> None:
    from tests.servers import free_port

    url = f"http://127.0.0.1:{free_port()}/housing.csv"
    with pytest.raises(DataSourceError, match=f"data source '{url}'") as raised:
        read_source(url, timeout_s=5)
    assert raised.value.retryable is True


def test_bytes_that_are_not_parquet_are_a_validation_error(tmp_path: Path) -> None:
    path = tmp_path / "housing.parquet"
    path.write_bytes(b"not parquet at all")

    with pytest.raises(DataValidationError, match=str(path)):
        load(str(path))


def test_a_parquet_source_loads_with_the_content_hash_as_its_version(
    rows: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "housing.parquet"
    rows.to_parquet(path, index=False)

    ingested = load(str(path))

    pd.testing.assert_frame_equal(ingested.frame, rows.reset_index(drop=True))
    assert ingested.version == hashlib.sha256(path.read_bytes()).hexdigest()


def test_file_version_is_the_content_hash(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_bytes(b"a,b\n1,2\n")
    first = source_fingerprint(str(path))

    path.write_bytes(b"a,b\n1,3\n")

    assert source_fingerprint(str(path)) != first
    assert read_source(str(path)).version == source_fingerprint(str(path))
