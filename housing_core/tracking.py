"""MLflow set-up and run logging: client, experiment, runs, registration (model: model_logging)."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import requests
from mlflow import MlflowClient
from mlflow.entities import DatasetInput, InputTag, Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from sklearn.pipeline import Pipeline

from housing_core.evaluation import Evaluation
from housing_core.model_logging import log_model
from housing_core.plots import importance_bars, predicted_vs_actual
from housing_core.registry import TRAINING_KEY_TAG, find_version_by_training_key, register_version
from housing_core.schemas import TARGET
from housing_core.settings import MlflowSettings, Settings


class TrackingUnavailableError(RuntimeError):
    """The tracking server did not answer: names the URI so the operator knows where to look."""


@dataclass(frozen=True)
class Lineage:
    """What a run was made from; written as tags on the run and the registered version."""

    training_key: str
    data_version: str
    code_version: str
    data_source: str
    flow_run_id: str = ""

    def tags(self) -> dict[str, str]:
        return {
            TRAINING_KEY_TAG: self.training_key,
            "housing.data_version": self.data_version,
            "housing.code_version": self.code_version,
            "housing.data_source": self.data_source,
            "prefect.flow_run_id": self.flow_run_id,
        }


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


def configure_http(mlflow_settings: MlflowSettings) -> None:
    """Bound every MLflow call: the client's defaults retry for ~4 minutes per call.

    Explicit MLFLOW_HTTP_REQUEST_* variables win over these settings.
    """
    defaults = {
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(mlflow_settings.request_timeout_s),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(mlflow_settings.request_max_retries),
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": str(mlflow_settings.request_backoff_factor),
    }
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    if mlflow_settings.username and mlflow_settings.password:
        os.environ.setdefault("MLFLOW_TRACKING_USERNAME", mlflow_settings.username)
        os.environ.setdefault(
            "MLFLOW_TRACKING_PASSWORD", mlflow_settings.password.get_secret_value()
        )


def connect(settings: Settings) -> MlflowClient:
    """A client for the tracking URI in force, checked to answer before any work is logged."""
    configure_http(settings.mlflow)
    uri = settings.tracking_uri()
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        client.search_experiments(max_results=1)
    except (MlflowException, requests.RequestException, OSError) as exc:
        raise TrackingUnavailableError(
            f"MLflow tracking server at {uri} is unreachable: {type(exc).__name__}: "
            f"{_first_line(exc)}"
        ) from exc
    return client


def ensure_experiment(client: MlflowClient, settings: Settings) -> str:
    name = settings.mlflow.experiment_name
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    location = None
    if settings.tracking_uri().startswith("sqlite:"):
        location = (settings.state_dir / "mlartifacts").resolve().as_uri()
    try:
        return str(client.create_experiment(name, artifact_location=location))
    except MlflowException:  # created meanwhile by a concurrent run
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return str(experiment.experiment_id)


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
        if run.data.tags.get("prefect.flow_run_id")
        and owner_is_gone(run.data.tags["prefect.flow_run_id"])
    ]
    for run_id in orphans:
        client.set_terminated(run_id, status="FAILED")
    return orphans


def _status_and_key(status: str, training_key: str) -> str:
    return f"attributes.status = '{status}' and tags.`{TRAINING_KEY_TAG}` = '{training_key}'"


def find_finished_run(client: MlflowClient, experiment_id: str, training_key: str) -> str | None:
    runs = client.search_runs(
        [experiment_id],
        filter_string=_status_and_key("FINISHED", training_key),
        order_by=["attributes.start_time ASC"],
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


def log_training(
    client: MlflowClient,
    settings: Settings,
    lineage: Lineage,
    run_name: str,
    model: Pipeline,
    train: pd.DataFrame,
    test: pd.DataFrame,
    evaluation: Evaluation,
    importance: pd.DataFrame,
    owner_is_gone: Callable[[str], bool] = lambda flow_run_id: False,
) -> LoggedTraining:
    """Log one training and register it if it passed its checks; a repeat logs nothing new."""
    uri = settings.tracking_uri()
    experiment_id = ensure_experiment(client, settings)
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
                uri,
                notes,
            )
    run = client.create_run(experiment_id, run_name=run_name, tags=lineage.tags())
    run_id = run.info.run_id
    with _fail_run_on_error(client, run_id):
        _log_params_metrics(client, run_id, settings, evaluation, len(train), len(test))
        _log_dataset(client, run_id, train, test, lineage)
        _log_evaluation_artifacts(client, run_id, test, evaluation, importance)
        model_uri = log_model(uri, run_id, model, train)
        registered_version: str | None = None
        if evaluation.passed:
            registered = register_version(
                client,
                name,
                model_uri.removeprefix("models:/"),
                run_id,
                tags={**lineage.tags(), **_metric_tags(evaluation)},
                description=f"run {run_id}: "
                + ", ".join(f"{k}={v:,.4g}" for k, v in evaluation.metrics.items()),
            )
            registered_version = str(registered.version)
            client.set_tag(run_id, "housing.registered_version", registered_version)
        else:
            notes.append("checks failed, model not registered: " + "; ".join(evaluation.failures()))
        client.set_terminated(run_id, status="FINISHED")
    return LoggedTraining(run_id, experiment_id, model_uri, registered_version, False, uri, notes)


@contextmanager
def _fail_run_on_error(client: MlflowClient, run_id: str) -> Iterator[None]:
    try:
        yield
    except BaseException:
        # The server may be what failed; then the next run of this training sweeps it.
        with suppress(Exception):
            client.set_terminated(run_id, status="FAILED")
        raise


def _log_params_metrics(
    client: MlflowClient,
    run_id: str,
    settings: Settings,
    evaluation: Evaluation,
    n_train: int,
    n_test: int,
) -> None:
    params = flatten(
        {
            "model": settings.model.model_dump(mode="json"),
            "split": settings.split.model_dump(mode="json"),
            "thresholds": settings.thresholds.model_dump(mode="json"),
        }
    )
    params.update({"n_train_rows": str(n_train), "n_test_rows": str(n_test)})
    metrics = [Metric(k, v, _now_ms(), 0) for k, v in evaluation.metrics.items()]
    metrics.append(Metric("checks_passed", float(evaluation.passed), _now_ms(), 0))
    client.log_batch(
        run_id,
        metrics=metrics,
        params=[Param(k, v) for k, v in params.items()],
        tags=[
            RunTag("housing.model_family", settings.model.family),
            RunTag("housing.checks", "passed" if evaluation.passed else "failed"),
        ],
    )


def _log_dataset(
    client: MlflowClient, run_id: str, train: pd.DataFrame, test: pd.DataFrame, lineage: Lineage
) -> None:
    for context, frame in (("training", train), ("evaluation", test)):
        with warnings.catch_warnings():  # a local path matches two equivalent source types
            warnings.simplefilter("ignore", UserWarning)
            dataset = mlflow.data.from_pandas(  # type: ignore[attr-defined]
                frame,
                source=lineage.data_source,
                targets=TARGET,
                name=f"housing-{context}",
                digest=lineage.data_version[:32],
            )
        client.log_inputs(
            run_id,
            datasets=[
                DatasetInput(
                    dataset._to_mlflow_entity(),
                    tags=[InputTag("mlflow.data.context", context)],
                )
            ],
        )


def _log_evaluation_artifacts(
    client: MlflowClient,
    run_id: str,
    test: pd.DataFrame,
    evaluation: Evaluation,
    importance: pd.DataFrame,
) -> None:
    actual = test[TARGET].to_numpy()
    figure = predicted_vs_actual(actual, evaluation.predicted, "Held-out rows")
    client.log_figure(run_id, figure, "plots/predicted_vs_actual.png")
    client.log_figure(run_id, importance_bars(importance), "plots/feature_importance.png")
    client.log_text(run_id, importance.to_csv(index=False), "evaluation/feature_importance.csv")
    report = {
        "metrics": evaluation.metrics,
        "checks": [
            {
                "metric": c.metric,
                "value": c.value,
                "rule": c.rule,
                "limit": c.limit,
                "passed": c.passed,
            }
            for c in evaluation.checks
        ],
        "passed": evaluation.passed,
        "n_rows": evaluation.n_rows,
    }
    client.log_text(run_id, json.dumps(report, indent=2), "evaluation/report.json")


def _metric_tags(evaluation: Evaluation) -> dict[str, str]:
    return {f"metric.{k}": f"{v:.6g}" for k, v in evaluation.metrics.items()}


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """`{"model": {"features": {"geo": true}}}` -> `{"model.features.geo": "True"}`."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""
