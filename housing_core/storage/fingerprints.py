"""What a location's content is: a cheap change token, and the SHA-256 of its bytes.

`fingerprint` keys caches: it must change when the content changes and be cheap to get, so it
asks the store for what it already knows (an http ETag or Last-Modified, an S3 ETag) and hashes
only a local file or a server that knows nothing. `content_hash` is the data version: the
SHA-256 of the bytes, read as a stream. A folder output's content is its manifest, which names
every part by its hash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import BinaryIO

import pyarrow.parquet as pq

from .locations import Format, Location, Scheme
from .manifests import read_manifest_bytes
from .opening import (
    connection,
    head_object,
    http_client,
    open_random_access,
    open_stream,
    translated,
)
from .s3 import S3Connection

_BLOCK = 1024 * 1024


def fingerprint(uri: str, timeout_s: float = 30.0, *, s3: S3Connection | None = None) -> str:
    """A token that changes when the content does (local files: their SHA-256)."""
    location = Location.parse(uri, strict=False)
    if location.is_folder:
        return hashlib.sha256(read_manifest_bytes(location, timeout_s, s3)).hexdigest()
    if location.scheme is Scheme.S3:
        head = head_object(location, connection(s3))
        modified = head["LastModified"].isoformat()
        return f"{head['ETag']}|{head['ContentLength']}|{modified}"
    if location.scheme is Scheme.HTTP:
        validator = _http_validator(location, timeout_s)
        if validator is not None:
            return validator
    return content_hash(uri, timeout_s, s3=s3)


def content_hash(uri: str, timeout_s: float = 30.0, *, s3: S3Connection | None = None) -> str:
    """The SHA-256 of the bytes (hex), computed as they stream; of the manifest for a folder."""
    location = Location.parse(uri, strict=False)
    if location.is_folder:
        return hashlib.sha256(read_manifest_bytes(location, timeout_s, s3)).hexdigest()
    with open_stream(location, timeout_s, s3) as stream, translated(location, "reading"):
        return sha256_of(stream)


@dataclass(frozen=True)
class Survey:
    """A table's content hash and how many rows it holds (for CSV, counted as lines less the
    header: a quoted field that spans lines counts twice, which is fine for a progress bar;
    0 for a compressed CSV, whose lines are not counted)."""

    sha256: str
    rows: int


def survey(uri: str, timeout_s: float = 30.0, *, s3: S3Connection | None = None) -> Survey:
    """Hash a table and count its rows in one read of its bytes (Parquet: its footer says)."""
    location = Location.parse(uri)
    if location.is_folder:
        manifest = read_manifest_bytes(location, timeout_s, s3)
        rows = sum(int(part["rows"]) for part in json.loads(manifest)["parts"])
        return Survey(hashlib.sha256(manifest).hexdigest(), rows)
    if location.format is Format.PARQUET:
        with open_random_access(location, timeout_s, s3) as native, translated(location, "read"):
            rows = int(pq.ParquetFile(native).metadata.num_rows)
        return Survey(content_hash(uri, timeout_s, s3=s3), rows)
    if location.format is Format.CSV_GZ:  # the lines are inside the compressed bytes
        return Survey(content_hash(uri, timeout_s, s3=s3), 0)
    digest, lines = hashlib.sha256(), 0
    with open_stream(location, timeout_s, s3) as stream, translated(location, "reading"):
        while block := stream.read(_BLOCK):
            digest.update(block)
            lines += block.count(b"\n")
    return Survey(digest.hexdigest(), max(0, lines - 1))


def sha256_of(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    while block := stream.read(_BLOCK):
        digest.update(block)
    return digest.hexdigest()


def _http_validator(location: Location, timeout_s: float) -> str | None:
    """ETag (else Last-Modified) and length from a HEAD; None when the server gives neither."""
    with http_client(timeout_s) as client, translated(location, "could not reach"):
        response = client.head(location.path)
        if response.status_code in (405, 501):  # no HEAD here: the content will tell
            return None
        response.raise_for_status()
    validator = response.headers.get("etag") or response.headers.get("last-modified")
    if not validator:
        return None
    return f"{validator}|{response.headers.get('content-length', '')}"
