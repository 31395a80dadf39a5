"""The manifest of a folder output: the one object that says which parts make the output.

A folder output (`.../out/`) keeps each run's Parquet parts under `_runs/<run_id>/` and a
`_manifest.json` beside them, written last. Readers open the manifest and then exactly the
parts it lists, so they never see a run half-written, and the previous manifest stays valid
(its parts untouched) until the next one replaces it in one PUT or one rename.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import botocore.exceptions as boto_errors

from .errors import LocationError, StorageContentError, StorageNotFoundError
from .locations import Location, Scheme
from .opening import connection, open_stream, translated
from .s3 import S3Connection, s3_error

MANIFEST_NAME = "_manifest.json"
RUNS_FOLDER = "_runs"
MANIFEST_VERSION = 1
MAX_MANIFEST_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Part:
    """One Parquet file of an output; `path` is relative to the output folder."""

    path: str
    rows: int
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """What one committed run wrote: its parts in reading order, their rows and hashes."""

    run_id: str
    columns: tuple[str, ...]
    parts: tuple[Part, ...]
    created_at: str
    format: str = "parquet"

    @property
    def rows(self) -> int:
        return sum(part.rows for part in self.parts)

    def to_json(self) -> bytes:
        body = {"manifest_version": MANIFEST_VERSION, **asdict(self), "rows": self.rows}
        return json.dumps(body, indent=2).encode()

    @classmethod
    def from_json(cls, uri: str, content: bytes) -> Manifest:
        """Parse a manifest, refusing one that is not exactly what this module writes."""
        try:
            body: dict[str, Any] = json.loads(content)
            if body.get("manifest_version") != MANIFEST_VERSION:
                raise ValueError(f"manifest_version {body.get('manifest_version')!r}")
            parts = tuple(
                Part(str(p["path"]), int(p["rows"]), int(p["size"]), str(p["sha256"]))
                for p in body["parts"]
            )
            manifest = cls(
                str(body["run_id"]),
                tuple(str(c) for c in body["columns"]),
                parts,
                str(body["created_at"]),
                str(body["format"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageContentError(uri, f"not a manifest of this module: {exc!r}") from exc
        if manifest.format != "parquet" or any(".." in part.path for part in parts):
            raise StorageContentError(uri, "manifest lists parts this module cannot read")
        return manifest


def manifest_location(folder: Location) -> Location:
    return folder.child(MANIFEST_NAME)


def read_manifest(
    uri: str | Location, *, timeout_s: float = 30.0, s3: S3Connection | None = None
) -> Manifest:
    """The committed manifest of a folder output; StorageNotFoundError if none was committed."""
    folder = uri if isinstance(uri, Location) else Location.parse(uri)
    content = read_manifest_bytes(folder, timeout_s, s3)
    return Manifest.from_json(manifest_location(folder).uri, content)


def read_manifest_bytes(folder: Location, timeout_s: float, s3: S3Connection | None) -> bytes:
    location = manifest_location(folder)
    try:
        with open_stream(location, timeout_s, s3) as stream:
            content = stream.read(MAX_MANIFEST_BYTES + 1)
    except StorageNotFoundError as exc:
        raise StorageNotFoundError(
            folder.uri, f"no committed output here ({MANIFEST_NAME} missing: {exc.problem})"
        ) from exc
    if len(content) > MAX_MANIFEST_BYTES:
        raise StorageContentError(location.uri, "larger than any manifest this module writes")
    return content


def list_outputs(uri: str, *, s3: S3Connection | None = None) -> tuple[str, ...]:
    """The run ids that have parts under a folder output, sorted.

    The committed one is `read_manifest(uri).run_id`; the others are superseded runs or runs
    whose process died before it could abort, which a clean-up job may delete.
    """
    folder = Location.parse(uri)
    if not folder.is_folder:
        raise LocationError(folder.uri, "not a folder output (a folder ends with '/')")
    if folder.scheme is Scheme.FILE:
        runs = folder.local_path / RUNS_FOLDER
        if not runs.is_dir():
            return ()
        with translated(folder, "could not list runs"):
            return tuple(sorted(p.name for p in runs.iterdir() if p.is_dir()))
    if folder.scheme is Scheme.HTTP:
        raise LocationError(folder.uri, "an http location cannot be listed")
    store = connection(s3)
    prefix = f"{folder.path}{RUNS_FOLDER}/"
    pages = store.client.get_paginator("list_objects_v2").paginate(
        Bucket=folder.bucket, Prefix=prefix, Delimiter="/"
    )
    try:
        found = [
            common["Prefix"][len(prefix) :].rstrip("/")
            for page in pages
            for common in page.get("CommonPrefixes", [])
        ]
    except (boto_errors.BotoCoreError, boto_errors.ClientError) as exc:
        raise s3_error(folder.uri, "could not list runs", exc) from exc
    return tuple(sorted(found))
