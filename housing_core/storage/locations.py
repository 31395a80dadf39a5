"""Where a table is: a local path, a file:// URI, an http(s) URL or s3://bucket/key, and its format.

The format comes from the name: `.csv`, `.csv.gz` or `.parquet` for one file; a name ending
with `/` is a folder output of this module (Parquet parts listed by a manifest). Parsing fails
early, naming the URI and what is wrong, so a typo in a setting is caught before any work.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .errors import LocationError


class Scheme(StrEnum):
    FILE = "file"
    HTTP = "http"  # http and https; read only
    S3 = "s3"


class Format(StrEnum):
    CSV = "csv"
    CSV_GZ = "csv.gz"
    PARQUET = "parquet"
    FOLDER = "folder"  # Parquet parts under a run prefix, listed by a manifest
    OTHER = "other"  # any other file: bytes, hashes and fingerprints only


_SUFFIXES = ((".csv.gz", Format.CSV_GZ), (".csv", Format.CSV), (".parquet", Format.PARQUET))


@dataclass(frozen=True)
class Location:
    """A parsed source or destination.

    `path` is the absolute local path for a file, the whole URL for http(s), the object key
    (or key prefix ending with `/` for a folder) for S3.
    """

    uri: str
    scheme: Scheme
    format: Format
    path: str
    bucket: str = ""

    @classmethod
    def parse(cls, uri: str, *, strict: bool = True) -> Location:
        """Parse `uri`; `strict` refuses a file name that is not a table format."""
        text = uri.strip()
        if not text:
            raise LocationError(repr(uri), "empty location")
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme == "":
            path = str(Path(text).expanduser().resolve())
            return cls(text, Scheme.FILE, format_of(text, text, strict), path)
        if scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise LocationError(text, f"file URI on another host {parts.netloc!r}")
            path = unquote(parts.path)
            return cls(text, Scheme.FILE, format_of(text, path, strict), str(Path(path).resolve()))
        if scheme in ("http", "https"):
            if not parts.netloc:
                raise LocationError(text, "URL without a host")
            url = parts._replace(fragment="").geturl()
            return cls(text, Scheme.HTTP, format_of(text, unquote(parts.path), strict), url)
        if scheme == "s3":
            key = parts.path.lstrip("/")
            if not parts.netloc:
                raise LocationError(text, "S3 URI without a bucket (expected s3://bucket/key)")
            if not key and not text.endswith("/"):
                raise LocationError(text, "S3 URI without a key (a folder ends with '/')")
            return cls(text, Scheme.S3, format_of(text, key or "/", strict), key, parts.netloc)
        raise LocationError(
            text, f"unknown scheme {parts.scheme!r} (expected a path, file://, http(s):// or s3://)"
        )

    @property
    def is_folder(self) -> bool:
        return self.format is Format.FOLDER

    @property
    def local_path(self) -> Path:
        if self.scheme is not Scheme.FILE:
            raise LocationError(self.uri, "not a local path")
        return Path(self.path)

    @property
    def name(self) -> str:
        """The last segment of the path, for naming temporary files beside it."""
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def child(self, relative: str) -> Location:
        """A file inside this folder, e.g. its manifest or one of its parts."""
        if not self.is_folder:
            raise LocationError(self.uri, "not a folder (a folder ends with '/')")
        if self.scheme is Scheme.FILE:
            return Location.parse(str(Path(self.path) / relative), strict=False)
        if self.scheme is Scheme.HTTP:
            return Location.parse(self.path + relative, strict=False)
        return Location.parse(f"s3://{self.bucket}/{self.path}{relative}", strict=False)


def format_of(uri: str, path: str, strict: bool = True) -> Format:
    """The format a name says: by its extension, or a folder when it ends with `/`."""
    if path.endswith("/"):
        return Format.FOLDER
    name = path.rsplit("/", 1)[-1].lower()
    for suffix, found in _SUFFIXES:
        if name.endswith(suffix):
            return found
    if not strict:
        return Format.OTHER
    raise LocationError(
        uri,
        f"unknown format of {name!r}: expected .csv, .csv.gz, .parquet, "
        "or a folder output ending with '/'",
    )
