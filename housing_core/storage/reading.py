"""Reading a table in chunks of rows, from any location, in memory bounded by the chunk.

CSV goes through pandas' chunked reader over a stream (a file, an http body as it arrives, an
S3 object's input stream); Parquet through pyarrow, batch by batch across row groups; a folder
output through its manifest, part after part. Every chunk but the last has exactly
`chunk_rows` rows, and the index counts rows from the start of the table, so concatenating
the chunks gives what reading the whole table at once would.
"""

from __future__ import annotations

import contextlib
import gzip
import zlib
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import LocationError, StorageContentError, StorageError
from .locations import Format, Location
from .manifests import read_manifest
from .opening import open_random_access, open_stream
from .s3 import S3Connection

if TYPE_CHECKING:
    from pandas._typing import Dtype

_CSV_ERRORS = (
    pd.errors.ParserError,
    UnicodeDecodeError,
    ValueError,  # usecols naming a missing column, a dtype the values do not fit
    gzip.BadGzipFile,
    EOFError,  # a truncated .csv.gz
    zlib.error,
)


def read_chunks(
    uri: str,
    chunk_rows: int,
    columns: Sequence[str] | None = None,
    dtype: Mapping[str, Dtype] | None = None,
    *,
    timeout_s: float = 30.0,
    s3: S3Connection | None = None,
) -> Iterator[pd.DataFrame]:
    """The table at `uri`, `chunk_rows` rows at a time, with `columns` in that order.

    Without `dtype`, each CSV chunk's types are inferred from that chunk, as pandas does: pin
    the types of columns that may be empty in some chunks. The location is parsed now (a bad
    URI fails at the call); the source is opened on the first chunk and closed when the
    iteration ends or is abandoned.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, not {chunk_rows}")
    location = Location.parse(uri)
    frames = _frames(location, chunk_rows, columns, dtype, timeout_s, s3)
    return _rechunked(frames, chunk_rows)


def read_bytes(
    uri: str,
    timeout_s: float = 30.0,
    *,
    max_bytes: int = 64 * 1024 * 1024,
    s3: S3Connection | None = None,
) -> bytes:
    """The whole content of a small file (any extension); refuses more than `max_bytes`."""
    location = Location.parse(uri, strict=False)
    if location.is_folder:
        raise LocationError(location.uri, "a folder output has no single content: read_chunks")
    with open_stream(location, timeout_s, s3) as stream:
        content = stream.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise StorageContentError(location.uri, f"larger than {max_bytes} bytes: read_chunks")
    return content


def _frames(
    location: Location,
    chunk_rows: int,
    columns: Sequence[str] | None,
    dtype: Mapping[str, Dtype] | None,
    timeout_s: float,
    s3: S3Connection | None,
) -> Generator[pd.DataFrame]:
    if location.format is Format.FOLDER:
        manifest = read_manifest(location, timeout_s=timeout_s, s3=s3)
        for part in manifest.parts:
            child = location.child(part.path)
            read = 0
            for frame in _frames(child, chunk_rows, columns, dtype, timeout_s, s3):
                read += len(frame)
                yield frame
            if read != part.rows:
                raise StorageContentError(
                    child.uri, f"has {read} rows, the manifest says {part.rows}"
                )
    elif location.format is Format.PARQUET:
        with open_random_access(location, timeout_s, s3) as source:
            yield from _parquet_frames(location, source, chunk_rows, columns, dtype)
    elif location.format in (Format.CSV, Format.CSV_GZ):
        with open_stream(location, timeout_s, s3) as stream:
            yield from _csv_frames(location, stream, chunk_rows, columns, dtype)
    else:
        raise LocationError(location.uri, f"cannot read {location.format} as a table")


def _csv_frames(
    location: Location,
    stream: Any,
    chunk_rows: int,
    columns: Sequence[str] | None,
    dtype: Mapping[str, Dtype] | None,
) -> Iterator[pd.DataFrame]:
    compression: Literal["gzip"] | None = "gzip" if location.format is Format.CSV_GZ else None
    try:
        with pd.read_csv(
            stream,
            chunksize=chunk_rows,
            usecols=list(columns) if columns is not None else None,
            dtype=dict(dtype) if dtype is not None else None,
            compression=compression,
        ) as reader:
            for frame in reader:
                yield frame[list(columns)] if columns is not None else frame
    except StorageError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise StorageContentError(location.uri, "empty file: no header, no rows") from exc
    except _CSV_ERRORS as exc:
        raise StorageContentError(location.uri, f"not a readable CSV: {exc}") from exc


def _parquet_frames(
    location: Location,
    source: Any,
    chunk_rows: int,
    columns: Sequence[str] | None,
    dtype: Mapping[str, Dtype] | None,
) -> Iterator[pd.DataFrame]:
    try:
        parquet = pq.ParquetFile(source)
    except (pa.ArrowInvalid, OSError) as exc:
        raise StorageContentError(location.uri, f"not a Parquet file: {exc}") from exc
    names = parquet.schema_arrow.names
    missing = [name for name in columns or () if name not in names]
    if missing:
        raise StorageContentError(location.uri, f"no column(s) {missing} (it has {names})")
    wanted = list(columns) if columns is not None else None
    if parquet.metadata.num_rows == 0:  # no batch to carry the columns: an empty frame does
        yield _typed(parquet.schema_arrow.empty_table().select(wanted or names), dtype)
        return
    try:
        for batch in parquet.iter_batches(batch_size=chunk_rows, columns=wanted):
            yield _typed(batch, dtype)
    except (pa.ArrowInvalid, OSError) as exc:
        raise StorageContentError(location.uri, f"unreadable Parquet data: {exc}") from exc


def _typed(data: Any, dtype: Mapping[str, Dtype] | None) -> pd.DataFrame:
    frame: pd.DataFrame = data.to_pandas()
    return frame.astype(dict(dtype)) if dtype else frame


def _rechunked(frames: Generator[pd.DataFrame], rows: int) -> Iterator[pd.DataFrame]:
    """Exactly `rows` rows a chunk (the last may be shorter), indexed from the table's start.

    A table with no rows yields one empty frame, so the caller still learns its columns.
    Abandoning the iteration closes the source at once (an http connection, an S3 stream).
    """
    pending: list[pd.DataFrame] = []
    held = start = 0
    empty: pd.DataFrame | None = None
    with contextlib.closing(frames):
        for frame in frames:
            if empty is None:
                empty = frame.iloc[:0]
            while len(frame):
                piece, frame = frame.iloc[: rows - held], frame.iloc[rows - held :]
                pending.append(piece)
                held += len(piece)
                if held == rows:
                    yield _joined(pending, start)
                    start, pending, held = start + rows, [], 0
    if held:
        yield _joined(pending, start)
    elif start == 0 and empty is not None:
        yield empty.reset_index(drop=True)


def _joined(pieces: list[pd.DataFrame], start: int) -> pd.DataFrame:
    frame = pieces[0] if len(pieces) == 1 else pd.concat(pieces, ignore_index=True)
    frame = frame.reset_index(drop=True)
    frame.index = pd.RangeIndex(start, start + len(frame))
    return frame
