"""housing-training: ingest, validate, split, train, evaluate, then log and register in MLflow.

Run it with `python -m flows.training` (settings from HOUSING_* env and HOUSING_CONFIG_FILE),
or through the `housing-training/*` deployments with parameters.
"""

from __future__ import annotations

import sys
from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Completed
from pydantic import BaseModel

from flows.embedded import run_embedded
from housing_core.data.source import DataSourceError
from housing_core.data.validation import DataValidationError
from housing_core.settings import SettingsError, load_settings
from housing_core.tracking.connection import ArtifactStoreError, TrackingUnavailableError
from housing_core.training import identity
from housing_core.training.content import TrainingRecord
from housing_core.training.report import training_report, training_summary
from housing_core.uris import as_uri
from tasks.caching import cache_locks, isolated
from tasks.data import prepare_data
from tasks.modeling import evaluate_model, train_model
from tasks.reports import publish_report
from tasks.runtime import describe_flow_run, flow_body, flow_run_url
from tasks.tracking import check_tracking_server, log_and_register, warm_up_logging

NEW_VERSION = "new version: v"  # the Completed state's message: the release chain matches it


class QualityGateError(RuntimeError):
    """The model trained but missed a quality threshold; it was logged, not registered."""


class TrainingSummary(BaseModel):
    flow_run_id: str
    run_id: str
    experiment_id: str
    registered_version: str | None
    reused: bool
    passed: bool
    metrics: dict[str, float]
    tracking_uri: str
    data_version: str


@flow(name="housing-training", validate_parameters=True)
@flow_body(
    SettingsError,
    DataSourceError,
    DataValidationError,
    TrackingUnavailableError,
    ArtifactStoreError,
    QualityGateError,
)
def training_flow(
    model: dict[str, Any] | None = None,
    registration_gates: dict[str, float] | None = None,
    run_name: str | None = None,
    data_source: str | None = None,
) -> TrainingSummary | State[Any]:
    """Train the house-price model and register it if it passes its registration gates.

    Every parameter is a partial override, merged over HOUSING_* env and the config file and
    validated with them; an invalid value fails the run before any data is read.

    Args:
        model: model family and hyperparameters, e.g. {"family": "random_forest",
            "n_estimators": 150} or {"max_iter": 400}; defaults to the configured model.
        registration_gates: limits on the held-out metrics to register, e.g.
            {"max_rmse": 60000}; defaults from settings.
        run_name: the name of the flow run and its MLflow run; default: model family,
            parameters and date.
        data_source: URL or path of housing.csv; default HOUSING_DATA__SOURCE.
    """
    settings = load_settings(overrides(model, registration_gates, data_source))
    name = (
        run_name or _name_given_at_submission(settings.model) or identity.run_name(settings.model)
    )
    describe_flow_run(name, f"model:{settings.model.family}")

    # with a lock server, two workers that start the same step at once compute it once
    locks = cache_locks(settings.cache)
    data = prepare_data(settings.data, settings.split, locks)
    check_tracking_server(settings.mlflow)  # before the costly steps: fail fast when MLflow is down
    warm_up_logging()
    trained = isolated(train_model, locks)(data.parts.train, settings.model)
    evaluated = isolated(evaluate_model, locks)(
        trained, data.parts.test, settings.registration_gates
    )

    this_run = str(flow_run.get_id() or "")
    record = TrainingRecord(
        run_name=name,
        lineage=identity.lineage(
            settings.model,
            settings.split,
            settings.registration_gates,
            data.ingested.version,
            this_run,
        ),
        data_source=as_uri(data.ingested.source),
        model=settings.model,
        split=settings.split,
        gates=settings.registration_gates,
        pipeline=trained.pipeline,
        train=data.parts.train,
        test=data.parts.test,
        evaluation=evaluated.evaluation,
        importance=evaluated.importance,
        training_seconds=trained.seconds,
        started_at_ms=trained.started_at_ms(this_run),
        flow_run_url=flow_run_url(),
    )
    logged = log_and_register(settings.mlflow, record, locks, settings.cache.lock_timeout_s)

    result = evaluated.evaluation
    publish_report(
        key="housing-training-report",
        markdown=training_report(record, logged, settings.mlflow.registered_model_name),
        description=training_summary(record, logged),
    )
    if not result.passed:
        raise QualityGateError("model not registered: " + "; ".join(result.failures()))
    summary = TrainingSummary(
        flow_run_id=this_run,
        run_id=logged.run_id,
        experiment_id=logged.experiment_id,
        registered_version=logged.registered_version,
        reused=logged.reused,
        passed=result.passed,
        metrics=result.metrics,
        tracking_uri=logged.tracking_uri,
        data_version=data.ingested.version,
    )
    if logged.registered_version and not logged.reused:  # what the release chain waits for
        return Completed(message=f"{NEW_VERSION}{logged.registered_version}", data=summary)
    return summary


def overrides(
    model: dict[str, Any] | None = None,
    registration_gates: dict[str, float] | None = None,
    data_source: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    """The flow's parameters as the settings tree's partial overrides (None: not given)."""
    return {
        "model": model,
        "registration_gates": registration_gates,
        "data": None if data_source is None else {"source": data_source},
    }


def name_run(params: dict[str, Any]) -> str:
    """The name a training with these parameters gets, e.g. `random-forest-n150-d20-2026...`:
    what `housing-run` names a run at submission (the flow keeps it)."""
    try:
        return identity.run_name(load_settings(overrides(**params)).model)
    except (SettingsError, TypeError):  # the flow itself refuses them, with the reason
        return "invalid-settings"


def _name_given_at_submission(config: Any) -> str | None:
    given = flow_run.get_name() or ""
    return given if identity.keeps_name(config, given) else None


def main() -> int:
    """CLI entry: runs with settings from env and config; the summary goes to stdout as JSON."""
    state: State[Any] = run_embedded(training_flow)
    if not state.is_completed():
        return 1
    print(state.result().model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
