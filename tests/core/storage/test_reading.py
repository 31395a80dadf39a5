"""Reading in chunks: the same rows as pandas reading the whole file, from every kind of place,
in chunks of exactly the size asked, in memory bounded by the chunk rather than the file."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from housing_core.storage import S3Connection, read_bytes, read_chunks
from tests.core.storage.conftest import Places

KINDS = ["path", "file_uri", "http", "s3"]
FORMATS = ["csv", "csv.gz", "parquet"]


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("kind", KINDS)
def test_the_real_data_reads_back_whole_in_exact_chunks(
    kind: str,
    format: str,
    places: Places,
    s3: S3Connection,
    housing: pd.DataFrame,
    housing_files: dict[str, bytes],
) -> None:
    # given the real data set as a file of this format, at this kind of place
    uri = places.put(kind, f"housing.{format}", housing_files[format])

    # when it is read 5000 rows at a time
    chunks = list(read_chunks(uri, 5_000, s3=s3))

    # then every chunk but the last has exactly 5000 rows, and together they are the table
    assert [len(c) for c in chunks[:-1]] == [5_000] * (len(chunks) - 1)
    assert 0 < len(chunks[-1]) <= 5_000
    pd.testing.assert_frame_equal(pd.concat(chunks), housing)


@pytest.mark.parametrize("format", ["csv", "parquet"])
def test_columns_come_in_the_order_asked_with_the_types_asked(
    format: str, places: Places, housing: pd.DataFrame, housing_files: dict[str, bytes]
) -> None:
    uri = places.put("path", f"housing.{format}", housing_files[format])

    chunks = read_chunks(
        uri,
        10_000,
        columns=["ocean_proximity", "median_income"],
        dtype={"median_income": "float32"},
    )
    first = next(chunks)

    assert list(first.columns) == ["ocean_proximity", "median_income"]
    assert first["median_income"].dtype == np.float32
    assert first["ocean_proximity"].tolist() == housing["ocean_proximity"][:10_000].tolist()


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated million-row numeric CSV (21 MB): too big to read whole unnoticed."""
    rows = 1_000_000
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "price": rng.integers(15_000, 500_000, rows),
            "income": np.round(rng.random(rows) * 15, 4),
        }
    )
    path = tmp_path_factory.mktemp("big") / "big.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("kind", ["path", "http", "s3"])
def test_a_million_rows_stream_in_memory_bounded_by_the_chunk(
    kind: str, big_csv: Path, places: Places, s3: S3Connection
) -> None:
    # given a million rows (24 MB as numbers once parsed) at this kind of place
    uri = places.put(kind, "big.csv", big_csv.read_bytes())

    # when they are read 50,000 rows at a time, keeping only a running total (after a first
    # look, so that what importing a client library allocates once is not counted)
    for _ in read_chunks(uri, 10, s3=s3):
        break
    tracemalloc.start()
    try:
        sizes, total = [], 0
        for chunk in read_chunks(uri, 50_000, s3=s3):
            sizes.append(len(chunk))
            total += int(chunk["id"].sum())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # then every row came, 50,000 at a time, and Python never held more than a fraction of
    # the file: a whole read peaks at 24 MB of arrays; a body or object read whole, 21 MB
    assert sizes == [50_000] * 20
    assert total == sum(range(1_000_000))
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_a_header_only_table_yields_one_empty_chunk_with_its_columns(places: Places) -> None:
    uri = places.put("path", "empty.csv", b"a,b\n")

    chunks = list(read_chunks(uri, 100))

    assert len(chunks) == 1
    assert list(chunks[0].columns) == ["a", "b"] and chunks[0].empty


def test_a_parquet_file_with_no_rows_yields_its_columns(places: Places) -> None:
    empty = pd.DataFrame({"a": pd.Series([], dtype="float64"), "b": pd.Series([], dtype="int64")})
    uri = places.put("path", "empty.parquet", empty.to_parquet(index=False) or b"")

    (chunk,) = list(read_chunks(uri, 100))

    assert list(chunk.columns) == ["a", "b"] and chunk.empty


@pytest.mark.parametrize("kind", ["path", "http", "s3"])
def test_small_files_are_read_whole_whatever_their_name(
    kind: str, places: Places, s3: S3Connection
) -> None:
    uri = places.put(kind, "settings.json", b'{"a": 1}')

    assert read_bytes(uri, 5, s3=s3) == b'{"a": 1}'
