"""Versions that key caches and identify trainings: the code's and a training's own.

A code version hashes only the source that can change a step's result. The model's code
version covers what changes a model (the model wing, the data contract and the split): report
wording, log lines or MLflow plumbing leave it alone, so editing them neither invalidates the
training cache nor registers a new version.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent
MODEL_CODE = ("model", "data/contract.py", "data/split.py")


def code_version(*parts: str) -> str:
    """SHA-256 over the named modules and wings of housing_core (paths under the package)."""
    if not parts:
        raise ValueError("name the modules or wings whose code the version covers")
    digest = hashlib.sha256()
    for part in parts:
        target = PACKAGE_DIR / part
        if not target.exists():
            raise FileNotFoundError(f"housing_core has no {part!r}")
        files = [target] if target.is_file() else sorted(target.rglob("*.py"))
        for path in files:
            digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def model_code_version() -> str:
    """The code version of a trained model: what its lineage tag and training key record."""
    return code_version(*MODEL_CODE)


def training_key(data_version: str, code: str, config: dict[str, Any]) -> str:
    """Identity of a training: same data, same code, same configuration -> same model."""
    payload = json.dumps(
        {"data": data_version, "code": code, "config": config}, sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()
