"""Promotion steps: read production, score versions on shared rows, move the alias; the lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import pandas as pd
from prefect import Task, get_client, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.client.schemas.objects import State, TaskRun
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.logging import get_run_logger
from prefect.runtime import flow_run

from housing_core.formatting import format_metric
from housing_core.promotion import scoring
from housing_core.promotion.decision import Candidate, Decision
from housing_core.promotion.records import ROLLBACK_TO_TAG, TAG_PREFIX
from housing_core.reports import versions
from housing_core.settings import PromotionSettings, Settings
from housing_core.tracking import registry
from housing_core.tracking.connection import open_tracking
from tasks.tracking import MLFLOW_RETRY_DELAYS


@dataclass(frozen=True)
class Production:
    """The version the alias points to now, and where a rollback from it would go."""

    version: str | None
    rollback_to: str | None


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
            f" if none is running, free it: prefect gcl reset {rules.concurrency_limit}"
        ) from exc


@task(
    name="read-production",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=MLFLOW_RETRY_DELAYS,
)
def read_production(settings: Settings) -> Production:
    name = settings.mlflow.registered_model_name
    with open_tracking(settings) as tracking:
        version = registry.version_for_alias(tracking.client, name, settings.promotion.alias)
        rollback_to = None
        if version is not None:
            tags = registry.version_tags(tracking.client, name, version)
            rollback_to = tags.get(ROLLBACK_TO_TAG) or None
    get_run_logger().info(
        "'%s' of %s: %s", settings.promotion.alias, name, f"v{version}" if version else "unset"
    )
    return Production(version, rollback_to)


@task(
    name="list-candidates",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=MLFLOW_RETRY_DELAYS,
)
def list_candidates(settings: Settings, only: str | None) -> list[str]:
    """The newest registered versions (capped by `max_candidates`), or the one asked for."""
    name = settings.mlflow.registered_model_name
    with open_tracking(settings) as tracking:
        if only is not None:
            registry.get_version(tracking.client, name, only)  # fails loudly on an unknown one
            return [only]
        return registry.newest_versions(tracking.client, name, settings.promotion.max_candidates)


@task(
    name="score-versions", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=MLFLOW_RETRY_DELAYS
)
def score_versions(settings: Settings, versions: list[str], test: pd.DataFrame) -> list[Candidate]:
    """Each version scored on the SAME held-out rows by its own code, in its own process, and
    smoke-tested with a serving payload."""
    name = settings.mlflow.registered_model_name
    with open_tracking(settings) as tracking:
        candidates, scores = scoring.score_versions(
            tracking,
            name,
            versions,
            test,
            settings.promotion.smoke_rows,
            settings.state_dir / "environments",
            settings.serving.environment,
        )
    logger = get_run_logger()
    for candidate in candidates:
        score = scores[candidate.version]
        logger.info(
            "v%s on %d shared rows: rmse %s, smoke test %s; code from %s, python %s",
            candidate.version,
            len(test),
            format_metric("rmse", candidate.metrics["rmse"]),
            candidate.smoke_error or "passed",
            score.code_from or "-",
            score.interpreter or "-",
        )
    return candidates


def _retry_unless_overwritten(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """A mismatch after the move means another writer bypassed the lock: do not fight it."""
    try:
        state.result()
    except registry.AliasMismatchError:
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
def move_alias(
    settings: Settings, decision: Decision, tags: dict[str, str], n_rows: int = 0
) -> None:
    """Move, re-read (fails loudly on a mismatch), then record the move on the versions: tags
    on the one that now serves, and a serving section in the description of both."""
    if decision.target is None:
        raise ValueError("nothing to move")
    name = settings.mlflow.registered_model_name
    alias = settings.promotion.alias
    with open_tracking(settings) as tracking:
        client = tracking.client
        registry.move_alias(client, name, alias, decision.target)
        registry.set_version_tags(client, name, decision.target, tags)
        at = tags[f"{TAG_PREFIX}at"]
        url = flow_run.ui_url or ""
        target_tags = registry.version_tags(client, name, decision.target)
        records = {
            decision.target: versions.promoted_record(
                alias=alias,
                action=decision.action,
                at=at,
                replaced=decision.previous,
                rollback_to=target_tags.get(ROLLBACK_TO_TAG) or None,
                reason=decision.reason,
                scores=decision.scores_of(decision.target),
                n_rows=n_rows,
                flow_run_url=url,
            )
        }
        if decision.previous:
            records[decision.previous] = versions.replaced_record(
                alias=alias, at=at, by=decision.target, flow_run_url=url
            )
        for version, record in records.items():
            registry.describe_version(client, name, version, record)
    get_run_logger().info(
        "'%s' of %s moved from %s to v%s (%s)",
        settings.promotion.alias,
        name,
        f"v{decision.previous}" if decision.previous else "(unset)",
        decision.target,
        decision.action,
    )
