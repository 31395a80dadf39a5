"""Reading the housing data from a path, a URL or an object store, as CSV or Parquet: its rows,
their content hash (the data version) and a cheap fingerprint, through the storage gateway.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd

from housing_core import storage
from housing_core.data.validation import DataValidationError

log = logging.getLogger(__name__)
# training and promotion read the whole table: up to this many bytes as one CSV
MAX_CSV_BYTES = 4 * 1024**3


class DataSourceError(RuntimeError):
    """The source could not be read; `retryable` says whether trying again may help (a
    network failure may heal, a missing file or a refused credential will not)."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Ingested:
    """The parsed rows of a source, its data version (content hash) and where it came from."""

    frame: pd.DataFrame
    version: str
    source: str

    @property
    def cache_token(self) -> str:
        return self.version


@dataclass(frozen=True)
class RawData:
    """The bytes of a source and their SHA-256: the data version."""

    source: str
    content: bytes

    @property
    def version(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def read_source(source: str, timeout_s: float = 30.0) -> RawData:
    """The raw bytes of a CSV source: a path, an http(s) URL or an s3:// object."""
    with readable(source):
        return RawData(source, storage.read_bytes(source, timeout_s, max_bytes=MAX_CSV_BYTES))


def parse_csv(raw: RawData) -> pd.DataFrame:
    """Parse without coercion: wrong types must reach validation, not be guessed away."""
    if not raw.content.strip():
        raise DataValidationError(["the file is empty (0 bytes of data)"], raw.source)
    try:
        return pd.read_csv(io.BytesIO(raw.content))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataValidationError([f"not a readable CSV: {exc}"], raw.source) from exc


def load(source: str, timeout_s: float = 30.0) -> Ingested:
    """Read and parse a source whole: its rows as they are, for validation to judge."""
    if is_parquet(source):
        with readable(source):
            frame = pd.concat(list(storage.read_chunks(source, 1_000_000, timeout_s=timeout_s)))
            version = storage.content_hash(source, timeout_s)
    else:
        raw = read_source(source, timeout_s)
        frame, version = parse_csv(raw), raw.version
    log.info("ingested %d rows from %s (data version %s)", len(frame), source, version[:12])
    return Ingested(frame.reset_index(drop=True), version, source)


def read_chunks(source: str, chunk_rows: int, timeout_s: float = 30.0) -> Iterator[pd.DataFrame]:
    """A source in chunks of rows, in memory bounded by the chunk (batch scoring)."""
    with readable(source):
        yield from storage.read_chunks(source, chunk_rows, timeout_s=timeout_s)


def source_fingerprint(source: str, timeout_s: float = 30.0) -> str:
    """A cheap token that changes when the source's content changes; it keys the ingest cache.

    A file is hashed (milliseconds for this data). A URL is asked for its ETag or
    Last-Modified; an object store gives its ETag, size and time.
    """
    with readable(source):
        return storage.fingerprint(source, timeout_s)


def content_version(source: str, timeout_s: float = 30.0) -> str:
    """The SHA-256 of a source's bytes, read as they stream: its data version."""
    with readable(source):
        return storage.content_hash(source, timeout_s)


def is_parquet(source: str) -> bool:
    return storage.Location.parse(source, strict=False).format is storage.Format.PARQUET


@contextmanager
def readable(source: str) -> Iterator[None]:
    """Storage errors as the data wing's: the source, and whether a retry may help; content
    that is not a table as a validation error (it will not heal)."""
    try:
        yield
    except storage.StorageContentError as exc:
        raise DataValidationError([exc.problem], source) from exc
    except storage.StorageError as exc:
        problem = f"data source {source!r}: {exc.problem}"
        raise DataSourceError(problem, retryable=exc.retryable) from exc
