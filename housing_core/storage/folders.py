"""Folder destinations (`.../out/` on a file system or S3): Parquet parts and a manifest last.

Each `write` becomes one part, `_runs/<run_id>/part-NNNNN.parquet`, hashed as it is written.
Commit writes `_manifest.json` (one PUT on S3, a rename on a file system), which is the moment
the output changes for readers; abort deletes the run's parts and writes no manifest. Parts
of earlier runs are left in place: a reader may still be reading them through the previous
manifest (`list_outputs` names them for a clean-up job).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import shutil
from datetime import UTC, datetime
from typing import Protocol

import botocore.exceptions as boto_errors
import pandas as pd

from .encoding import TableShape, parquet_bytes
from .errors import StorageContentError, StorageError, StorageNotWritableError
from .files import probe_bucket, probe_folder, sync_folder
from .locations import Location
from .manifests import MANIFEST_NAME, RUNS_FOLDER, Manifest, Part
from .opening import translated
from .s3 import S3Connection, s3_error

log = logging.getLogger(__name__)


class FolderStore(Protocol):
    """The few operations a folder output needs from where it lives."""

    def check(self, run_prefix: str) -> None: ...
    def current_manifest(self) -> bytes | None: ...
    def put(self, relative: str, content: bytes) -> None: ...
    def publish(self, manifest: bytes) -> None: ...
    def remove(self, relative_prefix: str) -> None: ...


class Parts:
    """A folder output being written by one run."""

    def __init__(self, location: Location, run_id: str, store: FolderStore) -> None:
        self._location = location
        self._run_id = run_id
        self._store = store
        self._run_prefix = f"{RUNS_FOLDER}/{run_id}/"
        self._shape = TableShape(location.uri)
        self._parts: list[Part] = []

    def check_writable(self) -> None:
        self._store.check(self._run_prefix)
        current = self._store.current_manifest()
        with contextlib.suppress(StorageContentError):  # a broken manifest is replaced anyway
            if current and Manifest.from_json(self._location.uri, current).run_id == self._run_id:
                raise StorageNotWritableError(
                    self._location.uri,
                    f"run {self._run_id!r} is the committed output here: its parts are being "
                    "read; write again under a new run id",
                )

    def start(self) -> None:
        self._store.remove(self._run_prefix)  # what an earlier, killed attempt of this run left

    def write(self, frame: pd.DataFrame) -> None:
        content = parquet_bytes(self._shape.table(frame))
        relative = f"{self._run_prefix}part-{len(self._parts):05d}.parquet"
        self._store.put(relative, content)
        digest = hashlib.sha256(content).hexdigest()
        self._parts.append(Part(relative, len(frame), len(content), digest))

    def commit(self) -> Manifest | None:
        manifest = Manifest(
            run_id=self._run_id,
            columns=self._shape.columns or (),
            parts=tuple(self._parts),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self._store.publish(manifest.to_json())
        return manifest

    def abort(self) -> None:
        try:
            self._store.remove(self._run_prefix)
        except StorageError as exc:  # best effort: list_outputs still names the run
            log.warning("could not delete the parts of aborted run %s: %s", self._run_id, exc)


class LocalFolder:
    """A folder output on a file system."""

    def __init__(self, location: Location) -> None:
        self._location = location
        self._root = location.local_path

    def check(self, run_prefix: str) -> None:
        probe_folder(self._location, self._root)

    def current_manifest(self) -> bytes | None:
        path = self._root / MANIFEST_NAME
        with translated(self._location, "could not read the current manifest"):
            return path.read_bytes() if path.is_file() else None

    def put(self, relative: str, content: bytes) -> None:
        path = self._root / relative
        with translated(self._location, f"could not write {relative}"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)

    def publish(self, manifest: bytes) -> None:
        temporary = self._root / f".{MANIFEST_NAME}.{secrets.token_hex(4)}.tmp"
        with translated(self._location, "could not write the manifest"):
            try:
                with temporary.open("wb") as file:
                    file.write(manifest)
                    file.flush()
                    os.fsync(file.fileno())
                temporary.replace(self._root / MANIFEST_NAME)
            finally:
                temporary.unlink(missing_ok=True)
        sync_folder(self._root)

    def remove(self, relative_prefix: str) -> None:
        target = self._root / relative_prefix
        with translated(self._location, f"could not delete {relative_prefix}"):
            if target.exists():
                shutil.rmtree(target)


class S3Folder:
    """A folder output under an S3 prefix."""

    def __init__(self, location: Location, s3: S3Connection) -> None:
        self._location = location
        self._s3 = s3
        self._bucket = location.bucket
        self._prefix = location.path

    def check(self, run_prefix: str) -> None:
        probe_bucket(self._location, self._s3, f"{self._prefix}{run_prefix}")

    def current_manifest(self) -> bytes | None:
        key = f"{self._prefix}{MANIFEST_NAME}"
        try:
            content: bytes = self._s3.client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except boto_errors.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise s3_error(self._location.uri, "could not read the current manifest", exc) from exc
        except boto_errors.BotoCoreError as exc:
            raise s3_error(self._location.uri, "could not read the current manifest", exc) from exc
        return content

    def put(self, relative: str, content: bytes) -> None:
        self._put(relative, content, "application/vnd.apache.parquet")

    def publish(self, manifest: bytes) -> None:
        self._put(MANIFEST_NAME, manifest, "application/json")

    def remove(self, relative_prefix: str) -> None:
        prefix = f"{self._prefix}{relative_prefix}"
        try:
            pages = self._s3.client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=prefix
            )
            for page in pages:  # one page holds at most 1000 keys, as one DeleteObjects takes
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    self._s3.client.delete_objects(
                        Bucket=self._bucket, Delete={"Objects": keys, "Quiet": True}
                    )
        except (boto_errors.BotoCoreError, boto_errors.ClientError) as exc:
            raise s3_error(self._location.uri, f"could not delete {prefix}", exc) from exc

    def _put(self, relative: str, content: bytes, content_type: str) -> None:
        try:
            self._s3.client.put_object(
                Bucket=self._bucket,
                Key=f"{self._prefix}{relative}",
                Body=content,
                ContentType=content_type,
            )
        except (boto_errors.BotoCoreError, boto_errors.ClientError) as exc:
            raise s3_error(self._location.uri, f"could not write {relative}", exc) from exc
