"""The storage tests' real stores: s3rver on loopback, a local http server, temporary folders.

s3rver is the stack's own object store (`deployments.services.s3rver`), started once for the
session; each test works under its own key prefix. The http server serves a temporary folder
with ETags (from size and modification time), except under `/plain/`, where it sends no
validator at all, as some servers do.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from housing_core.storage import S3Connection
from tests.conftest import BUCKET


@pytest.fixture
def s3_prefix(s3: S3Connection) -> str:
    """A fresh `s3://housing/<id>/` for one test."""
    return f"s3://{BUCKET}/{uuid.uuid4().hex[:12]}/"


def s3_keys(s3: S3Connection, uri_prefix: str) -> list[str]:
    """Every key under an s3:// prefix, sorted."""
    prefix = uri_prefix.removeprefix(f"s3://{BUCKET}/")
    pages = s3.client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


class _Handler(SimpleHTTPRequestHandler):
    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "last-modified" and self.path.startswith("/plain/"):
            return
        super().send_header(keyword, value)

    def end_headers(self) -> None:
        path = Path(self.translate_path(self.path))
        if path.is_file() and not self.path.startswith("/plain/"):
            stat = path.stat()
            self.send_header("ETag", f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"')
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


@dataclass(frozen=True)
class HttpFolder:
    """A folder the test http server publishes at `url`."""

    root: Path
    url: str


@pytest.fixture(scope="session")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpFolder]:
    root = tmp_path_factory.mktemp("http-root")
    (root / "plain").mkdir()

    def handler(*args: Any) -> _Handler:
        return _Handler(*args, directory=str(root))

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield HttpFolder(root, f"http://127.0.0.1:{server.server_address[1]}")
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@dataclass(frozen=True)
class Places:
    """Puts bytes where a kind of location points, and says the URI to read them at."""

    folder: Path
    http: HttpFolder
    s3: S3Connection
    s3_prefix: str
    token: str

    def put(self, kind: str, name: str, content: bytes) -> str:
        if kind in ("path", "file_uri"):
            path = self.folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            return str(path) if kind == "path" else path.as_uri()
        if kind in ("http", "http_plain"):
            relative = f"{'plain/' if kind == 'http_plain' else ''}{self.token}/{name}"
            path = self.http.root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            return f"{self.http.url}/{relative}"
        if kind == "s3":
            key = f"{self.s3_prefix.removeprefix(f's3://{BUCKET}/')}{name}"
            self.s3.client.put_object(Bucket=BUCKET, Key=key, Body=content)
            return f"s3://{BUCKET}/{key}"
        raise ValueError(kind)


@pytest.fixture
def places(tmp_path: Path, http_server: HttpFolder, s3: S3Connection, s3_prefix: str) -> Places:
    return Places(tmp_path / "files", http_server, s3, s3_prefix, uuid.uuid4().hex[:12])


@pytest.fixture(scope="session")
def housing(data_source: str) -> pd.DataFrame:
    """The shared real data set, read whole by pandas: what every chunked read must equal."""
    return pd.read_csv(data_source)


@pytest.fixture(scope="session")
def housing_files(data_source: str, housing: pd.DataFrame) -> dict[str, bytes]:
    """The real data as the bytes of each readable format (Parquet in several row groups)."""
    if data_source.startswith(("http://", "https://")):
        csv = httpx.get(data_source, timeout=60, follow_redirects=True).content
    else:
        csv = Path(data_source).read_bytes()
    parquet = housing.to_parquet(index=False, row_group_size=7_000)
    assert parquet is not None
    return {"csv": csv, "csv.gz": gzip.compress(csv, mtime=0), "parquet": parquet}


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
