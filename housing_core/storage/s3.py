"""One S3 endpoint and its keys, seen by both clients this wing uses, and S3 errors translated.

boto3 does the object calls (HEAD for fingerprints, PUT, DELETE, LIST, uploads); pyarrow's
S3FileSystem streams reads (sequential for CSV, ranged for Parquet row groups). Both are built
here from one reading of the standard variables: the endpoint from `AWS_ENDPOINT_URL_S3`, else
`AWS_ENDPOINT_URL` (boto3 honours them itself, pyarrow needs `endpoint_override`), keys and
region from boto3's usual chain, so they cannot disagree.

Writes go through boto3 only: pyarrow's AWS SDK frames uploads as aws-chunked with trailing
checksums, which some S3-compatible servers (s3rver) store verbatim inside the object. For the
same reason boto3 computes checksums only when an operation requires them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions as boto_errors
from botocore.config import Config
from pyarrow import fs as pafs

from .errors import (
    StorageAccessError,
    StorageError,
    StorageNotFoundError,
    StorageUnavailableError,
)

_NOT_FOUND = {"404", "NoSuchKey", "NoSuchBucket", "NotFound", "NoSuchUpload"}
_DENIED = {
    "401",
    "403",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "AllAccessDisabled",
}
_TRANSIENT = {"RequestTimeout", "SlowDown", "Throttling", "ThrottlingException", "InternalError"}


def endpoint_from_environment(environ: Mapping[str, str]) -> str | None:
    """The S3 endpoint in force: the S3-specific variable first, as boto3 reads them."""
    return environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL") or None


@dataclass(frozen=True)
class S3Connection:
    """A boto3 client and a pyarrow file system on the same endpoint with the same keys."""

    endpoint: str | None
    client: Any  # botocore's S3 client: generated at run time, untyped
    filesystem: pafs.S3FileSystem

    @classmethod
    def from_environment(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 60.0,
        max_attempts: int = 3,
    ) -> S3Connection:
        """Read the endpoint, keys and region once (from `environ`, default the process's)."""
        env = os.environ if environ is None else environ
        endpoint = endpoint_from_environment(env)
        session = boto3.session.Session(
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=env.get("AWS_SESSION_TOKEN"),
            region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
        )
        region = session.region_name or "us-east-1"
        config = Config(
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            # a custom endpoint (s3rver, MinIO) serves buckets as paths, not host names
            s3={"addressing_style": "path"} if endpoint else None,
        )
        client = session.client("s3", endpoint_url=endpoint, region_name=region, config=config)
        credentials = session.get_credentials()
        frozen = credentials.get_frozen_credentials() if credentials is not None else None
        filesystem = pafs.S3FileSystem(
            access_key=frozen.access_key if frozen else None,
            secret_key=frozen.secret_key if frozen else None,
            session_token=frozen.token if frozen else None,
            region=region,
            endpoint_override=endpoint,
            connect_timeout=connect_timeout_s,
            request_timeout=read_timeout_s,
            retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=max_attempts),
        )
        return cls(endpoint, client, filesystem)


def s3_error(uri: str, action: str, exc: Exception) -> StorageError:
    """A boto3 failure as the storage error it means, naming the URI and the server's words."""
    if isinstance(exc, boto_errors.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        detail = f"{action}: {code} {error.get('Message', '')}".strip()
        if code in _NOT_FOUND:
            return StorageNotFoundError(uri, detail)
        if code in _DENIED:
            return StorageAccessError(uri, f"{detail} (check the S3 keys and their rights)")
        if code in _TRANSIENT or status >= 500 or status == 429:
            return StorageUnavailableError(uri, detail)
        return StorageError(uri, detail)
    if isinstance(exc, boto_errors.NoCredentialsError | boto_errors.PartialCredentialsError):
        return StorageAccessError(uri, f"{action}: no S3 credentials ({exc})")
    if isinstance(exc, boto_errors.BotoCoreError):  # connection refused, timeouts, broken reads
        return StorageUnavailableError(uri, f"{action}: {type(exc).__name__}: {exc}")
    return StorageError(uri, f"{action}: {type(exc).__name__}: {exc}")


def arrow_error(uri: str, action: str, exc: OSError) -> StorageError:
    """A pyarrow S3 failure (its messages carry the AWS error name) as a storage error."""
    text = str(exc)
    if isinstance(exc, FileNotFoundError) or "NO_SUCH" in text or "RESOURCE_NOT_FOUND" in text:
        return StorageNotFoundError(uri, f"{action}: {text}")
    if "ACCESS_DENIED" in text or "INVALID_ACCESS_KEY" in text or "SIGNATURE" in text:
        return StorageAccessError(uri, f"{action}: {text}")
    return StorageUnavailableError(uri, f"{action}: {text}")
