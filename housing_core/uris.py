"""Addresses: one rule for telling a web address from a path, and one portable form of a path."""

from __future__ import annotations

from pathlib import Path

HTTP_SCHEMES = ("http://", "https://")
URI_SCHEMES = (*HTTP_SCHEMES, "s3://", "gs://", "file://")


def is_http(uri: str) -> bool:
    """An http(s) address: a web UI links to it, a client downloads from it."""
    return uri.startswith(HTTP_SCHEMES)


def as_uri(location: str) -> str:
    """Where something is, resolvable anywhere: a URI as it is, a path as a file:// URI."""
    if location.startswith(URI_SCHEMES):
        return location
    return Path(location).expanduser().resolve().as_uri()
