"""Versions that key caches and identify trainings: the code's and a training's own."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

_PACKAGE_DIR = Path(__file__).resolve().parent


def code_version() -> str:
    """SHA-256 over housing_core's source files: any edit in the domain code changes it.

    Task caches key on it, because Prefect's TASK_SOURCE sees only a task's own body.
    """
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(_PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def training_key(data_version: str, code: str, config: dict[str, Any]) -> str:
    """Identity of a training: same data, same code, same configuration -> same model."""
    payload = json.dumps(
        {"data": data_version, "code": code, "config": config}, sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()
