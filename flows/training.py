"""housing-training: ingest, validate, split, train, evaluate, then log and register in MLflow.

Run it with `python -m flows.training` (settings from HOUSING_* env and HOUSING_CONFIG_FILE),
or through the `housing-training/*` deployments with parameters.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

from prefect import flow
from prefect.logging import get_run_logger
from prefect.runtime import flow_run
from pydantic import BaseModel

from housing_core.data.source import source_uri
from housing_core.formatting import format_metrics
from housing_core.reports.markdown import run_link
from housing_core.reports.training import training_report
from housing_core.settings import Settings, SettingsError, load_settings
from housing_core.tracking.lineage import Lineage
from housing_core.versioning import model_code_version, training_key
from tasks.caching import cache_locks, isolated
from tasks.data import (
    fingerprint_source,
    load_housing_data,
    split_housing_data,
    validate_housing_data,
)
from tasks.modeling import evaluate_model, train_model
from tasks.reports import publish_report
from tasks.runtime import add_flow_run_tags
from tasks.tracking import check_tracking_server, log_and_register


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


def run_label(params: dict[str, Any]) -> str:
    """What a training with these parameters trains, e.g. `random-forest-n150-d20`."""
    try:
        return _model_label(load_settings(_overrides(**params)))
    except (SettingsError, TypeError):  # the flow itself refuses them, with the reason
        return "invalid-settings"


def name_run(params: dict[str, Any], at: datetime | None = None) -> str:
    """Flow-run name: model family, key parameters and the moment, e.g. `hist-gb-lr0.08-...`.

    The same name is the MLflow run's: one name per training in both UIs.
    """
    return f"{run_label(params)}-{(at or datetime.now(UTC)):%Y%m%d-%H%M%S}"


def describe_run() -> str:
    """Keeps a name `housing-run` gave the run at submission; else names it now."""
    params = flow_run.get_parameters() or {}
    given = flow_run.get_name() or ""
    if given.startswith(f"{run_label(params)}-"):
        return given
    return name_run(params)


@flow(name="housing-training", flow_run_name=describe_run, validate_parameters=True)
def training_flow(
    model: dict[str, Any] | None = None,
    registration_gates: dict[str, float] | None = None,
    run_name: str | None = None,
    data_source: str | None = None,
) -> TrainingSummary:
    """Train the house-price model and register it if it passes its registration gates.

    Every parameter is a partial override, merged over HOUSING_* env and the config file and
    validated with them; an invalid value fails the run before any data is read.

    Args:
        model: model family and hyperparameters, e.g. {"family": "random_forest",
            "n_estimators": 150} or {"max_iter": 400}; defaults to the configured model.
        registration_gates: limits on the held-out metrics to register, e.g.
            {"max_rmse": 60000}; defaults from settings.
        run_name: MLflow run name; default: model family, parameters and date.
        data_source: URL or path of housing.csv; default HOUSING_DATA__SOURCE.
    """
    settings = load_settings(_overrides(model, registration_gates, data_source))
    logger = get_run_logger()
    logger.info("training %s on %s", _model_label(settings), settings.data.source)
    add_flow_run_tags(f"model:{settings.model.family}")

    # with a lock server, two workers that start the same step at once compute it once
    locks = cache_locks(settings.cache)
    load = isolated(load_housing_data, locks)
    validate = isolated(validate_housing_data, locks)
    split = isolated(split_housing_data, locks)
    train = isolated(train_model, locks)
    evaluate = isolated(evaluate_model, locks)

    source, timeout = settings.data.source, settings.data.download_timeout_s
    fingerprint = fingerprint_source(source, timeout)
    ingested = load(source, fingerprint, timeout)
    clean = validate(ingested, settings.data)
    parts = split(clean, settings.split)
    check_tracking_server(settings)  # before the costly steps: fail fast when MLflow is down
    fitted = train(parts.train, settings.model)
    evaluated = evaluate(fitted, parts.test, settings.registration_gates)

    lineage = _lineage(settings, ingested.version, ingested.source)
    name = run_name or flow_run.get_name() or name_run({"model": model})
    logged = log_and_register(
        settings,
        lineage,
        name,
        fitted.pipeline,
        parts.train,
        parts.test,
        evaluated.evaluation,
        evaluated.importance,
        fitted.seconds,
        # the MLflow run starts when the training did, if it trained in this flow run
        fitted.started_at if fitted.flow_run_id == str(flow_run.get_id()) else None,
    )

    result = evaluated.evaluation
    publish_report(
        key="housing-training-report",
        markdown=training_report(
            model_name=settings.mlflow.registered_model_name,
            family=_model_label(settings),
            metrics=result.metrics,
            checks=result.table(),
            passed=result.passed,
            version=logged.registered_version,
            reused=logged.reused,
            link=run_link(logged.tracking_uri, logged.experiment_id, logged.run_id),
            data_version=ingested.version,
            notes=logged.notes,
        ),
        description=f"{name}: {_verdict(result.passed, logged)}; {format_metrics(result.metrics)}",
    )
    if not result.passed:
        raise QualityGateError("model not registered: " + "; ".join(result.failures()))
    return TrainingSummary(
        flow_run_id=str(flow_run.get_id() or ""),
        run_id=logged.run_id,
        experiment_id=logged.experiment_id,
        registered_version=logged.registered_version,
        reused=logged.reused,
        passed=result.passed,
        metrics=result.metrics,
        tracking_uri=logged.tracking_uri,
        data_version=ingested.version,
    )


def _verdict(passed: bool, logged: Any) -> str:
    if not passed:
        return "not registered (missed its checks)"
    if logged.reused:
        return f"already registered as v{logged.registered_version}"
    return f"registered as v{logged.registered_version}"


def _overrides(
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


def _model_label(settings: Settings) -> str:
    config = settings.model
    if config.family == "random_forest":
        return f"random-forest-n{config.n_estimators}-d{config.max_depth}"
    return f"hist-gb-lr{config.learning_rate:g}-it{config.max_iter}-leaves{config.max_leaf_nodes}"


def _lineage(settings: Settings, data_version: str, source: str) -> Lineage:
    code = model_code_version()
    config = {
        "model": settings.model.model_dump(mode="json"),
        "split": settings.split.model_dump(mode="json"),
        "registration_gates": settings.registration_gates.model_dump(mode="json"),
    }
    return Lineage(
        training_key=training_key(data_version, code, config),
        data_version=data_version,
        code_version=code,
        data_source=source_uri(source),
        flow_run_id=str(flow_run.get_id() or ""),
    )


def main() -> int:
    """CLI entry: runs with settings from env and config; the summary goes to stdout as JSON."""
    state = training_flow(return_state=True)
    if not state.is_completed():
        return 1
    print(state.result().model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
