"""MLflow steps: check the tracking server answers, then log the training and register it."""

from __future__ import annotations

import threading
from uuid import UUID

from prefect import get_client, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import ObjectNotFound
from prefect.locking.protocol import LockManager
from prefect.runtime import flow_run

from housing_core.settings import MlflowSettings
from housing_core.tracking.connection import open_tracking
from housing_core.tracking.packaging import warm_up
from housing_core.training.content import TrainingRecord
from housing_core.training.recording import LoggedTraining, record_training
from tasks.caching import holding

MLFLOW_RETRY_DELAYS: list[float] = [2, 5]


def flow_run_has_ended(flow_run_id: str) -> bool:
    """True when the Prefect flow run that owns a RUNNING MLflow run will not finish it: it is
    final or unknown here, or it is this flow run, whose log-and-register is starting again
    after an attempt cut off mid-logging (a retry: that attempt's run is abandoned)."""
    if flow_run_id == str(flow_run.get_id()):
        return True
    with get_client(sync_client=True) as client:
        try:
            state = client.read_flow_run(UUID(flow_run_id)).state
        except (ObjectNotFound, ValueError):
            return True
    return state is None or state.is_final()


def warm_up_logging() -> threading.Thread:
    """Start loading what log-and-register needs, beside the training (which fits on one
    core): that step then starts ~1.5 s sooner. Not a task: it touches no server."""
    thread = threading.Thread(target=warm_up, name="housing-warm-up", daemon=True)
    thread.start()
    return thread


@task(
    name="check-tracking-server",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=MLFLOW_RETRY_DELAYS,
)
def check_tracking_server(mlflow: MlflowSettings) -> str:
    """Fail in seconds, before any costly step, when MLflow is down; names the URI."""
    with open_tracking(mlflow) as tracking:
        tracking.probe()
        return tracking.uri


@task(
    name="log-and-register",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=MLFLOW_RETRY_DELAYS,
)
def log_and_register(
    mlflow: MlflowSettings,
    record: TrainingRecord,
    locks: LockManager | None = None,
    lock_timeout_s: float = 3600.0,
) -> LoggedTraining:
    """Idempotent: the same training (data, code, config) is logged and registered once.

    With a lock server the check-then-register is one worker at a time per training, so two
    workers that finish the same training together register one version.
    """
    key = f"housing-register-{record.lineage.training_key}"
    with holding(locks, key, lock_timeout_s), open_tracking(mlflow) as tracking:
        return record_training(tracking, mlflow, record, owner_is_gone=flow_run_has_ended)
