"""The data contract against hostile files, property-based (hypothesis).

A valid table is mutated (columns dropped, renamed or duplicated; a column's type changed to
text, booleans, dates, nested values or control characters; cells set to NaN, inf, negative
or huge numbers; no rows at all) and written as CSV (a BOM, another encoding, another
delimiter, no bytes at all) or Parquet. Whatever comes out, training's path (`load` then
`validate`) and batch scoring's (`read_chunks` then `check_rows`) either accept the rows or
raise the one `DataValidationError` naming the problems, never another exception. Each
property prints how many examples it tried.
"""

from __future__ import annotations

import math
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from housing_core.data.contract import CATEGORICAL, RAW_COLUMNS
from housing_core.data.rows import check_rows
from housing_core.data.source import load, read_chunks
from housing_core.data.validation import DataValidationError, validate

pytestmark = pytest.mark.timeout(120)

COUNTS = ("total_rooms", "total_bedrooms", "population", "households")
NUMERIC = [c for c in RAW_COLUMNS if c != CATEGORICAL]
TRIED: Counter[str] = Counter()


def base_rows(count: int) -> pd.DataFrame:
    rng = np.random.default_rng(count)
    return pd.DataFrame(
        {
            "longitude": rng.uniform(-124, -115, count).round(2),
            "latitude": rng.uniform(33, 41, count).round(2),
            "housing_median_age": rng.integers(1, 52, count).astype(float),
            "total_rooms": rng.integers(100, 5000, count).astype(float),
            "total_bedrooms": rng.integers(20, 1000, count).astype(float),
            "population": rng.integers(50, 3000, count).astype(float),
            "households": rng.integers(20, 1000, count).astype(float),
            "median_income": rng.uniform(0.5, 15, count).round(4),
            "median_house_value": rng.integers(15000, 500000, count).astype(float),
            CATEGORICAL: rng.choice(["NEAR BAY", "<1H OCEAN", "INLAND", "NEAR OCEAN"], count),
        }
    )


ODD_VALUES = st.sampled_from(
    [
        math.nan,
        math.inf,
        -math.inf,
        -1.0,
        -1e9,
        1e308,
        1e400,
        0.0,
        "",
        "abc",
        "1,5",
        "\x00",
        "\x1b[31m",
        "NaN",
        "inf",
        True,
        "ÎLE",
        "2024-01-01",
    ]
)
COLUMN_TYPES = st.sampled_from(["text", "bool", "date", "nested", "control", "mixed", "int"])


def _retype(values: pd.Series, kind: str) -> pd.Series:
    n = len(values)
    if kind == "text":
        return values.astype(str) + "x"
    if kind == "bool":
        return pd.Series([i % 2 == 0 for i in range(n)], index=values.index)
    if kind == "date":
        return pd.Series(pd.date_range("2024-01-01", periods=n), index=values.index)
    if kind == "nested":
        return pd.Series([[i, {"k": i}] for i in range(n)], index=values.index, dtype=object)
    if kind == "control":
        return pd.Series(["\x07\x00\r\n"] * n, index=values.index)
    if kind == "mixed":
        mixed = [[1.0, "two", None, True][i % 4] for i in range(n)]
        return pd.Series(mixed, index=values.index, dtype=object)
    return values.fillna(0).astype("int64") if values.dtype.kind == "f" else values


def _replaced(
    frame: pd.DataFrame, column: str, change: Callable[[pd.Series], pd.Series]
) -> pd.DataFrame:
    """`frame` with the first column called `column` changed: by position, as an earlier
    mutation may have duplicated the name (then `frame[column]` is a frame, not a column)."""
    names = list(frame.columns)
    position = names.index(column)
    frame = frame.set_axis(range(len(names)), axis=1)
    frame[position] = change(frame[position])
    return frame.set_axis(names, axis=1)


def _with_cells(values: pd.Series, cells: dict[int, Any]) -> pd.Series:
    values = values.astype(object)
    for row, value in cells.items():
        values.iloc[row] = value
    return values


