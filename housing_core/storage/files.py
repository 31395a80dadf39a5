"""Single-file destinations (`out.csv`, `out.csv.gz`, `out.parquet`), written atomically.

On a file system the chunks go to a temporary file beside the destination, and commit renames
it over the destination (`os.replace`, atomic on POSIX): readers see the old file or the new
one, never a part. On S3 the chunks are staged in a local temporary file and uploaded at
commit (a multipart upload for large files), so the object appears whole or not at all, and
an abort leaves nothing on the server: no part, no unfinished upload to clean up (s3rver, for
one, cannot abort an upload).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path
from typing import IO

import boto3.exceptions
import botocore.exceptions as boto_errors
import pandas as pd

from .encoding import FileEncoder
from .errors import StorageNotFoundError, StorageNotWritableError
from .locations import Location
from .manifests import Manifest
from .opening import translated
from .s3 import S3Connection, s3_error


class LocalFile:
    """A destination file on a file system, replaced whole at commit."""

    def __init__(self, location: Location, run_id: str) -> None:
        self._location = location
        self._path = location.local_path
        self._run_id = run_id
        self._temporary: Path | None = None
        self._file: IO[bytes] | None = None
        self._encoder: FileEncoder | None = None

    def check_writable(self) -> None:
        if self._path.is_dir():
            raise StorageNotWritableError(
                self._location.uri, "is a folder (a folder ends with '/')"
            )
        probe_folder(self._location, self._path.parent)

    def start(self) -> None:
        name = f".{self._path.name}.{self._run_id}.{secrets.token_hex(4)}.tmp"
        self._temporary = self._path.parent / name
        with translated(self._location, "could not create the temporary file"):
            descriptor = os.open(self._temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        self._file = os.fdopen(descriptor, "wb")
        self._encoder = FileEncoder(self._location.uri, self._location.format, self._file)

    def write(self, frame: pd.DataFrame) -> None:
        assert self._encoder is not None, "start() first"
        with translated(self._location, "writing"):
            self._encoder.write(frame)

    def commit(self) -> Manifest | None:
        assert self._encoder is not None and self._file is not None and self._temporary
        with translated(self._location, "committing"):
            self._encoder.finish()
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._temporary.replace(self._path)
            sync_folder(self._path.parent)
        return None

    def abort(self) -> None:
        if self._encoder is not None:
            self._encoder.discard()
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        if self._temporary is not None:
            self._temporary.unlink(missing_ok=True)


class S3File:
    """A destination object on S3, staged locally and uploaded whole at commit."""

    def __init__(
        self, location: Location, run_id: str, s3: S3Connection, staging_dir: Path | None
    ) -> None:
        self._location = location
        self._run_id = run_id
        self._s3 = s3
        self._staging_dir = staging_dir
        self._file: IO[bytes] | None = None
        self._encoder: FileEncoder | None = None

    def check_writable(self) -> None:
        probe_bucket(self._location, self._s3, f"{self._location.path}._runs/{self._run_id}/")

    def start(self) -> None:
        staged = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed by commit or abort)
            prefix="housing-output-",
            suffix=f".{self._location.format}",
            dir=self._staging_dir,
            delete=False,
        )
        self._file = staged
        self._encoder = FileEncoder(self._location.uri, self._location.format, staged)

    def write(self, frame: pd.DataFrame) -> None:
        assert self._encoder is not None, "start() first"
        with translated(self._location, "staging"):
            self._encoder.write(frame)

    def commit(self) -> Manifest | None:
        assert self._encoder is not None and self._file is not None
        self._encoder.finish()
        self._file.close()
        try:
            self._s3.client.upload_file(
                self._file.name,
                self._location.bucket,
                self._location.path,
                ExtraArgs={"Metadata": {"run-id": self._run_id}},
            )
        except boto3.exceptions.S3UploadFailedError as exc:  # raised inside `except ClientError`
            cause = exc.__context__ if isinstance(exc.__context__, Exception) else exc
            raise s3_error(self._location.uri, "upload", cause) from exc
        except (boto_errors.BotoCoreError, boto_errors.ClientError) as exc:
            raise s3_error(self._location.uri, "upload", exc) from exc
        finally:
            Path(self._file.name).unlink(missing_ok=True)
        return None

    def abort(self) -> None:
        if self._encoder is not None:
            self._encoder.discard()
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            Path(self._file.name).unlink(missing_ok=True)


def probe_folder(location: Location, folder: Path) -> None:
    """The folder exists (created if need be) and takes a new file; if not, nothing is left."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(prefix=".probe-", dir=folder)
        os.close(descriptor)
        Path(probe).unlink()
    except OSError as exc:
        for created in sorted(missing, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                created.rmdir()
        raise StorageNotWritableError(
            location.uri, f"cannot create a file in {folder}: {type(exc).__name__}: {exc}"
        ) from exc


def probe_bucket(location: Location, s3: S3Connection, run_prefix: str) -> None:
    """The bucket exists and a probe object can be put and deleted under the run prefix."""
    probe = f"{run_prefix}_probe"
    put = False
    try:
        s3.client.head_bucket(Bucket=location.bucket)
        s3.client.put_object(Bucket=location.bucket, Key=probe, Body=b"")
        put = True
        s3.client.delete_object(Bucket=location.bucket, Key=probe)
    except (boto_errors.BotoCoreError, boto_errors.ClientError) as exc:
        if put:
            with contextlib.suppress(boto_errors.BotoCoreError, boto_errors.ClientError):
                s3.client.delete_object(Bucket=location.bucket, Key=probe)
        error = s3_error(location.uri, "write check", exc)
        if error.retryable:
            raise error from exc
        missing = isinstance(error, StorageNotFoundError)
        problem = f"no bucket {location.bucket!r}" if missing else error.problem
        raise StorageNotWritableError(
            location.uri, f"cannot write to s3://{location.bucket}/{run_prefix}: {problem}"
        ) from exc


def sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (best effort: not every file system allows it)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
