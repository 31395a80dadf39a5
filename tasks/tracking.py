"""MLflow steps: check the tracking server answers, then log the training and register it."""

from __future__ import annotations

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from sklearn.pipeline import Pipeline

from housing_core import tracking
from housing_core.settings import Settings
from tasks.modeling import EvaluatedModel

MLFLOW_RETRY_DELAYS = [2, 5]


@task(name="check-tracking-server", cache_policy=NO_CACHE, retries=2,
      retry_delay_seconds=MLFLOW_RETRY_DELAYS)
def check_tracking_server(settings: Settings) -> str:
    """Fail in seconds, before any training, when MLflow is down; names the URI."""
    tracking.connect(settings)
    uri = settings.tracking_uri()
    get_run_logger().info("MLflow tracking server at %s answers", uri)
    return uri


@task(name="log-and-register", cache_policy=NO_CACHE, retries=2,
      retry_delay_seconds=MLFLOW_RETRY_DELAYS)
def log_and_register(
    settings: Settings,
    lineage: tracking.Lineage,
    run_name: str,
    fitted: Pipeline,
    train: pd.DataFrame,
    test: pd.DataFrame,
    evaluated: EvaluatedModel,
) -> tracking.LoggedTraining:
    """Idempotent: the same training (data, code, config) is logged and registered once."""
    client = tracking.connect(settings)
    logged = tracking.log_training(client, settings, lineage, run_name, fitted, train, test,
                                   evaluated.evaluation, evaluated.importance)
    logger = get_run_logger()
    for note in logged.notes:
        logger.info(note)
    if logged.registered_version:
        logger.info("model version %s of %s (run %s)", logged.registered_version,
                    settings.mlflow.registered_model_name, logged.run_id)
    return logged
