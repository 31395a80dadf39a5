"""Opening one file location for reading, streamed, with every failure as a `StorageError`.

Sequential streams serve CSV and hashes: a local file, an http response read as it arrives,
an S3 object through pyarrow's input stream. Parquet needs random access: a local file and an
S3 object (ranged reads) are opened in place; an http body is spooled to a temporary file on
disk first, so memory stays bounded by the chunk either way.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

import botocore.exceptions as boto_errors
import httpx
import pyarrow as pa

from .errors import (
    StorageAccessError,
    StorageError,
    StorageNotFoundError,
    StorageUnavailableError,
)
from .locations import Location, Scheme
from .s3 import S3Connection, arrow_error, s3_error

_COPY_BUFFER = 1024 * 1024


@contextmanager
def translated(location: Location, action: str) -> Iterator[None]:
    """Within the block, a client library's failure becomes the storage error it means."""
    try:
        yield
    except StorageError:
        raise
    except httpx.HTTPStatusError as exc:
        raise http_status_error(location.uri, exc.response.status_code, action) from exc
    except httpx.HTTPError as exc:
        raise StorageUnavailableError(
            location.uri, f"{action}: {type(exc).__name__}: {exc}"
        ) from exc
    except (boto_errors.BotoCoreError, boto_errors.ClientError) as exc:
        raise s3_error(location.uri, action, exc) from exc
    except IsADirectoryError as exc:
        raise StorageNotFoundError(
            location.uri, f"{action}: is a folder (a folder output ends with '/')"
        ) from exc
    except FileNotFoundError as exc:
        what = "no such object" if location.scheme is Scheme.S3 else "no such file"
        raise StorageNotFoundError(location.uri, f"{action}: {what}") from exc
    except PermissionError as exc:
        raise StorageAccessError(location.uri, f"{action}: {exc}") from exc
    except OSError as exc:  # pyarrow's IO errors are OSError, with the AWS error in the text
        if location.scheme is Scheme.S3:
            raise arrow_error(location.uri, action, exc) from exc
        raise StorageError(location.uri, f"{action}: {exc}") from exc


def http_status_error(uri: str, status: int, action: str) -> StorageError:
    detail = f"{action}: HTTP {status}"
    if status in (404, 410):
        return StorageNotFoundError(uri, detail)
    if status in (401, 403):
        return StorageAccessError(uri, detail)
    if status in (408, 425, 429) or status >= 500:
        return StorageUnavailableError(uri, detail)
    return StorageError(uri, detail)


def http_client(timeout_s: float) -> httpx.Client:
    return httpx.Client(timeout=timeout_s, follow_redirects=True)


def connection(s3: S3Connection | None) -> S3Connection:
    """The connection passed in, else one read from the process environment now."""
    return s3 if s3 is not None else S3Connection.from_environment()


def head_object(location: Location, s3: S3Connection) -> dict[str, Any]:
    """The object's metadata; a 404 says whether the bucket or the key is missing."""
    try:
        head: dict[str, Any] = s3.client.head_object(Bucket=location.bucket, Key=location.path)
    except (boto_errors.BotoCoreError, boto_errors.ClientError) as exc:
        error = s3_error(location.uri, "could not read the object's metadata", exc)
        if isinstance(error, StorageNotFoundError):
            error = _missing(location, s3)
        raise error from exc
    return head


def _missing(location: Location, s3: S3Connection) -> StorageNotFoundError:
    try:
        s3.client.head_bucket(Bucket=location.bucket)
    except (boto_errors.BotoCoreError, boto_errors.ClientError):
        return StorageNotFoundError(location.uri, f"no bucket {location.bucket!r}")
    return StorageNotFoundError(location.uri, f"no key {location.path!r} in {location.bucket!r}")


@contextmanager
def open_stream(
    location: Location, timeout_s: float, s3: S3Connection | None = None
) -> Iterator[BinaryIO]:
    """A binary stream of one file's bytes, read as the caller reads it."""
    action = "could not open"
    if location.scheme is Scheme.FILE:
        with translated(location, action):
            stream = location.local_path.open("rb")
        with stream:
            yield stream
    elif location.scheme is Scheme.HTTP:
        with (
            http_client(timeout_s) as client,
            translated(location, action),
            client.stream("GET", location.path) as response,
        ):
            response.raise_for_status()
            yield io.BufferedReader(_ResponseReader(location, response), _COPY_BUFFER)
    else:
        store = connection(s3)
        head_object(location, store)
        with translated(location, action):
            native = store.filesystem.open_input_stream(  # the raw bytes, never decompressed
                f"{location.bucket}/{location.path}", compression=None
            )
        with native:
            yield native


@contextmanager
def open_random_access(
    location: Location, timeout_s: float, s3: S3Connection | None = None
) -> Iterator[Any]:
    """A seekable file of one location's bytes, for Parquet's footer and row groups."""
    if location.scheme is Scheme.FILE:
        with translated(location, "could not open"):
            native = pa.OSFile(location.path, "rb")
        with native:
            yield native
    elif location.scheme is Scheme.HTTP:
        with tempfile.TemporaryFile(prefix="housing-storage-") as spool:
            with open_stream(location, timeout_s) as stream, translated(location, "download"):
                shutil.copyfileobj(stream, spool, _COPY_BUFFER)
            spool.seek(0)
            yield spool
    else:
        store = connection(s3)
        head_object(location, store)
        with translated(location, "could not open"):
            native = store.filesystem.open_input_file(f"{location.bucket}/{location.path}")
        with native:
            yield native


class _ResponseReader(io.RawIOBase):
    """An http body as a raw file, fed by the response's chunks as they arrive."""

    def __init__(self, location: Location, response: httpx.Response) -> None:
        self._location = location
        self._chunks = response.iter_bytes()  # as they arrive: no re-chunking copies
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending:
            with translated(self._location, "reading the response"):
                chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(view), len(self._pending))
        view[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
