"""Outputs are checked before any work, then appear whole at commit or not at all: a failed run
leaves no file, no manifest and no parts, and the previous output stays intact and readable."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from deployments.services import S3Store
from housing_core.storage import (
    LocationError,
    S3Connection,
    StorageContentError,
    StorageError,
    StorageNotWritableError,
    StorageUnavailableError,
    Written,
    list_outputs,
    open_output,
    read_bytes,
    read_chunks,
    read_manifest,
)
from tests.core.storage.conftest import BUCKET, s3_keys, sha256
from tests.servers import free_port

DESTINATIONS = [
    ("file", "out.csv"),
    ("file", "out.csv.gz"),
    ("file", "out.parquet"),
    ("file", "out/"),
    ("s3", "out.csv"),
    ("s3", "out.parquet"),
    ("s3", "out/"),
]


class BoomError(RuntimeError):
    pass


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    """Where S3 objects are staged: checked empty after every kind of ending."""
    folder = tmp_path / "staging"
    folder.mkdir()
    return folder


def destination(where: str, name: str, tmp_path: Path, s3_prefix: str) -> str:
    return f"{tmp_path}/dest/{name}" if where == "file" else f"{s3_prefix}{name}"


def everything_under(where: str, tmp_path: Path, s3: S3Connection, s3_prefix: str) -> list[str]:
    """Every file or key the destination's folder holds now, relative to it."""
    if where == "s3":
        start = len(s3_prefix.removeprefix(f"s3://{BUCKET}/"))
        return [key[start:] for key in s3_keys(s3, s3_prefix)]
    root = tmp_path / "dest"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def read_all(uri: str, s3: S3Connection) -> pd.DataFrame:
    return pd.concat(read_chunks(uri, 4_000, s3=s3))


def write_in_chunks(
    uri: str, run_id: str, frame: pd.DataFrame, s3: S3Connection | None, staging: Path | None
) -> Written | None:
    with open_output(uri, run_id, s3=s3, staging_dir=staging) as out:
        for start in range(0, len(frame), 5_000):
            out.write(frame.iloc[start : start + 5_000])
    return out.written


@pytest.mark.parametrize(("where", "name"), DESTINATIONS)
def test_a_successful_run_writes_exactly_its_rows(
    where: str,
    name: str,
    tmp_path: Path,
    s3: S3Connection,
    s3_prefix: str,
    staging: Path,
    housing: pd.DataFrame,
) -> None:
    uri = destination(where, name, tmp_path, s3_prefix)

    written = write_in_chunks(uri, "run-1", housing, s3, staging)

    assert written is not None and written.rows == len(housing)
    pd.testing.assert_frame_equal(read_all(uri, s3), housing)
    if where == "s3" and not name.endswith("/"):
        key = uri.removeprefix(f"s3://{BUCKET}/")
        assert s3.client.head_object(Bucket=BUCKET, Key=key)["Metadata"] == {"run-id": "run-1"}
    # and nothing else is left: no temporary, no probe, no staged copy
    held = everything_under(where, tmp_path, s3, s3_prefix)
    if name.endswith("/"):
        assert written.manifest is not None
        assert held == ["out/_manifest.json"] + [f"out/{p.path}" for p in written.manifest.parts]
    else:
        assert held == [name]
    assert not list(staging.iterdir())


@pytest.mark.parametrize(("where", "name"), DESTINATIONS)
def test_a_run_that_fails_midway_leaves_nothing_and_the_previous_output_intact(
    where: str,
    name: str,
    tmp_path: Path,
    s3: S3Connection,
    s3_prefix: str,
    staging: Path,
    housing: pd.DataFrame,
) -> None:
    # given an output a previous run committed
    uri = destination(where, name, tmp_path, s3_prefix)
    previous = housing.iloc[:3_000].reset_index(drop=True)
    write_in_chunks(uri, "run-1", previous, s3, staging)
    before = everything_under(where, tmp_path, s3, s3_prefix)

    # when the next run raises after writing some chunks
    with pytest.raises(BoomError), open_output(uri, "run-2", s3=s3, staging_dir=staging) as out:
        out.write(housing.iloc[:5_000])
        out.write(housing.iloc[5_000:10_000])
        raise BoomError

    # then the destination holds exactly what it held (no temporary, no part, no manifest)
    assert everything_under(where, tmp_path, s3, s3_prefix) == before
    assert not list(staging.iterdir())
    pd.testing.assert_frame_equal(read_all(uri, s3), previous)
    if name.endswith("/"):
        assert read_manifest(uri, s3=s3).run_id == "run-1"
        assert list_outputs(uri, s3=s3) == ("run-1",)


@pytest.mark.parametrize(("where", "name"), [("file", "out/"), ("s3", "out/")])
def test_a_failed_first_run_leaves_no_manifest_and_no_parts(
    where: str, name: str, tmp_path: Path, s3: S3Connection, s3_prefix: str, housing: pd.DataFrame
) -> None:
    uri = destination(where, name, tmp_path, s3_prefix)

    with pytest.raises(BoomError), open_output(uri, "run-1", s3=s3) as out:
        out.write(housing.iloc[:100])
        raise BoomError

    assert everything_under(where, tmp_path, s3, s3_prefix) == []
    with pytest.raises(StorageError, match="no committed output here"):
        read_manifest(uri, s3=s3)


@pytest.mark.parametrize(("where", "name"), [("file", "out.parquet"), ("s3", "out/")])
def test_readers_see_the_old_output_until_the_commit(
    where: str, name: str, tmp_path: Path, s3: S3Connection, s3_prefix: str, housing: pd.DataFrame
) -> None:
    uri = destination(where, name, tmp_path, s3_prefix)
    old, new = housing.iloc[:100], housing.iloc[100:350].reset_index(drop=True)
    write_in_chunks(uri, "run-1", old, s3, tmp_path)

    with open_output(uri, "run-2", s3=s3) as out:
        out.write(new)
        during = read_all(uri, s3)

    pd.testing.assert_frame_equal(during, old)
    pd.testing.assert_frame_equal(read_all(uri, s3), new)


