"""What can go wrong reading or writing a location, as one family of exceptions.

Every error names the URI and the cause. `retryable` tells a caller (a Prefect task's retry
condition) whether trying again may help: a network failure may heal, a missing key, a refused
credential or a file that is not a CSV will not.
"""

from __future__ import annotations

from typing import ClassVar


class StorageError(RuntimeError):
    """A location could not be read or written; the message names the URI and the cause."""

    retryable: ClassVar[bool] = False

    def __init__(self, uri: str, problem: str) -> None:
        super().__init__(f"{uri}: {problem}")
        self.uri = uri
        self.problem = problem

    def __reduce__(self) -> tuple[type[StorageError], tuple[str, str]]:
        # pickled by its own arguments: it crosses processes (a Dask worker's failure)
        return type(self), (self.uri, self.problem)


class StorageUnavailableError(StorageError):
    """The store did not answer (refused connection, timeout, 5xx, throttling): may heal."""

    retryable = True


class StorageNotFoundError(StorageError):
    """No such file, URL, bucket or key."""


class StorageAccessError(StorageError):
    """The store refused the credentials or the permission (401/403, unknown key)."""


class StorageNotWritableError(StorageError):
    """A destination failed its check before any work: no parent folder, no bucket, no right."""


class StorageContentError(StorageError):
    """The bytes are there but are not what the format says: empty, not a CSV, not Parquet."""


class LocationError(StorageError, ValueError):
    """A URI this module cannot parse: unknown scheme, unknown format, missing bucket or key."""
