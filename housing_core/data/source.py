"""Reading the housing CSV from a URL or a path: its bytes, their hash, and a cheap fingerprint."""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd

from housing_core.data.validation import DataValidationError
from housing_core.uris import is_http

log = logging.getLogger(__name__)


class DataSourceError(RuntimeError):
    """The source could not be read (network, missing file): may heal on retry."""


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


def read_source(
    source: str, timeout_s: float = 30.0, client: httpx.Client | None = None
) -> RawData:
    """Fetch the raw bytes: an HTTP(S) download or a local file."""
    if is_http(source):
        return RawData(source, _download(source, timeout_s, client))
    path = Path(source).expanduser()
    if not path.is_file():
        raise DataSourceError(
            f"data source {source!r} is not a file (resolved to {path.resolve()})"
        )
    return RawData(source, path.read_bytes())


def _download(url: str, timeout_s: float, client: httpx.Client | None) -> bytes:
    owned = client is None
    http = client or httpx.Client(timeout=timeout_s, follow_redirects=True)
    try:
        response = http.get(url)
        response.raise_for_status()
        return response.content
    except httpx.HTTPError as exc:
        raise DataSourceError(f"could not download {url}: {exc}") from exc
    finally:
        if owned:
            http.close()


def parse_csv(raw: RawData) -> pd.DataFrame:
    """Parse without coercion: wrong types must reach validation, not be guessed away."""
    if not raw.content.strip():
        raise DataValidationError(["the file is empty (0 bytes of data)"], raw.source)
    try:
        return pd.read_csv(io.BytesIO(raw.content))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataValidationError([f"not a readable CSV: {exc}"], raw.source) from exc


def source_fingerprint(
    source: str, timeout_s: float = 30.0, client: httpx.Client | None = None
) -> str:
    """A cheap token that changes when the source's content changes; it keys the ingest cache.

    A file is hashed (milliseconds for this data). A URL is asked for its ETag or Last-Modified
    with a HEAD request; a server that sends neither is downloaded and hashed.
    """
    if not is_http(source):
        return read_source(source).version
    owned = client is None
    http = client or httpx.Client(timeout=timeout_s, follow_redirects=True)
    try:
        response = http.head(source)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise DataSourceError(f"could not reach {source}: {exc}") from exc
    finally:
        if owned:
            http.close()
    validator = response.headers.get("etag") or response.headers.get("last-modified")
    if validator:
        return f"{validator}|{response.headers.get('content-length', '')}"
    return read_source(source, timeout_s, client).version


def load(source: str, timeout_s: float = 30.0) -> Ingested:
    """Read and parse a source: its rows as they are, for validation to judge."""
    raw = read_source(source, timeout_s)
    frame = parse_csv(raw)
    log.info("ingested %d rows from %s (data version %s)", len(frame), source, raw.version[:12])
    return Ingested(frame, raw.version, source)
