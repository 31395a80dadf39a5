"""The cache policy every cached step uses, and why each part of it is there.

Prefect's INPUTS policy hashes arguments with JSON, else cloudpickle. A DataFrame read from
the cache pickles to other bytes than the one it was saved from (block layout), and a fitted
model's pickle is neither small nor stable, so the key would miss on every re-run. Here each
argument is reduced to a stable token first: its `cache_token` if it carries one, a hash of
a frame's values, a pydantic model's JSON, or the value itself.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, ParamSpec, TypeVar

import pandas as pd
from prefect import Task
from prefect.cache_policies import TASK_SOURCE, CachePolicy
from prefect.context import TaskRunContext
from prefect.locking.protocol import LockManager
from prefect.transactions import IsolationLevel
from prefect.utilities.hashing import hash_objects
from prefect_redis.locking import RedisLockManager
from pydantic import BaseModel

from housing_core.settings import CacheSettings
from housing_core.versioning import MODEL_CODE, code_version, frame_version

P = ParamSpec("P")
R = TypeVar("R")


def input_token(value: Any) -> Any:
    token = getattr(value, "cache_token", None)
    if isinstance(token, str):
        return token
    if isinstance(value, pd.DataFrame):
        return frame_version(value)
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


# --- locks: several workers, one computation ---------------------------------------------------


def cache_locks(settings: CacheSettings) -> LockManager | None:
    """The Redis lock manager of `cache.lock_url`, or None on one machine."""
    if settings.lock_url is None:
        return None
    return BoundedRedisLocks(settings.lock_url.get_secret_value(), settings.lock_timeout_s)


class BoundedRedisLocks(RedisLockManager):  # type: ignore[misc]  # prefect-redis is untyped
    """prefect-redis's lock manager, with a time limit on every lock it hands out.

    Prefect's transactions take their lock with neither an acquire nor a hold timeout: a
    worker killed while it holds one would block every later run of that step for good. Here
    a lock expires after `limit_s`, and a waiter gives up after as long.
    """

    def __init__(self, url: str, limit_s: float) -> None:
        self.limit_s = limit_s
        super().__init__(connection_url=url)

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "limit_s": self.limit_s}

    def acquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        return bool(
            super().acquire_lock(
                key, holder, acquire_timeout or self.limit_s, hold_timeout or self.limit_s
            )
        )

    async def aacquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        return bool(
            await super().aacquire_lock(
                key, holder, acquire_timeout or self.limit_s, hold_timeout or self.limit_s
            )
        )


def isolated(step: Task[P, R], locks: LockManager | None) -> Task[P, R]:
    """The step with SERIALIZABLE isolation under `locks`: of two runs that start it with the
    same cache key at once, one computes and the other waits and reads its result (Cached).
    Without locks, the step as it is."""
    policy = step.cache_policy
    if locks is None or not isinstance(policy, CachePolicy):
        return step
    locked = policy.configure(isolation_level=IsolationLevel.SERIALIZABLE, lock_manager=locks)
    return step.with_options(cache_policy=locked)


@contextmanager
def holding(locks: LockManager | None, key: str, timeout_s: float) -> Iterator[None]:
    """Hold the lock `key` (no-op without locks); fails after `timeout_s` of waiting."""
    if locks is None:
        yield
        return
    holder = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex}"
    if not locks.acquire_lock(key, holder, acquire_timeout=timeout_s, hold_timeout=timeout_s):
        raise TimeoutError(f"lock {key!r} still held by another worker after {timeout_s:.0f} s")
    try:
        yield
    finally:
        locks.release_lock(key, holder)
