"""The cache policy every cached step uses, and why each part of it is there.

Prefect's INPUTS policy hashes arguments with JSON, else cloudpickle. A DataFrame read from
the cache pickles to other bytes than the one it was saved from (block layout), and a fitted
model's pickle is neither small nor stable, so the key would miss on every re-run. Here each
argument is reduced to a stable token first: its `cache_token` if it carries one, a hash of
a frame's values, a pydantic model's JSON, or the value itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

import pandas as pd
from prefect.cache_policies import TASK_SOURCE, CachePolicy
from prefect.context import TaskRunContext
from prefect.utilities.hashing import hash_objects
from pydantic import BaseModel

from housing_core.versioning import code_version


def frame_token(frame: pd.DataFrame) -> str:
    """Content hash of a frame: values, index, column names and dtypes."""
    digest = hashlib.sha256()
    digest.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def input_token(value: Any) -> Any:
    token = getattr(value, "cache_token", None)
    if isinstance(token, str):
        return token
    if isinstance(value, pd.DataFrame):
        return frame_token(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: input_token(getattr(value, f.name)) for f in fields(value)}
    return value


@dataclass
class StableInputs(CachePolicy):
    """Like INPUTS, but keyed on stable content tokens of the arguments."""

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any] | None,
        flow_parameters: dict[str, Any] | None,
        **kwargs: Any,
    ) -> str | None:
        tokens = {name: input_token(value) for name, value in sorted((inputs or {}).items())}
        return hash_objects(tokens, raise_on_failure=True)


@dataclass
class HousingCodeVersion(CachePolicy):
    """Keys on a hash of housing_core: TASK_SOURCE alone misses edits in the code a task calls."""

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any] | None,
        flow_parameters: dict[str, Any] | None,
        **kwargs: Any,
    ) -> str | None:
        return code_version()


# TASK_SOURCE keeps two tasks called with equal arguments from sharing one entry.
STEP_CACHE = StableInputs() + TASK_SOURCE + HousingCodeVersion()
