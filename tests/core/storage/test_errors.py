"""Every failure is one StorageError naming the URI and the cause, and says if a retry may help."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from deployments.services import S3Store
from housing_core.storage import (
    S3Connection,
    StorageAccessError,
    StorageContentError,
    StorageError,
    StorageNotFoundError,
    StorageUnavailableError,
    content_hash,
    fingerprint,
    read_bytes,
    read_chunks,
)
from tests.core.storage.conftest import Places
from tests.servers import free_port


def refused(uri: str, s3: S3Connection | None = None) -> StorageError:
    """The error reading `uri` raises (on the first chunk)."""
    with pytest.raises(StorageError) as caught:
        next(read_chunks(uri, 100, s3=s3))
    assert uri in str(caught.value)
    return caught.value


def test_a_missing_file_is_not_found_and_will_not_heal(tmp_path: Path) -> None:
    error = refused(str(tmp_path / "nope.csv"))

    assert isinstance(error, StorageNotFoundError) and not error.retryable
    assert "no such file" in str(error)


def test_a_folder_where_a_file_is_expected_is_not_found(tmp_path: Path) -> None:
    (tmp_path / "x.csv").mkdir()

    assert "is a folder" in str(refused(str(tmp_path / "x.csv")))


def test_an_http_404_is_not_found(places: Places) -> None:
    uri = places.put("http", "here.csv", b"a\n1\n").replace("here.csv", "gone.csv")

    error = refused(uri)

    assert isinstance(error, StorageNotFoundError) and "HTTP 404" in str(error)
    with pytest.raises(StorageNotFoundError):
        fingerprint(uri)


def test_an_unreachable_url_may_heal_and_fails_fast() -> None:
    uri = f"http://127.0.0.1:{free_port()}/housing.csv"

    started = time.monotonic()
    error = refused(uri)

    assert isinstance(error, StorageUnavailableError) and error.retryable
    assert "ConnectError" in str(error)
    assert time.monotonic() - started < 10


def test_a_missing_bucket_and_a_missing_key_are_named(s3: S3Connection, s3_prefix: str) -> None:
    bucket = refused("s3://no-such-bucket/housing.csv", s3)
    key = refused(f"{s3_prefix}missing.parquet", s3)

    assert isinstance(bucket, StorageNotFoundError) and "no bucket 'no-such-bucket'" in str(bucket)
    assert isinstance(key, StorageNotFoundError) and "no key" in str(key)
    assert not bucket.retryable and not key.retryable


def test_wrong_keys_are_refused_and_will_not_heal(
    s3_store: S3Store, places: Places, s3: S3Connection
) -> None:
    uri = places.put("s3", "housing.csv", b"a\n1\n")
    # (s3rver checks the key id but not the signature: a wrong secret alone would pass)
    wrong = S3Connection.from_environment({**s3_store.client_env(), "AWS_ACCESS_KEY_ID": "nobody"})

    error = refused(uri, wrong)

    assert isinstance(error, StorageAccessError) and not error.retryable
    with pytest.raises(StorageAccessError):
        fingerprint(uri, s3=wrong)


def test_an_unreachable_s3_endpoint_may_heal(s3_store: S3Store) -> None:
    env = {**s3_store.client_env(), "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{free_port()}"}
    down = S3Connection.from_environment(env, connect_timeout_s=1, max_attempts=1)

    error = refused("s3://housing/any.csv", down)

    assert isinstance(error, StorageUnavailableError) and error.retryable


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.csv", b"", "empty file"),
        ("empty.parquet", b"", "not a Parquet file"),
        ("garbage.parquet", b"PAR1 this is not a parquet file at all", "not a Parquet file"),
        ("binary.csv", bytes(range(128, 256)) * 10, "not a readable CSV"),
        ("plain.csv.gz", b"a,b\n1,2\n", "not a readable CSV"),
    ],
)
@pytest.mark.parametrize("kind", ["path", "s3"])
def test_content_that_is_not_its_format_is_a_content_error(
    kind: str, name: str, content: bytes, problem: str, places: Places, s3: S3Connection
) -> None:
    uri = places.put(kind, name, content)

    error = refused(uri, s3)

    assert isinstance(error, StorageContentError) and not error.retryable
    assert problem in str(error)


@pytest.mark.parametrize("name", ["t.csv", "t.parquet"])
def test_a_column_the_table_lacks_is_named(name: str, places: Places) -> None:
    import pandas as pd

    frame = pd.DataFrame({"a": [1.0]})
    content = frame.to_csv(index=False).encode() if name.endswith("csv") else frame.to_parquet()
    uri = places.put("path", name, content or b"")

    with pytest.raises(StorageContentError, match="'median_income'"):
        next(read_chunks(uri, 10, columns=["median_income"]))


def test_an_unknown_extension_fails_at_the_call_before_any_io(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"unknown format of 'housing\.xlsx'"):
        read_chunks(str(tmp_path / "housing.xlsx"), 100)


def test_read_bytes_refuses_a_file_bigger_than_its_bound(places: Places) -> None:
    uri = places.put("path", "big.json", b"x" * 2_000)

    with pytest.raises(StorageContentError, match="larger than 1000 bytes"):
        read_bytes(uri, max_bytes=1_000)
    with pytest.raises(StorageNotFoundError):
        content_hash(uri + ".missing")
