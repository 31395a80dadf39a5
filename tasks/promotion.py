"""Promotion steps: read production, score versions on shared rows, move the alias; the lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import Task, get_client, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.client.schemas.objects import State, TaskRun
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from housing_core.promotion import drift_gate, release, scoring
from housing_core.promotion.decision import VersionScore
from housing_core.promotion.records import Release
from housing_core.promotion.release import Production
from housing_core.promotion.scoring import Evidence
from housing_core.settings import (
    DriftSettings,
    EnvironmentPolicy,
    MlflowSettings,
    PromotionSettings,
)
from housing_core.tracking.connection import open_tracking
from housing_core.tracking.registry import AliasMismatchError
from tasks.data import PreparedData
from tasks.tracking import MLFLOW_RETRY_DELAYS


@contextmanager
def promotion_lock(rules: PromotionSettings) -> Iterator[None]:
    """One promotion at a time, across processes and machines sharing the Prefect API.

    MLflow has no compare-and-set on aliases, so read-decide-move must not interleave. A
    missing limit would make `concurrency()` warn and run unguarded: create it (1 slot) first,
    and acquire strictly.
    """
    with get_client(sync_client=True) as client:
        try:  # read first: creating an existing limit makes the server log an integrity error
            limit = client.read_global_concurrency_limit_by_name(rules.concurrency_limit)
        except ObjectNotFound:
            with suppress(ObjectAlreadyExists):  # created meanwhile by a concurrent promotion
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=rules.concurrency_limit, limit=1)
                )
            limit = client.read_global_concurrency_limit_by_name(rules.concurrency_limit)
        if limit.limit != 1 or not limit.active:
            raise RuntimeError(
                f"concurrency limit '{rules.concurrency_limit}' must be active with 1 slot, "
                f"found limit={limit.limit} active={limit.active}"
            )
    try:
        with concurrency(
            rules.concurrency_limit, occupy=1, timeout_seconds=rules.lock_timeout_s, strict=True
        ):
            yield
    except TimeoutError as exc:
        raise TimeoutError(
            f"another promotion held '{rules.concurrency_limit}' for {rules.lock_timeout_s:.0f} s;"
            " if none is running, free its slot: "
            f"prefect gcl update {rules.concurrency_limit} --active-slots 0"
        ) from exc


@task(
    name="read-production",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=MLFLOW_RETRY_DELAYS,
)
def read_production(mlflow: MlflowSettings, alias: str) -> Production:
    with open_tracking(mlflow) as tracking:
        return release.read_production(tracking, mlflow.registered_model_name, alias)


@task(
    name="list-candidates",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=MLFLOW_RETRY_DELAYS,
)
def list_candidates(mlflow: MlflowSettings, only: str | None, limit: int) -> list[str]:
    """The newest registered versions (at most `limit`), or the one asked for."""
    with open_tracking(mlflow) as tracking:
        return release.candidates(tracking, mlflow.registered_model_name, only, limit)


@task(
    name="score-versions", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=MLFLOW_RETRY_DELAYS
)
def score_versions(
    mlflow: MlflowSettings,
    versions: list[str],
    test: pd.DataFrame,
    smoke_rows: int,
    environments: Path,
    policy: EnvironmentPolicy,
) -> tuple[list[VersionScore], dict[str, Evidence]]:
    """Each version scored on the SAME held-out rows by its own code, in its own process, and
    smoke-tested with a serving payload; with what the drift gate needs of each."""
    with open_tracking(mlflow) as tracking:
        return scoring.score_versions(
            tracking, mlflow.registered_model_name, versions, test, smoke_rows, environments, policy
        )


@task(name="judge-drift", cache_policy=NO_CACHE)
def judge_drift(
    scores: list[VersionScore],
    evidence: dict[str, Evidence],
    production: str | None,
    data: PreparedData,
    drift: DriftSettings,
) -> list[VersionScore]:
    """Each candidate's training rows against production's profile, and the newest rows
    against its own: what the drift gate found, on each score."""
    return drift_gate.with_findings(
        scores,
        evidence,
        production,
        data.ingested.version,
        data.parts.train,
        data.parts.test,
        drift.overrides or None,
    )


def _retry_unless_overwritten(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """A mismatch after the move means another writer bypassed the lock: do not fight it."""
    try:
        state.result()
    except AliasMismatchError:
        return False
    except Exception:
        return True
    return True


@task(
    name="move-alias",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=MLFLOW_RETRY_DELAYS,
    retry_condition_fn=_retry_unless_overwritten,
)
def move_alias(mlflow: MlflowSettings, move: Release) -> None:
    """Move, re-read (fails loudly on a mismatch), then record the move on the versions."""
    with open_tracking(mlflow) as tracking:
        release.release(tracking, mlflow.registered_model_name, move)
