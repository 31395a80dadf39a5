"""Logging a training once: the run, its content, its model and, if it passed, its version.

Idempotent: the same training (data, code, configuration) is logged and registered once,
however often the flow is retried, and a run a crash left RUNNING is marked FAILED.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.pipeline import Pipeline

from housing_core.data.contract import FEATURE_COLUMNS
from housing_core.evaluation.gates import Evaluation
from housing_core.formatting import format_metric
from housing_core.reports.markdown import METRICS_VIEW, experiment_url, run_url
from housing_core.reports.versions import version_description
from housing_core.settings import Settings
from housing_core.tracking import run_content
from housing_core.tracking.connection import Tracking
from housing_core.tracking.lineage import FLOW_RUN_TAG, TRAINING_KEY_TAG, Lineage
from housing_core.tracking.packaging import log_model
from housing_core.tracking.registry import find_version_by_training_key, register_version


@dataclass(frozen=True)
class LoggedTraining:
    """Where a training landed in MLflow, and whether this call did the logging."""

    run_id: str
    experiment_id: str
    model_uri: str | None
    registered_version: str | None
    reused: bool
    tracking_uri: str
    notes: list[str] = field(default_factory=list)


# MLflow's UI opens an experiment of this kind on its runs, not on GenAI traces
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
# a saved view of the runs table (`?viewStateShareKey=housing-metrics`): what MLflow's own
# "share view" stores. The UI's default view has no metric column; this one leads with them.
_METRIC_COLUMNS = [f"metrics.`{m}`" for m in ("rmse", "mae", "r2", "mape", "training_seconds")]
METRICS_VIEW_STATE = {
    "selectedColumns": [*_METRIC_COLUMNS, "params.`model.family`", "attributes.`Models`"],
    "orderByKey": "metrics.`rmse`",
    "orderByAsc": True,
    # run names whole, then the metrics (widths apply only to ordered columns)
    "columnOrder": [
        "attributes.`Run Name`",
        *_METRIC_COLUMNS,
        "params.`model.family`",
        "attributes.`Created`",
        "attributes.`Duration`",
        "attributes.`Models`",
    ],
    "columnWidths": {"attributes.`Run Name`": 420},
}


def ensure_experiment(tracking: Tracking, settings: Settings) -> str:
    """The experiment (created if missing), set up for model training in the UI."""
    client = tracking.client
    name = settings.mlflow.experiment_name
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        location = None
        if tracking.uri.startswith("sqlite:"):
            location = (settings.state_dir / "mlartifacts").resolve().as_uri()
        with suppress(MlflowException):  # created meanwhile by a concurrent run
            client.create_experiment(name, artifact_location=location)
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise MlflowException(f"experiment {name!r} could not be created")
    experiment_id = str(experiment.experiment_id)
    wanted = {
        EXPERIMENT_KIND[0]: EXPERIMENT_KIND[1],
        f"mlflow.sharedViewState.{METRICS_VIEW}": json.dumps(METRICS_VIEW_STATE),
        "mlflow.note.content": _experiment_note(tracking.uri, experiment_id, settings),
    }
    for key, value in wanted.items():
        if experiment.tags.get(key) != value:
            client.set_experiment_tag(experiment_id, key, value)
    return experiment_id


def _experiment_note(uri: str, experiment_id: str, settings: Settings) -> str:
    return (
        f"Trainings of **{settings.mlflow.registered_model_name}** by housing-flows: one run "
        "per training, named as its Prefect flow run. Held-out metrics: `rmse`, `mae` "
        "(dollars), `r2`, `mape`; `training_seconds`. "
        + (
            f"[Runs with their metrics, best RMSE first]({experiment_url(uri, experiment_id)})"
            if uri.startswith(("http://", "https://"))
            else ""
        )
    )


def fail_orphaned_runs(
    client: MlflowClient, experiment_id: str, owner_is_gone: Callable[[str], bool]
) -> list[str]:
    """Mark FAILED the runs left RUNNING by a crash or a dead server.

    A run is orphaned when the flow run named in its `prefect.flow_run_id` tag has ended;
    `owner_is_gone` answers that (the orchestrator is injected: this module stays pure).
    """
    running = client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'")
    orphans = [
        run.info.run_id
        for run in running
        if run.data.tags.get(FLOW_RUN_TAG) and owner_is_gone(run.data.tags[FLOW_RUN_TAG])
    ]
    for run_id in orphans:
        client.set_terminated(run_id, status="FAILED")
    return orphans


def find_finished_run(client: MlflowClient, experiment_id: str, training_key: str) -> str | None:
    runs = client.search_runs(
        [experiment_id],
        filter_string=(
            f"attributes.status = 'FINISHED' and tags.`{TRAINING_KEY_TAG}` = '{training_key}'"
        ),
        order_by=["attributes.start_time ASC"],
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


def log_training(
    tracking: Tracking,
    settings: Settings,
    lineage: Lineage,
    run_name: str,
    model: Pipeline,
    train: pd.DataFrame,
    test: pd.DataFrame,
    evaluation: Evaluation,
    importance: pd.DataFrame,
    training_seconds: float,
    owner_is_gone: Callable[[str], bool] = lambda flow_run_id: False,
    flow_run_url: str = "",
    started_at_ms: int | None = None,
) -> LoggedTraining:
    """Log one training and register it if it passed its checks; a repeat logs nothing new."""
    client = tracking.client
    experiment_id = ensure_experiment(tracking, settings)
    notes = [
        f"marked stale run {r} FAILED"
        for r in fail_orphaned_runs(client, experiment_id, owner_is_gone)
    ]
    name = settings.mlflow.registered_model_name
    existing_run = find_finished_run(client, experiment_id, lineage.training_key)
    if existing_run is not None:
        version = find_version_by_training_key(client, name, lineage.training_key)
        if version is not None or not evaluation.passed:
            notes.append(
                f"identical training already logged as run {existing_run}; nothing new logged"
            )
            return LoggedTraining(
                existing_run,
                experiment_id,
                version.source if version else None,
                str(version.version) if version else None,
                True,
                tracking.uri,
                notes,
            )
    # the run starts when the training did: its duration in the UI is the training's
    run = client.create_run(
        experiment_id, start_time=started_at_ms, run_name=run_name, tags=lineage.tags()
    )
    run_id = run.info.run_id
    params = run_content.run_params(settings, len(train), len(test))
    with _fail_run_on_error(client, run_id):
        run_content.log_params_and_metrics(
            client, run_id, settings, params, evaluation, training_seconds
        )
        run_content.log_datasets(client, run_id, train, test, lineage)
        run_content.log_evaluation(client, run_id, test, evaluation, importance)
        example = train.loc[:, list(FEATURE_COLUMNS)].head(5)
        logged = log_model(tracking, experiment_id, run_id, model, example, params)
        model_uri = f"models:/{logged.model_id}"
        registered_version: str | None = None
        if evaluation.passed:
            registered = register_version(
                client,
                name,
                logged,
                run_id,
                tags={**lineage.tags(), **_metric_tags(evaluation)},
                description=version_description(
                    run_name=run_name,
                    family=settings.model.family,
                    metrics=evaluation.metrics,
                    n_test=len(test),
                    run_url=run_url(tracking.uri, experiment_id, run_id),
                    flow_run_url=flow_run_url,
                    data_version=lineage.data_version,
                    code_version=lineage.code_version,
                ),
            )
            registered_version = str(registered.version)
            client.set_tag(run_id, "housing.registered_version", registered_version)
        else:
            notes.append("checks failed, model not registered: " + "; ".join(evaluation.failures()))
        client.set_terminated(run_id, status="FINISHED")
    return LoggedTraining(
        run_id, experiment_id, model_uri, registered_version, False, tracking.uri, notes
    )


@contextmanager
def _fail_run_on_error(client: MlflowClient, run_id: str) -> Iterator[None]:
    try:
        yield
    except BaseException:
        # The server may be what failed; then the next run of this training sweeps it.
        with suppress(Exception):
            client.set_terminated(run_id, status="FAILED")
        raise


def _metric_tags(evaluation: Evaluation) -> dict[str, str]:
    return {f"metric.{k}": format_metric(k, v) for k, v in evaluation.metrics.items()}
