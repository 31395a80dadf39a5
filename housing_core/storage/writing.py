"""Writing a table atomically: checked before any work, committed whole, or not at all.

`open_output` checks the destination can be written (and fails naming it) before the caller
computes anything; `write` appends a chunk; the block's end commits, or aborts if the block
raised. Where the bytes go until commit depends on the destination:

- a file (`out.csv`, `out.csv.gz`, `out.parquet`) on a file system: a temporary file beside
  it, renamed over it at commit;
- an object (`s3://b/out.csv`): a local staging file, uploaded whole at commit;
- a folder (`.../out/`, file system or S3): Parquet parts under `_runs/<run_id>/`, and the
  manifest that lists them written last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

import pandas as pd

from .errors import LocationError, StorageError
from .files import LocalFile, S3File
from .folders import LocalFolder, Parts, S3Folder
from .locations import Location, Scheme
from .manifests import Manifest
from .opening import connection
from .s3 import S3Connection

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class Target(Protocol):
    """Where one output's bytes go until commit."""

    def check_writable(self) -> None: ...
    def start(self) -> None: ...
    def write(self, frame: pd.DataFrame) -> None: ...
    def commit(self) -> Manifest | None: ...
    def abort(self) -> None: ...


@dataclass(frozen=True)
class Written:
    """A committed output: what a task returns and a lineage record names."""

    uri: str
    run_id: str
    rows: int
    manifest: Manifest | None  # for a folder output


class Output:
    """One run's output, open for chunks until it is committed or aborted."""

    def __init__(self, location: Location, run_id: str, target: Target) -> None:
        self.location = location
        self.run_id = run_id
        self.rows = 0
        self.chunks = 0
        self.written: Written | None = None
        self._target = target
        self._open = True

    def check_writable(self) -> None:
        """Raise StorageNotWritableError if the destination cannot take this output."""
        self._target.check_writable()

    def write(self, frame: pd.DataFrame) -> None:
        """Append a chunk; every chunk has the first one's columns."""
        self._ensure_open()
        self._target.write(frame)
        self.rows += len(frame)
        self.chunks += 1

    def commit(self) -> Written:
        """Make the output visible whole; an output needs one chunk at least (maybe empty)."""
        self._ensure_open()
        if self.chunks == 0:
            self.abort()
            raise StorageError(
                self.location.uri, "nothing was written: write an empty frame for no rows"
            )
        try:
            manifest = self._target.commit()
        except BaseException:
            self.abort()
            raise
        self._open = False
        self.written = Written(self.location.uri, self.run_id, self.rows, manifest)
        return self.written

    def abort(self) -> None:
        """Discard what this run wrote; the previous output, if any, stays as it was."""
        if self._open:
            self._open = False
            self._target.abort()

    def __enter__(self) -> Output:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()

    def _ensure_open(self) -> None:
        if not self._open:
            raise StorageError(self.location.uri, f"output of run {self.run_id!r} is closed")


def open_output(
    uri: str,
    run_id: str,
    *,
    s3: S3Connection | None = None,
    staging_dir: Path | None = None,
) -> Output:
    """An output at `uri` for run `run_id`, checked writable before it is returned.

    `run_id` names the run's parts and temporary files (letters, digits, `.`, `_`, `-`).
    `staging_dir` holds an S3 object's bytes until commit (default: the system's temp folder).
    """
    if not _RUN_ID.fullmatch(run_id):
        raise ValueError(f"run id {run_id!r}: use letters, digits, '.', '_' or '-' (128 at most)")
    location = Location.parse(uri)
    output = Output(location, run_id, _target(location, run_id, s3, staging_dir))
    output.check_writable()
    output._target.start()
    return output


def _target(
    location: Location, run_id: str, s3: S3Connection | None, staging_dir: Path | None
) -> Target:
    if location.scheme is Scheme.HTTP:
        raise LocationError(location.uri, "an http location is read only")
    if location.scheme is Scheme.FILE:
        if location.is_folder:
            return Parts(location, run_id, LocalFolder(location))
        return LocalFile(location, run_id)
    store = connection(s3)
    if location.is_folder:
        return Parts(location, run_id, S3Folder(location, store))
    return S3File(location, run_id, store, staging_dir)
