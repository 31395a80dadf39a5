"""Recording a training: its MLflow run logged once and, if it passed its checks, registered once.

Idempotent: the same training (data, code, configuration: the training key) is logged and
registered once however often the flow is retried or run again, and a run that a crash left
RUNNING is marked FAILED by the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from housing_core.data.contract import features_of
from housing_core.reports.markdown import run_url
from housing_core.settings import MlflowSettings
from housing_core.tracking import registry, runs
from housing_core.tracking.connection import Tracking
from housing_core.training import pages
from housing_core.training.content import (
    REGISTERED_VERSION_TAG,
    TrainingRecord,
    run_content,
    run_params,
)
from housing_core.training.profiling import reference_profile
from housing_core.training.shipping import log_shipped_model
from housing_core.versioning import FLOW_RUN_TAG, TRAINING_KEY_TAG

log = logging.getLogger(__name__)


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


def record_training(
    tracking: Tracking,
    names: MlflowSettings,
    record: TrainingRecord,
    owner_is_gone: Callable[[str], bool] = lambda flow_run_id: False,
) -> LoggedTraining:
    """Log one training and register it if it passed its checks; a repeat logs nothing new."""
    experiment_id = _experiment(tracking, names)
    notes = [
        f"marked stale run {r} FAILED"
        for r in runs.fail_runs_left_running(tracking, experiment_id, FLOW_RUN_TAG, owner_is_gone)
    ]
    key = record.lineage.training_key
    existing = runs.find_finished_run(tracking, experiment_id, TRAINING_KEY_TAG, key)
    if existing is not None:
        version = registry.version_of_run(tracking, names.registered_model_name, existing)
        if version is not None or not record.evaluation.passed:
            notes.append(f"identical training already logged as run {existing}; nothing new logged")
            for note in notes:
                log.info(note)
            return LoggedTraining(
                existing,
                experiment_id,
                version.source if version else None,
                version.version if version else None,
                True,
                tracking.uri,
                notes,
            )
    finished = _finish_interrupted(tracking, names, experiment_id, key, notes)
    if finished is not None:
        return finished
    logged = _log(tracking, names, experiment_id, record)
    if not record.evaluation.passed:
        notes.append(
            "checks failed, model not registered: " + "; ".join(record.evaluation.failures())
        )
    for note in [*notes, *_registered_note(logged, names)]:
        log.info(note)
    return LoggedTraining(
        logged.run_id,
        experiment_id,
        logged.model_uri,
        logged.registered_version,
        False,
        tracking.uri,
        notes,
    )


def _finish_interrupted(
    tracking: Tracking, names: MlflowSettings, experiment_id: str, key: str, notes: list[str]
) -> LoggedTraining | None:
    """The same training's version, registered by a run whose process died before it could
    finish the run (a lost host): that run is finished and its version returned, so a
    re-run never registers the training twice. None when no such version exists."""
    for run_id in runs.find_runs(tracking, experiment_id, TRAINING_KEY_TAG, key):
        version = registry.version_of_run(tracking, names.registered_model_name, run_id)
        if version is None:
            continue
        runs.set_run_tags(tracking, run_id, {REGISTERED_VERSION_TAG: version.version})
        runs.finish_run(tracking, run_id)
        notes.append(
            f"identical training already registered as version {version.version} by run "
            f"{run_id}, whose process ended before finishing it: run finished, nothing new "
            "registered"
        )
        for note in notes:
            log.info(note)
        return LoggedTraining(
            run_id, experiment_id, version.source, version.version, True, tracking.uri, notes
        )
    return None


@dataclass(frozen=True)
class _Logged:
    run_id: str
    model_uri: str
    registered_version: str | None


def _experiment(tracking: Tracking, names: MlflowSettings) -> str:
    """The experiment, created if missing, set up for model training in the UI."""
    experiment_id = runs.ensure_experiment(tracking, names.experiment_name, names.artifact_location)
    tags = pages.experiment_tags(tracking.uri, experiment_id, names.registered_model_name)
    runs.set_experiment_tags(tracking, experiment_id, tags)
    return experiment_id


def _log(
    tracking: Tracking, names: MlflowSettings, experiment_id: str, record: TrainingRecord
) -> _Logged:
    run_id = runs.create_run(tracking, experiment_id, run_content(record))
    with runs.failing_on_error(tracking, run_id):
        example = features_of(record.train).head(5)
        profile = reference_profile(record.train, record.evaluation.predicted)
        model_id = log_shipped_model(
            tracking, experiment_id, run_id, record.pipeline, example, run_params(record), profile
        )
        version = None
        if record.evaluation.passed:
            version = _register(tracking, names, experiment_id, run_id, model_id, record)
            runs.set_run_tags(tracking, run_id, {REGISTERED_VERSION_TAG: version})
        runs.finish_run(tracking, run_id)
    return _Logged(run_id, f"models:/{model_id}", version)


def _register(
    tracking: Tracking,
    names: MlflowSettings,
    experiment_id: str,
    run_id: str,
    model_id: str,
    record: TrainingRecord,
) -> str:
    name = names.registered_model_name
    registry.ensure_registered_model(tracking, name, pages.MODEL_DESCRIPTION)
    description = pages.version_description(
        run_name=record.run_name,
        model=record.model,
        metrics=record.evaluation.metrics,
        n_test=len(record.test),
        run_url=run_url(tracking.uri, experiment_id, run_id),
        flow_run_url=record.flow_run_url,
        lineage=record.lineage,
    )
    tags = pages.version_tags(record.model, record.lineage, record.evaluation.metrics)
    return registry.register_version(tracking, name, model_id, run_id, tags, description).version


def _registered_note(logged: _Logged, names: MlflowSettings) -> list[str]:
    if logged.registered_version is None:
        return []
    return [
        f"model version {logged.registered_version} of {names.registered_model_name} "
        f"(run {logged.run_id})"
    ]