def test_the_manifest_lists_each_part_with_its_rows_and_hash(
    s3: S3Connection, s3_prefix: str, housing: pd.DataFrame
) -> None:
    # given a folder output written in four chunks on S3
    uri = f"{s3_prefix}scored/"
    written = write_in_chunks(uri, "run-7", housing.iloc[:18_000], s3, None)

    # when its manifest is read
    manifest = read_manifest(uri, s3=s3)

    # then it names the run, its columns, and each part in order with its rows and SHA-256
    assert written is not None and written.manifest == manifest
    assert manifest.run_id == "run-7" and manifest.rows == 18_000
    assert manifest.columns == tuple(housing.columns)
    assert [p.rows for p in manifest.parts] == [5_000, 5_000, 5_000, 3_000]
    assert manifest.parts[0].path == "_runs/run-7/part-00000.parquet"
    for part in manifest.parts:
        content = read_bytes(f"{uri}{part.path}", s3=s3)
        assert (len(content), sha256(content)) == (part.size, part.sha256)
    assert json.loads(read_bytes(f"{uri}_manifest.json", s3=s3))["rows"] == 18_000


def test_superseded_runs_stay_listed_for_a_clean_up_job(
    tmp_path: Path, housing: pd.DataFrame
) -> None:
    uri = f"{tmp_path}/out/"
    for run in ("run-1", "run-2"):
        write_in_chunks(uri, run, housing.iloc[:10], None, tmp_path)

    assert list_outputs(uri) == ("run-1", "run-2")
    assert read_manifest(uri).run_id == "run-2"


def test_the_committed_run_cannot_be_written_again_under_its_id(
    tmp_path: Path, housing: pd.DataFrame
) -> None:
    uri = f"{tmp_path}/out/"
    write_in_chunks(uri, "run-1", housing.iloc[:10], None, tmp_path)

    with pytest.raises(StorageNotWritableError, match="new run id"):
        open_output(uri, "run-1")


def check_fails_before_any_work(uri: str, s3: S3Connection | None = None) -> StorageError:
    worked = False
    with pytest.raises(StorageError) as caught, open_output(uri, "run-1", s3=s3):
        worked = True
    assert not worked
    assert uri in str(caught.value)
    return caught.value


def test_a_path_under_a_regular_file_is_refused_at_open(tmp_path: Path) -> None:
    blocker = tmp_path / "a-regular-file"
    blocker.write_text("not a folder")

    for name in ("out.csv", "deeper/out.parquet", "out/"):
        error = check_fails_before_any_work(f"{blocker}/{name}", None)
        assert isinstance(error, StorageNotWritableError) and not error.retryable
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-regular-file"]


def test_a_missing_folder_is_created_and_a_missing_bucket_refused(
    tmp_path: Path, s3: S3Connection
) -> None:
    with open_output(f"{tmp_path}/new/deep/out.csv", "run-1") as out:
        out.write(pd.DataFrame({"a": [1]}))

    for uri in ("s3://no-such-bucket/out.csv", "s3://no-such-bucket/out/"):
        error = check_fails_before_any_work(uri, s3)
        assert isinstance(error, StorageNotWritableError) and "no bucket" in str(error)
    assert (tmp_path / "new/deep/out.csv").read_text() == "a\n1\n"


def test_refused_keys_and_an_unreachable_store_are_told_apart(s3_store: S3Store) -> None:
    wrong = S3Connection.from_environment({**s3_store.client_env(), "AWS_ACCESS_KEY_ID": "x"})
    down_env = {**s3_store.client_env(), "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{free_port()}"}
    down = S3Connection.from_environment(down_env, connect_timeout_s=1, max_attempts=1)

    refused = check_fails_before_any_work(f"s3://{BUCKET}/out.csv", wrong)
    unreachable = check_fails_before_any_work(f"s3://{BUCKET}/out.csv", down)

    assert isinstance(refused, StorageNotWritableError) and not refused.retryable
    assert isinstance(unreachable, StorageUnavailableError) and unreachable.retryable


def test_an_http_destination_is_read_only() -> None:
    with pytest.raises(LocationError, match="read only"):
        open_output("http://127.0.0.1:1/out.csv", "run-1")


def test_a_chunk_with_other_columns_aborts_the_output(tmp_path: Path) -> None:
    uri = f"{tmp_path}/out.parquet"

    with (
        pytest.raises(StorageContentError, match="chunk 1 has columns"),
        open_output(uri, "run-1") as out,
    ):
        out.write(pd.DataFrame({"a": [1.0]}))
        out.write(pd.DataFrame({"b": [2.0]}))

    assert list(tmp_path.iterdir()) == []


def test_an_empty_frame_makes_an_empty_output_and_no_frame_makes_none(tmp_path: Path) -> None:
    with open_output(f"{tmp_path}/empty.csv", "run-1") as out:
        out.write(pd.DataFrame({"a": pd.Series([], dtype="float64")}))

    with (
        pytest.raises(StorageError, match="nothing was written"),
        open_output(f"{tmp_path}/none.csv", "run-1"),
    ):
        pass

    (chunk,) = list(read_chunks(f"{tmp_path}/empty.csv", 10))
    assert list(chunk.columns) == ["a"] and chunk.empty
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.csv"]


def test_a_run_id_must_be_safe_in_a_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="run id"):
        open_output(f"{tmp_path}/out/", "../escape")
