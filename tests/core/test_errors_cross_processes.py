"""Every error of the project survives a pickle round trip with its type, message and fields:
a Dask worker's failure reaches the flow as the same error, naming the same problem, not as a
TypeError raised while unpickling it (nor as a message spelled out one letter per line)."""

from __future__ import annotations

import pickle

import pytest

from housing_core.data.validation import DataValidationError
from housing_core.settings.loading import SettingsError
from housing_core.storage.errors import (
    LocationError,
    StorageAccessError,
    StorageContentError,
    StorageError,
    StorageNotFoundError,
    StorageNotWritableError,
    StorageUnavailableError,
)
from housing_core.sweep.space import SpaceError
from housing_core.tracking.connection import ArtifactStoreError

CASES = [
    (DataValidationError(["'population': 3 rows outside [1, 100000]"], "in.csv"), "problems"),
    (DataValidationError(["no rows"]), "problems"),
    (SettingsError(["scoring.chunk_rows: must be > 0 (env)"]), "problems"),
    (SpaceError("space.yaml", ["max_depth: low 9 > high 3"]), "problems"),
    (StorageError("s3://b/k", "boom"), "problem"),
    (StorageUnavailableError("s3://b/k", "connection refused"), "problem"),
    (StorageNotFoundError("/x.csv", "no such file"), "problem"),
    (StorageAccessError("s3://b/k", "403 Forbidden"), "problem"),
    (StorageNotWritableError("/ro/out.parquet", "read-only folder"), "problem"),
    (StorageContentError("in.csv", "empty file"), "problem"),
    (LocationError("ftp://x", "unknown scheme 'ftp'"), "problem"),
    (ArtifactStoreError("the artifact store of MLflow at http://m did not take run r"), "args"),
]


@pytest.mark.parametrize(("error", "field"), CASES, ids=[type(e).__name__ for e, _ in CASES])
def test_an_error_pickled_across_processes_is_the_same_error(error: Exception, field: str) -> None:
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert str(again) == str(error)
    assert getattr(again, field) == getattr(error, field)
    assert getattr(again, "retryable", None) == getattr(error, "retryable", None)
