"""Turning chunks into bytes: one CSV or Parquet file written chunk by chunk, or one Parquet part.

Every chunk of an output must have the first chunk's columns (and, for Parquet, types that
convert to the first chunk's schema): a table whose parts disagree cannot be read back as one.
"""

from __future__ import annotations

import contextlib
import gzip
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import StorageContentError
from .locations import Format


class TableShape:
    """The columns and Arrow schema the first chunk set; later chunks are held to them."""

    def __init__(self, uri: str) -> None:
        self._uri = uri
        self.columns: tuple[str, ...] | None = None
        self.schema: Any = None  # pa.Schema
        self.chunks = 0

    def check(self, frame: pd.DataFrame) -> None:
        columns = tuple(str(name) for name in frame.columns)
        if self.columns is None:
            self.columns = columns
        elif columns != self.columns:
            raise StorageContentError(
                self._uri,
                f"chunk {self.chunks} has columns {list(columns)}, "
                f"the first chunk had {list(self.columns)}",
            )
        self.chunks += 1

    def table(self, frame: pd.DataFrame) -> Any:
        """The chunk as an Arrow table of the output's schema (the index is not written)."""
        self.check(frame)
        try:
            table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError) as exc:
            raise StorageContentError(
                self._uri, f"chunk {self.chunks - 1} does not fit the first chunk's types: {exc}"
            ) from exc
        if self.schema is None:
            self.schema = table.schema
        return table


def parquet_bytes(table: Any) -> bytes:
    """One whole Parquet file holding `table`."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


class FileEncoder:
    """One CSV, gzipped CSV or Parquet file, written chunk by chunk into `sink`."""

    def __init__(self, uri: str, format: Format, sink: IO[bytes]) -> None:
        self._format = format
        self._shape = TableShape(uri)
        self._sink: IO[bytes] | gzip.GzipFile = (
            gzip.GzipFile(fileobj=sink, mode="wb") if format is Format.CSV_GZ else sink
        )
        self._parquet: Any = None  # pq.ParquetWriter, opened with the first chunk's schema

    @property
    def chunks(self) -> int:
        return self._shape.chunks

    def write(self, frame: pd.DataFrame) -> None:
        if self._format is Format.PARQUET:
            table = self._shape.table(frame)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self._sink, table.schema)
            self._parquet.write_table(table)
        else:
            header = self._shape.chunks == 0
            self._shape.check(frame)
            self._sink.write(frame.to_csv(index=False, header=header).encode())

    def finish(self) -> None:
        """Write what closes the format (Parquet footer, gzip trailer); `sink` stays open."""
        if self._parquet is not None:
            self._parquet.close()
        if isinstance(self._sink, gzip.GzipFile):
            self._sink.close()

    def discard(self) -> None:
        """Close the writers before the sink goes (else pyarrow writes a footer at collection)."""
        with contextlib.suppress(Exception):
            self.finish()
