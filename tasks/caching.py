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

from housing_core.versioning import MODEL_CODE, code_version


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
class CodeVersion(CachePolicy):
    """Keys on the code a step's result depends on: TASK_SOURCE sees only the task's own body.

    Scoped on purpose: a step keyed on all of housing_core would re-run (and the training
    register a new version) for an edit to a report's wording.
    """

    parts: tuple[str, ...] = ()

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any] | None,
        flow_parameters: dict[str, Any] | None,
        **kwargs: Any,
    ) -> str | None:
        return code_version(*self.parts)


def step_cache(*code: str) -> CachePolicy:
    """Inputs' content, the task's source, and the named housing_core code (see versioning).

    TASK_SOURCE keeps two tasks called with equal arguments from sharing one entry.
    """
    return StableInputs() + TASK_SOURCE + CodeVersion(parts=code)


LOAD_CACHE = step_cache("data/source.py")
VALIDATE_CACHE = step_cache("data/contract.py", "data/validation.py")
SPLIT_CACHE = step_cache("data/contract.py", "data/split.py")
TRAIN_CACHE = step_cache(*MODEL_CODE)
EVALUATE_CACHE = step_cache(*MODEL_CODE, "evaluation")
