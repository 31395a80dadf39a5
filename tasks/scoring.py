"""Batch-scoring steps: resolve the version, survey the input, check the destination, score,
record. The scoring step shows its progress as a Prefect progress artifact."""

from __future__ import annotations

import time
from pathlib import Path
from uuid import UUID

from prefect import task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE

from housing_core import storage
from housing_core.data import source as sources
from housing_core.scoring import batch, partitions, recording, target
from housing_core.scoring.batch import BatchResult
from housing_core.scoring.partitions import Partition, PartitionResult
from housing_core.scoring.target import Target
from housing_core.settings import (
    DriftSettings,
    EnvironmentPolicy,
    MlflowSettings,
    ScoringSettings,
    load_settings,
)
from housing_core.tracking.connection import open_tracking
from tasks.retries import retry_unless_bad_data
from tasks.runtime import worker_name
from tasks.tracking import MLFLOW_RETRY_DELAYS

PROGRESS_EVERY_S = 1.0


@task(
    name="resolve-version",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=MLFLOW_RETRY_DELAYS,
)
def resolve_version(
    mlflow: MlflowSettings,
    alias: str | None,
    version: str | None,
    state_dir: Path,
    policy: EnvironmentPolicy,
) -> Target:
    """The version to score with, resolved once and downloaded, with its profile."""
    with open_tracking(mlflow) as tracking:
        return target.resolve(
            tracking, mlflow.registered_model_name, alias, version, state_dir, policy
        )


@task(
    name="survey-source",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[2, 5],
    retry_condition_fn=retry_unless_bad_data,
)
def survey_source(location: str, timeout_s: float) -> storage.Survey:
    """The input's content hash and row count, in one read: fails fast if it is unreachable."""
    with sources.readable(location):
        return storage.survey(location, timeout_s)


@task(name="check-destination", cache_policy=NO_CACHE)
def check_destination(destination: str, run_id: str) -> None:
    """Writable, before any scoring (nothing is left behind by the check)."""
    storage.open_output(destination, f"{run_id}-probe").abort()


@task(name="score-batch", cache_policy=NO_CACHE)
def score_batch(
    source: str,
    destination: str | None,
    scored_by: Target,
    scoring: ScoringSettings,
    drift: DriftSettings,
    run_id: str,
    expected_rows: int,
) -> BatchResult:
    """Not retried: a failed scoring leaves nothing behind, and is run again whole."""
    with ScoringProgress(expected_rows, scored_by.label) as progress:
        return batch.score_batch(
            source, destination, scored_by, scoring, drift, run_id, progress=progress.update
        )


@task(name="open-staging", cache_policy=NO_CACHE)
def open_staging(destination: str, run_id: str) -> storage.Staging:
    """Where the cluster's workers write the run's parts, checked writable first."""
    return storage.open_staging(destination, run_id)


@task(name="score-partition", cache_policy=NO_CACHE)
def score_partition(
    partition: Partition,
    scored_by: Target,
    scoring: ScoringSettings,
    staging: storage.Staging,
    schema: object,
    source: str,
) -> PartitionResult:
    """One partition priced and written as one part, on whichever worker runs it; not
    retried by Prefect (Dask re-runs it elsewhere if its worker dies)."""
    result = partitions.score_partition(
        partition, here(scored_by), scoring, staging, schema, source
    )
    result.worker = worker_name()
    return result


def here(scored_by: Target) -> Target:
    """The version on this machine: as resolved by the flow if its folder and interpreter are
    here (a shared state folder), else downloaded again with this worker's own settings."""
    if scored_by.model_dir.is_dir() and scored_by.interpreter.python.exists():
        return scored_by
    settings = load_settings()
    with open_tracking(settings.mlflow) as tracking:
        return target.resolve(
            tracking,
            scored_by.version.name,
            None,
            scored_by.version.version,
            settings.state_dir,
            settings.serving.environment,
        )


@task(name="commit-partitions", cache_policy=NO_CACHE)
def commit_partitions(
    staging: storage.Staging,
    results: list[PartitionResult],
    scored_by: Target,
    scoring: ScoringSettings,
    drift: DriftSettings,
    source: str,
    destination: str,
    seconds: float,
) -> BatchResult:
    """Every part is in: the counts merged, the drift checked, then the manifest (or the
    file) written; the parts are discarded if any of it fails."""
    try:
        counted, report = partitions.merge(results, scored_by, scoring, drift)
        return partitions.commit(
            staging, results, counted, report, source, destination, scored_by, seconds
        )
    except BaseException:
        staging.discard()
        raise


@task(
    name="record-scoring",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=MLFLOW_RETRY_DELAYS,
)
def record_scoring(
    mlflow: MlflowSettings,
    scoring: ScoringSettings,
    result: BatchResult,
    scored_by: Target,
    run_name: str,
    input_hash: str,
    flow_run_id: str,
) -> str:
    with open_tracking(mlflow) as tracking:
        return recording.record_scoring(
            tracking,
            scoring,
            result,
            scored_by,
            run_name=run_name,
            input_hash=input_hash,
            flow_run_id=flow_run_id,
            artifact_location=mlflow.artifact_location,
        )


class ScoringProgress:
    """The progress artifact of a scoring, updated at most once a second: by the scoring step
    on one machine, by the flow as partitions come back from a cluster."""

    def __init__(self, expected_rows: int, label: str) -> None:
        self.expected = max(expected_rows, 1)
        self.shown = 0.0
        created = create_progress_artifact(
            progress=0.0,
            key="housing-scoring-progress",
            description=f"rows priced by {label}, of about {expected_rows:,}",
        )
        assert isinstance(created, UUID)  # called from sync code: the id, not a coroutine
        self.artifact = created

    def __enter__(self) -> ScoringProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            update_progress_artifact(self.artifact, 100.0)

    def update(self, rows: int) -> None:
        if time.monotonic() - self.shown < PROGRESS_EVERY_S:
            return
        self.shown = time.monotonic()
        update_progress_artifact(self.artifact, min(100.0, 100.0 * rows / self.expected))


@task(
    name="record-drift-check",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=MLFLOW_RETRY_DELAYS,
)
def record_drift_check(
    mlflow: MlflowSettings,
    drift: DriftSettings,
    result: BatchResult,
    scored_by: Target,
    run_name: str,
    input_hash: str,
    flow_run_id: str,
) -> str:
    with open_tracking(mlflow) as tracking:
        return recording.record_drift_check(
            tracking,
            drift.experiment_name,
            result,
            scored_by,
            run_name=run_name,
            input_hash=input_hash,
            flow_run_id=flow_run_id,
            artifact_location=mlflow.artifact_location,
        )
