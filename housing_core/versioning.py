"""What a model version was made from: the code's version, a training's key, and its lineage.

A code version hashes only the source that can change a step's result. The model's code
version covers what changes a model (the model wing, the data contract and the split): report
wording, log lines or MLflow plumbing leave it alone, so editing them neither invalidates the
training cache nor registers a new version. A process hashes each part once.

The lineage is the handful of tags every training run and registered version carries. Training
writes them (housing_core.training); promotion, serving and scoring read them.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

PACKAGE_DIR = Path(__file__).resolve().parent
MODEL_CODE = ("model", "data/contract.py", "data/split.py")

TRAINING_KEY_TAG = "housing.training_key"
DATA_VERSION_TAG = "housing.data_version"
CODE_VERSION_TAG = "housing.code_version"
FLOW_RUN_TAG = "prefect.flow_run_id"


def code_version(*parts: str) -> str:
    """SHA-256 over the named modules and wings of housing_core (paths under the package)."""
    if not parts:
        raise ValueError("name the modules or wings whose code the version covers")
    if len(parts) == 1:
        return _part_version(parts[0])
    return hashlib.sha256("".join(_part_version(p) for p in parts).encode()).hexdigest()


@functools.cache
def _part_version(part: str) -> str:
    """One module's or wing's hash, read once per process."""
    target = PACKAGE_DIR / part
    if not target.exists():
        raise FileNotFoundError(f"housing_core has no {part!r}")
    digest = hashlib.sha256()
    files = [target] if target.is_file() else sorted(target.rglob("*.py"))
    for path in files:
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def model_code_version() -> str:
    """The code version of a trained model: what its lineage and training key record."""
    return code_version(*MODEL_CODE)


def training_key(data_version: str, code: str, config: Mapping[str, Any]) -> str:
    """Identity of a training: same data, same code, same configuration -> same model."""
    payload = json.dumps(
        {"data": data_version, "code": code, "config": config}, sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class Lineage:
    """The data, code and configuration of a training, and the flow run that made it."""

    training_key: str
    data_version: str
    code_version: str
    flow_run_id: str = ""

    def tags(self) -> dict[str, str]:
        return {
            TRAINING_KEY_TAG: self.training_key,
            DATA_VERSION_TAG: self.data_version,
            CODE_VERSION_TAG: self.code_version,
            FLOW_RUN_TAG: self.flow_run_id,
        }

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> Lineage:
        """What a run or version records ('' for what an older one did not)."""
        return cls(
            tags.get(TRAINING_KEY_TAG, ""),
            tags.get(DATA_VERSION_TAG, ""),
            tags.get(CODE_VERSION_TAG, ""),
            tags.get(FLOW_RUN_TAG, ""),
        )


def frame_version(frame: pd.DataFrame) -> str:
    """Content hash of a frame: values, index, column names and dtypes."""
    digest = hashlib.sha256()
    digest.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()
