"""Runs and experiments: written as they are given, finished values only.

What a run holds, what it is named and how its pages read are decided by the use case that
logs it (housing_core.training for a training); this module only writes and finds them.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import mlflow
import pandas as pd
from matplotlib.figure import Figure
from mlflow.entities import DatasetInput, InputTag, Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from housing_core.tracking.connection import (
    ArtifactStoreError,
    Tracking,
    first_line,
    is_artifact_store_failure,
)


@dataclass(frozen=True)
class DatasetRecord:
    """A data set input of a run: its rows, where they came from and their content's digest."""

    frame: pd.DataFrame
    name: str
    context: str  # training, evaluation, scoring: how the run used it
    source: str  # a URI
    digest: str
    targets: str | None = None


@dataclass(frozen=True)
class RunContent:
    """Everything a run holds, finished: names, tags, values, data sets, figures, texts."""

    name: str
    tags: Mapping[str, str]
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    datasets: tuple[DatasetRecord, ...] = ()
    figures: Mapping[str, Figure] = field(default_factory=dict)
    texts: Mapping[str, str] = field(default_factory=dict)
    start_time_ms: int | None = None  # when the work began, if before the run is created


def ensure_experiment(tracking: Tracking, name: str, artifact_location: str | None) -> str:
    """The experiment's id, created if missing."""
    client = tracking.client
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        with suppress(MlflowException):  # created meanwhile by a concurrent run
            client.create_experiment(name, artifact_location=artifact_location)
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise MlflowException(f"experiment {name!r} could not be created")
    return str(experiment.experiment_id)


def set_experiment_tags(tracking: Tracking, experiment_id: str, tags: Mapping[str, str]) -> None:
    """Set the tags that differ from the experiment's current ones."""
    current = tracking.client.get_experiment(experiment_id).tags
    for key, value in tags.items():
        if current.get(key) != value:
            tracking.client.set_experiment_tag(experiment_id, key, value)


def fail_runs_left_running(
    tracking: Tracking, experiment_id: str, owner_tag: str, owner_is_gone: Callable[[str], bool]
) -> list[str]:
    """Mark FAILED the runs left RUNNING whose owner (named in `owner_tag`) has ended."""
    running = tracking.client.search_runs(
        [experiment_id], filter_string="attributes.status = 'RUNNING'"
    )
    orphans = [
        run.info.run_id
        for run in running
        if run.data.tags.get(owner_tag) and owner_is_gone(run.data.tags[owner_tag])
    ]
    for run_id in orphans:
        tracking.client.set_terminated(run_id, status="FAILED")
    return orphans


def find_finished_run(tracking: Tracking, experiment_id: str, tag: str, value: str) -> str | None:
    """The earliest FINISHED run whose `tag` is `value`."""
    runs = tracking.client.search_runs(
        [experiment_id],
        filter_string=f"attributes.status = 'FINISHED' and tags.`{tag}` = '{value}'",
        order_by=["attributes.start_time ASC"],
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


def find_runs(tracking: Tracking, experiment_id: str, tag: str, value: str) -> list[str]:
    """Every run whose `tag` is `value`, whatever its status, the earliest first."""
    found = tracking.client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{tag}` = '{value}'",
        order_by=["attributes.start_time ASC"],
    )
    return [run.info.run_id for run in found]


def create_run(tracking: Tracking, experiment_id: str, content: RunContent) -> str:
    """A new RUNNING run holding `content`; finish it with `finish_run`."""
    client = tracking.client
    run = client.create_run(
        experiment_id,
        start_time=content.start_time_ms,
        run_name=content.name,
        tags=dict(content.tags),
    )
    run_id = str(run.info.run_id)
    with failing_on_error(tracking, run_id):
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in content.metrics.items()],
            params=[Param(k, v) for k, v in content.params.items()],
        )
        for dataset in content.datasets:
            _log_dataset(tracking, run_id, dataset)
        for path, figure in content.figures.items():
            client.log_figure(run_id, figure, path)
        for path, text in content.texts.items():
            client.log_text(run_id, text, path)
    return run_id


def find_run(tracking: Tracking, experiment_id: str, tags: Mapping[str, str]) -> str | None:
    """The newest run (any status) carrying every one of `tags`."""
    condition = " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())
    runs = tracking.client.search_runs(
        [experiment_id],
        filter_string=condition,
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


def add_to_run(tracking: Tracking, run_id: str, content: RunContent) -> None:
    """Tags, metrics, figures and texts added to an existing run (its name is left alone)."""
    client = tracking.client
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in content.metrics.items()],
        params=[Param(k, v) for k, v in content.params.items()],
        tags=[RunTag(k, v) for k, v in content.tags.items()],
    )
    for path, figure in content.figures.items():
        client.log_figure(run_id, figure, path)
    for path, text in content.texts.items():
        client.log_text(run_id, text, path)


def end_run(tracking: Tracking, run_id: str, status: str) -> None:
    """Set a run's status: FINISHED, FAILED, or RUNNING again (a resumed parent)."""
    if status == "RUNNING":
        tracking.client.update_run(run_id, status="RUNNING")
    else:
        tracking.client.set_terminated(run_id, status=status)


def set_run_tags(tracking: Tracking, run_id: str, tags: Mapping[str, str]) -> None:
    tracking.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])


def run_tags(tracking: Tracking, run_id: str) -> dict[str, str]:
    return dict(tracking.client.get_run(run_id).data.tags)


def finish_run(tracking: Tracking, run_id: str) -> None:
    tracking.client.set_terminated(run_id, status="FINISHED")


@contextmanager
def failing_on_error(tracking: Tracking, run_id: str) -> Iterator[None]:
    """Mark the run FAILED if the block raises (best effort: the server may be what failed;
    then the next run of the same work sweeps it, see `fail_runs_left_running`)."""
    try:
        yield
    except BaseException as exc:
        with suppress(Exception):
            tracking.client.set_terminated(run_id, status="FAILED")
        if isinstance(exc, Exception) and is_artifact_store_failure(exc):
            raise ArtifactStoreError(
                f"the artifact store of MLflow at {tracking.uri} did not take run {run_id}'s "
                f"files: {first_line(exc)}; the run is marked FAILED"
            ) from exc
        raise


def _log_dataset(tracking: Tracking, run_id: str, dataset: DatasetRecord) -> None:
    with warnings.catch_warnings():  # a local path matches two equivalent source types
        warnings.simplefilter("ignore", UserWarning)
        entity = mlflow.data.from_pandas(  # type: ignore[attr-defined]
            dataset.frame,
            source=dataset.source,
            targets=dataset.targets,
            name=dataset.name,
            digest=dataset.digest,
        )
    tracking.client.log_inputs(
        run_id,
        datasets=[
            DatasetInput(
                entity._to_mlflow_entity(),
                tags=[InputTag("mlflow.data.context", dataset.context)],
            )
        ],
    )
