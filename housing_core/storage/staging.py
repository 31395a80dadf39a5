"""An output written in parts by several processes (a cluster's workers), committed by one.

`open_staging` (in the process that commits) checks the destination and returns a `Staging`,
a small picklable value the workers get. Each worker writes its parts with `put_part`, each
one Parquet file under the run's prefix, and returns the `Part` it wrote. Once every part is
written, `commit` makes the output visible in one step, and only then:

- a folder destination (`.../out/`): the parts are already where a folder output keeps them
  (`_runs/<run_id>/part-NNNNN.parquet`); commit writes `_manifest.json` listing them;
- a file destination (`out.parquet`, `out.csv`, `s3://b/out.csv`): the parts go to a hidden
  prefix beside it (`.out.parquet.<run_id>.parts/`); commit copies them, in order, into the
  file through `open_output` (a rename on a file system, one upload on S3) and deletes them.

`discard` removes the run's parts and writes nothing: the destination stays as it was.
Paths are resolved here, so workers with another current directory write to the same place;
each worker reads the S3 endpoint and keys from its own environment.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

import pandas as pd
import pyarrow as pa

from .encoding import parquet_bytes
from .errors import StorageContentError, StorageError
from .folders import FolderStore, LocalFolder, Parts, S3Folder
from .locations import Location, Scheme
from .manifests import RUNS_FOLDER, Manifest, Part
from .opening import connection
from .reading import read_chunks
from .writing import Written, open_output

log = logging.getLogger(__name__)
COPY_ROWS = 200_000


@dataclass(frozen=True)
class Staging:
    """Where one run's parts go until commit; picklable, so workers can be handed it."""

    destination: Location
    folder: Location  # the folder holding the parts' prefix
    prefix: str  # relative to `folder`, ends with '/'
    run_id: str

    def put_part(self, index: int, frame: pd.DataFrame, schema: Any = None) -> Part:
        """Write part `index` (Arrow `schema` if given, so every part has the same types)."""
        try:
            table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError) as exc:
            raise StorageContentError(
                self.destination.uri, f"part {index} does not fit the output's types: {exc}"
            ) from exc
        content = parquet_bytes(table)
        relative = f"{self.prefix}part-{index:05d}.parquet"
        _store(self.folder).put(relative, content)
        return Part(relative, len(frame), len(content), hashlib.sha256(content).hexdigest())

    def commit(self, parts: Sequence[Part], columns: Sequence[str]) -> Written:
        """Make the output visible whole: every part must be written; on failure, discard."""
        ordered = sorted(parts, key=lambda part: part.path)
        try:
            if self.destination.is_folder:
                manifest = Manifest(
                    run_id=self.run_id,
                    columns=tuple(columns),
                    parts=tuple(ordered),
                    created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                )
                _store(self.folder).publish(manifest.to_json())
                return Written(self.destination.uri, self.run_id, manifest.rows, manifest)
            written = self._copy_into_file(ordered, columns)
        except BaseException:
            self.discard()
            raise
        self.discard()  # the file holds the rows now; the parts were only a way there
        return written

    def discard(self) -> None:
        """Remove whatever this run's parts are (best effort: a failure is logged)."""
        try:
            _store(self.folder).remove(self.prefix)
        except StorageError as exc:
            log.warning("could not delete the parts of run %s: %s", self.run_id, exc)

    def _copy_into_file(self, parts: Sequence[Part], columns: Sequence[str]) -> Written:
        with open_output(self.destination.uri, self.run_id) as output:
            for part in parts:
                for chunk in read_chunks(_part_uri(self.folder, part.path), COPY_ROWS):
                    output.write(chunk.reset_index(drop=True))
            if not parts:
                output.write(pd.DataFrame(columns=list(columns)))
        assert output.written is not None
        return output.written


def schema_of(frame: pd.DataFrame) -> Any:
    """The Arrow schema a frame like this one is written with (pass it to `put_part`)."""
    return pa.Schema.from_pandas(frame, preserve_index=False)


def open_staging(uri: str, run_id: str) -> Staging:
    """A staging for run `run_id`'s parts of the output at `uri`, checked writable first
    (and cleared of what an earlier, killed attempt of this run left)."""
    open_output(uri, f"{run_id}-probe").abort()  # the destination's own checks, nothing left
    destination = Location.parse(uri)
    if destination.is_folder:
        folder, prefix = destination, f"{RUNS_FOLDER}/{run_id}/"
        Parts(destination, run_id, _store(destination)).check_writable()
    else:
        folder = _parent_folder(destination)
        name = PurePosixPath(destination.path).name
        prefix = f".{name}.{run_id}.parts/"
    staging = Staging(destination, folder, prefix, run_id)
    _store(folder).remove(prefix)
    return staging


def _parent_folder(location: Location) -> Location:
    if location.scheme is Scheme.FILE:
        return Location.parse(f"{PurePosixPath(location.path).parent}/")
    parent = str(PurePosixPath(location.path).parent)
    key = "" if parent == "." else f"{parent}/"
    return Location.parse(f"s3://{location.bucket}/{key}")


def _part_uri(folder: Location, relative: str) -> str:
    if folder.scheme is Scheme.FILE:
        return f"{folder.path.rstrip('/')}/{relative}"
    return f"s3://{folder.bucket}/{folder.path}{relative}"


def _store(folder: Location) -> FolderStore:
    if folder.scheme is Scheme.FILE:
        return LocalFolder(folder)
    return S3Folder(folder, connection(None))
