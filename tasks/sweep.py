"""Sweep steps: open the study, run a trial where the runner puts it, record trials and the
ranking in MLflow. The data steps are the training flow's (tasks/data.py), cached the same."""

from __future__ import annotations

from pathlib import Path

import optuna
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from housing_core.settings import MlflowSettings, ModelConfig, SplitSettings, SweepSettings
from housing_core.sweep import recording, study
from housing_core.sweep.ranking import TrialOutcome
from housing_core.sweep.space import SearchSpace
from housing_core.sweep.trial import TrialScore, score_trial
from housing_core.tracking.connection import open_tracking
from housing_core.versioning import MODEL_CODE
from tasks.caching import step_cache
from tasks.runtime import worker_name

# a trial's key: its configuration and rows (inputs), this task's source, and the code behind
# a score (the model, the fold, the fitting and the metrics)
TRIAL_CODE = (
    *MODEL_CODE,
    "evaluation/metrics.py",
    "training/fitting.py",
    "sweep/folds.py",
    "sweep/trial.py",
)
TRIAL_CACHE = step_cache(*TRIAL_CODE)


class DaskUnavailableError(RuntimeError):
    """The Dask scheduler of `dask.address` did not answer: names it."""


@task(name="check-dask-scheduler", cache_policy=NO_CACHE)
def check_dask_scheduler(address: str, timeout_s: float = 15.0) -> int:
    """Fail in seconds, naming the address, before any MLflow run is opened; returns how
    many workers the scheduler has."""
    from distributed import Client

    try:
        with Client(address, timeout=timeout_s) as client:  # type: ignore[no-untyped-call]
            return len(client.scheduler_info()["workers"])
    except OSError as exc:
        raise DaskUnavailableError(
            f"Dask scheduler at {address} (dask.address) did not answer within "
            f"{timeout_s:.0f} s: {type(exc).__name__}"
        ) from None


@task(name="open-study", cache_policy=NO_CACHE)
def open_study(settings: SweepSettings, state_dir: Path, space: SearchSpace) -> optuna.Study:
    """The study, created or resumed; trials a stopped sweep left running are proposed again."""
    opened = study.open_study(
        settings, study.open_storage(study.storage_url(settings, state_dir)), space
    )
    study.resume_interrupted(opened)
    return opened


@task(name="sweep-trial", cache_policy=TRIAL_CACHE, persist_result=True)
def run_trial(
    train: pd.DataFrame, config: ModelConfig, validation_fraction: float, split: SplitSettings
) -> TrialScore:
    """Fit and score one configuration on the validation fold of the training rows."""
    return score_trial(train, config, validation_fraction, split, worker=worker_name())


@task(name="open-sweep-run", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 5])
def open_sweep_run(
    mlflow: MlflowSettings, sweep: SweepSettings, space: SearchSpace, data_version: str
) -> recording.SweepRun:
    with open_tracking(mlflow) as tracking:
        return recording.open_parent_run(tracking, mlflow, sweep, space, data_version)


@task(name="record-trial", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 5])
def record_trial(
    mlflow: MlflowSettings, parent: recording.SweepRun, outcome: TrialOutcome, key: str
) -> str:
    with open_tracking(mlflow) as tracking:
        return recording.record_trial(tracking, parent, outcome, key)


@task(name="record-missed-trials", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 5])
def record_missed_trials(
    mlflow: MlflowSettings, parent: recording.SweepRun, keyed: list[tuple[TrialOutcome, str]]
) -> int:
    """Earlier sweeps' finished trials that were told to the study but never recorded (the
    sweep stopped in between) get their child runs; returns how many."""
    with open_tracking(mlflow) as tracking:
        return len(recording.record_missing(tracking, parent, keyed))


@task(name="record-ranking", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 5])
def record_ranking(
    mlflow: MlflowSettings,
    parent: recording.SweepRun,
    outcomes: list[TrialOutcome],
    space: SearchSpace,
    tags: dict[str, str],
) -> None:
    with open_tracking(mlflow) as tracking:
        recording.record_ranking(tracking, parent, outcomes, space, tags)
