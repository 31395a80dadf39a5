"""A fingerprint changes when the content changes and only then; a content hash is the SHA-256."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from deployments.services import S3Store
from housing_core.storage import (
    S3Connection,
    content_hash,
    fingerprint,
    open_output,
    read_bytes,
    read_chunks,
)
from tests.core.storage.conftest import Places, sha256


@pytest.mark.parametrize("kind", ["path", "file_uri", "http", "http_plain", "s3"])
def test_the_fingerprint_follows_the_content(kind: str, places: Places, s3: S3Connection) -> None:
    # given a file at this kind of place
    uri = places.put(kind, "housing.csv", b"a,b\n1,2\n")

    # when it is fingerprinted twice, then rewritten with new content
    first, again = fingerprint(uri, s3=s3), fingerprint(uri, s3=s3)
    if kind.startswith("http"):  # the test server's ETag is size and mtime: make both move
        path = places.http.root / uri.removeprefix(f"{places.http.url}/")
        path.write_bytes(b"a,b\n1,2\n3,4\n")
        os.utime(path, ns=(1, 1))
    else:
        places.put(kind, "housing.csv", b"a,b\n1,2\n3,4\n")
    changed = fingerprint(uri, s3=s3)

    # then it stays equal while nothing changes, and changes with the content
    assert first == again
    assert changed != first


def test_each_store_gives_its_own_cheap_token(places: Places, s3: S3Connection) -> None:
    content = b"a,b\n1,2\n"

    local = fingerprint(places.put("path", "x.csv", content))
    http = fingerprint(places.put("http", "x.csv", content))
    plain = fingerprint(places.put("http_plain", "x.csv", content))
    s3_token = fingerprint(places.put("s3", "x.csv", content), s3=s3)

    assert local == sha256(content)  # a local file is hashed
    assert http.startswith('"') and http.endswith(f"|{len(content)}")  # ETag and length
    assert plain == sha256(content)  # no ETag, no Last-Modified: the content tells
    etag, size, modified = s3_token.split("|")
    assert etag.strip('"') and size == str(len(content)) and modified.startswith("20")


@pytest.mark.parametrize("kind", ["path", "http", "s3"])
def test_the_content_hash_is_the_sha256_of_the_bytes(
    kind: str, places: Places, s3: S3Connection, housing_files: dict[str, bytes]
) -> None:
    content = housing_files["csv.gz"]
    uri = places.put(kind, "housing.csv.gz", content)

    assert content_hash(uri, s3=s3) == sha256(content)
    assert read_bytes(uri, s3=s3) == content  # bytes as stored, never decompressed


def test_a_folder_output_is_identified_by_its_manifest(tmp_path: Path) -> None:
    uri = f"{tmp_path}/out/"
    frame = pd.DataFrame({"a": [1, 2, 3]})
    with open_output(uri, "run-1") as out:
        out.write(frame)
    manifest = read_bytes(f"{tmp_path}/out/_manifest.json")

    first, hashed = fingerprint(uri), content_hash(uri)
    with open_output(uri, "run-2") as out:
        out.write(frame)

    assert first == hashed == sha256(manifest)
    assert fingerprint(uri) != first  # same rows, new run: a new manifest


def test_s3_settings_come_from_the_standard_variables(
    s3_store: S3Store, places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given only the variables a worker gets (the endpoint in AWS_ENDPOINT_URL_S3)
    for name, value in s3_store.client_env().items():
        monkeypatch.setenv(name, value)
    uri = places.put("s3", "x.parquet", pd.DataFrame({"a": [1, 2]}).to_parquet() or b"")

    # when no connection is passed, then boto3 (metadata) and pyarrow (reads) both find it
    assert fingerprint(uri).count("|") == 2
    assert next(read_chunks(uri, 10))["a"].tolist() == [1, 2]
