"""MLflow steps: check the tracking server answers, then log the training and register it."""

from __future__ import annotations

from uuid import UUID

import pandas as pd
from prefect import get_client, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import ObjectNotFound
from prefect.logging import get_run_logger
from prefect.runtime import flow_run
from sklearn.pipeline import Pipeline

from housing_core.evaluation.gates import Evaluation
from housing_core.settings import Settings
from housing_core.tracking.connection import open_tracking
from housing_core.tracking.lineage import Lineage
from housing_core.tracking.runs import LoggedTraining, log_training
from tasks.caching import cache_locks, holding

MLFLOW_RETRY_DELAYS: list[float] = [2, 5]


def flow_run_has_ended(flow_run_id: str) -> bool:
    """True when the Prefect flow run that owns an MLflow run is final or unknown here."""
    if flow_run_id == str(flow_run.get_id()):
        return False
    with get_client(sync_client=True) as client:
        try:
            state = client.read_flow_run(UUID(flow_run_id)).state
        except (ObjectNotFound, ValueError):
            return True
    return state is None or state.is_final()


@task(
    name="check-tracking-server",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=MLFLOW_RETRY_DELAYS,
)
def check_tracking_server(settings: Settings) -> str:
    """Fail in seconds, before any training, when MLflow is down; names the URI."""
    with open_tracking(settings) as tracking:
        get_run_logger().info("MLflow tracking server at %s answers", tracking.uri)
        return tracking.uri


@task(
    name="log-and-register",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=MLFLOW_RETRY_DELAYS,
)
def log_and_register(
    settings: Settings,
    lineage: Lineage,
    run_name: str,
    fitted: Pipeline,
    train: pd.DataFrame,
    test: pd.DataFrame,
    evaluation: Evaluation,
    importance: pd.DataFrame,
    training_seconds: float,
    training_started_at: float | None = None,
) -> LoggedTraining:
    """Idempotent: the same training (data, code, config) is logged and registered once.

    With a lock server the check-then-register is one worker at a time per training, so two
    workers that finish the same training together register one version.
    """
    locks = cache_locks(settings.cache)
    key = f"housing-register-{lineage.training_key}"
    with holding(locks, key, settings.cache.lock_timeout_s), open_tracking(settings) as tracking:
        logged = log_training(
            tracking,
            settings,
            lineage,
            run_name,
            fitted,
            train,
            test,
            evaluation,
            importance,
            training_seconds,
            owner_is_gone=flow_run_has_ended,
            flow_run_url=flow_run.ui_url or "",
            started_at_ms=None if training_started_at is None else int(training_started_at * 1000),
        )
    logger = get_run_logger()
    for note in logged.notes:
        logger.info(note)
    if logged.registered_version:
        logger.info(
            "model version %s of %s (run %s)",
            logged.registered_version,
            settings.mlflow.registered_model_name,
            logged.run_id,
        )
    return logged