@st.composite
def mutated(draw: st.DrawFn) -> pd.DataFrame:
    frame = base_rows(draw(st.integers(0, 40)))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["drop", "rename", "duplicate", "retype", "cells", "extra"]))
        columns = list(frame.columns)
        if not columns:
            break
        column = draw(st.sampled_from(columns))
        if op == "drop":
            frame = frame.drop(columns=[column])
        elif op == "rename":
            name = draw(st.sampled_from(["", " x", column.upper(), f"{column} ", "\ufeffa"]))
            frame = frame.rename(columns={column: name})
        elif op == "duplicate":
            frame = pd.concat([frame, frame[[column]]], axis=1)
        elif op == "retype":
            frame = _replaced(frame, column, lambda v: _retype(v, draw(COLUMN_TYPES)))
        elif op == "cells" and len(frame):
            target = column if column in COUNTS or draw(st.booleans()) else COUNTS[0]
            if target in frame.columns:
                rows = draw(st.lists(st.integers(0, len(frame) - 1), min_size=1, max_size=5))

                cells = {row: draw(ODD_VALUES) for row in rows}
                frame = _replaced(frame, target, lambda v, cells=cells: _with_cells(v, cells))
        elif op == "extra":
            frame["notes"] = draw(st.sampled_from(["a;b", "x\ty", '"q"', "\x00"]))
    return frame


@st.composite
def written(draw: st.DrawFn) -> tuple[str, bytes | pd.DataFrame]:
    frame = draw(mutated())
    form = draw(st.sampled_from(["csv", "csv", "parquet", "empty"]))
    if form == "empty":
        return "csv", draw(st.sampled_from([b"", b"\n", b"   ", b"\xef\xbb\xbf"]))
    if form == "parquet":
        return "parquet", frame
    text = frame.to_csv(index=False, sep=draw(st.sampled_from([",", ",", ";", "\t", "|"])))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    return "csv", text.encode(encoding, errors="replace")


@contextmanager
def on_disk(form: str, content: bytes | pd.DataFrame) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="contract-") as tmp:
        path = Path(tmp) / f"rows.{form}"
        TRIED[form] += 1
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            try:
                content.to_parquet(path, index=False)
            except (ValueError, TypeError, ArithmeticError, pa.ArrowException):
                # pandas or Arrow cannot write it (duplicate names, mixed objects): no file
                TRIED["parquet not writable"] += 1
                yield ""
                return
        yield str(path)


def _judge(kind: str, action: Any) -> None:
    TRIED[kind] += 1
    try:
        action()
    except DataValidationError as exc:
        assert exc.problems, exc
        assert all(isinstance(p, str) and p for p in exc.problems), exc.problems
        TRIED[f"{kind} refused"] += 1


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(written())
def test_training_path_accepts_or_raises_one_data_validation_error(
    file: tuple[str, bytes | pd.DataFrame],
) -> None:
    with on_disk(*file) as path:
        if path:
            _judge("training", lambda: validate(load(path).frame, 10, 0.2, path))


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(written(), st.integers(1, 50))
def test_batch_scoring_path_accepts_or_raises_one_data_validation_error(
    file: tuple[str, bytes | pd.DataFrame], chunk_rows: int
) -> None:
    def score() -> None:
        for chunk in read_chunks(path, chunk_rows):
            check_rows(chunk, path)

    with on_disk(*file) as path:
        if path:
            _judge("batch scoring", score)


@given(st.sampled_from(COUNTS), st.sampled_from([-1.0, -1e9]), st.sampled_from(["csv", "parquet"]))
@settings(max_examples=20, deadline=None)
def test_a_negative_count_is_named_by_its_column(column: str, value: float, form: str) -> None:
    frame = base_rows(20)
    frame.loc[3, column] = value
    content: bytes | pd.DataFrame = frame.to_csv(index=False).encode() if form == "csv" else frame
    with on_disk(form, content) as path, pytest.raises(DataValidationError) as refused:
        validate(load(path).frame, 10, 0.2, path)
    TRIED["named"] += 1
    assert any(f"'{column}'" in p and "outside" in p for p in refused.value.problems)


def test_zz_how_many_were_tried() -> None:
    print(f"\ncontract properties tried: {dict(TRIED)}")
