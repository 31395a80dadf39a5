"""housing-sweep: search a model family's hyperparameters, then register the best through the
training flow's own gates.

Optuna proposes (ask and tell, in this process only); each trial is a Prefect task, on the Dask
cluster of HOUSING_DASK__ADDRESS when it is set, else on local threads, scored on a validation
fold carved from the training rows. Run it with
`python -m flows.sweep --trials N --parallelism P [--space FILE]`, or through the
`housing-sweep/search` deployment.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import optuna
from prefect import flow
from prefect.client.schemas.objects import State
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from prefect_dask.task_runners import DaskTaskRunner
from pydantic import BaseModel

from flows.embedded import run_embedded
from flows.training import TrainingSummary, training_flow
from housing_core.data.source import DataSourceError
from housing_core.data.validation import DataValidationError
from housing_core.formatting import format_metric
from housing_core.settings import ModelConfig, Settings, SettingsError, load_settings
from housing_core.sweep import proposals, study
from housing_core.sweep.ranking import TrialOutcome, best, ranking_rows
from housing_core.sweep.recording import SweepRun
from housing_core.sweep.space import SearchSpace, SpaceError, load_space
from housing_core.sweep.study import StudyStorageError
from housing_core.sweep.trial import TrialScore
from housing_core.tracking.connection import ArtifactStoreError, TrackingUnavailableError
from housing_core.versioning import code_version, frame_version, training_key
from tasks.caching import cache_locks
from tasks.data import prepare_data
from tasks.reports import publish_table, show_progress, start_progress
from tasks.runtime import describe_flow_run, flow_body, this_run_id
from tasks.sweep import (
    TRIAL_CODE,
    DaskUnavailableError,
    check_dask_scheduler,
    open_study,
    open_sweep_run,
    record_missed_trials,
    record_ranking,
    record_trial,
    run_trial,
)
from tasks.tracking import check_tracking_server


class SweepSummary(BaseModel):
    flow_run_id: str
    study_name: str
    trials: list[dict[str, Any]]  # number, state, params, validation_rmse, worker, error
    best_trial: int | None
    best_params: dict[str, Any]
    best_validation_rmse: float | None
    parent_run_id: str
    experiment_id: str
    registered_version: str | None
    held_out_metrics: dict[str, float]


@flow(name="housing-sweep", validate_parameters=True)
@flow_body(
    SettingsError,
    SpaceError,
    StudyStorageError,
    DataSourceError,
    DataValidationError,
    TrackingUnavailableError,
    ArtifactStoreError,
    DaskUnavailableError,
)
def sweep_flow(
    trials: int | None = None,
    parallelism: int | None = None,
    space: str | None = None,
    sampler: str | None = None,
    register_best: bool | None = None,
    study_name: str | None = None,
    data_source: str | None = None,
) -> SweepSummary | State[Any]:
    """Search hyperparameters; register the best configuration if it passes the gates.

    Args:
        trials: the study's total of finished trials (a resumed study counts its own).
        parallelism: trials in flight at once.
        space: a search-space YAML file, or a family's name for its shipped space
            (`random_forest`); default: the configured model's family.
        sampler: tpe (default), random or grid.
        register_best: retrain the best on all training rows and register it (default on).
        study_name: the Optuna study, resumed when it exists.
        data_source: URL or path of housing.csv; default HOUSING_DATA__SOURCE.
    """
    settings = load_settings(
        overrides(trials, parallelism, sampler, register_best, study_name, data_source)
    )
    searched = load_space(space or settings.model.family)  # a bad space: nothing has started
    describe_flow_run(run_name(settings.sweep.study_name), f"model:{searched.family}")
    opened = open_study(settings.sweep, settings.state_dir, searched)

    data = prepare_data(settings.data, settings.split, cache_locks(settings.cache))
    check_tracking_server(settings.mlflow)
    if settings.dask.address:
        check_dask_scheduler(settings.dask.address)
    parent = open_sweep_run(settings.mlflow, settings.sweep, searched, data.ingested.version)

    outcomes = search(opened, searched, settings, data.parts.train, parent)

    ranked_rows = ranking_rows(outcomes, searched.names())
    publish_table(
        key="housing-sweep-ranking",
        rows=ranked_rows,
        description=f"{settings.sweep.study_name}: {len(outcomes)} trials, best first",
    )
    top = best(outcomes)
    registered: dict[str, Any] = {}
    if top is not None and settings.sweep.register_best:
        registered = register(searched.config(top.params, settings.model), data_source)
    record_ranking(
        settings.mlflow,
        parent,
        outcomes,
        searched,
        {"housing.sweep.registered_version": str(registered.get("registered_version") or "")},
    )
    return SweepSummary(
        flow_run_id=this_run_id(),
        study_name=settings.sweep.study_name,
        trials=[
            {
                "number": o.number,
                "state": o.state,
                "params": dict(o.params),
                "validation_rmse": o.metrics.get("rmse"),
                "worker": o.worker,
                "error": o.error,
            }
            for o in sorted(outcomes, key=lambda o: o.number)
        ],
        best_trial=top.number if top else None,
        best_params=dict(top.params) if top else {},
        best_validation_rmse=top.value if top else None,
        parent_run_id=parent.run_id,
        experiment_id=parent.experiment_id,
        registered_version=registered.get("registered_version"),
        held_out_metrics=registered.get("metrics") or {},
    )


def search(
    opened: optuna.Study, space: SearchSpace, settings: Settings, train: Any, parent: SweepRun
) -> list[TrialOutcome]:
    """Ask and tell: keep `parallelism` trials in flight until the study holds `trials`
    finished ones; each is told, then recorded, as it ends. A failed trial is told FAIL and
    the search goes on. Returns every finished trial of the study, earlier sweeps' included."""
    sweep = settings.sweep
    total = sweep.trials
    if sweep.sampler == "grid":
        total = min(total, proposals.grid_size(space))
    data_code = (frame_version(train), code_version(*TRIAL_CODE))

    def key_of(config: ModelConfig) -> str:
        parameters = {
            "validation_fraction": sweep.validation_fraction,
            "split": settings.split,
            "train": None,
            "config": config,
        }
        return training_key(*data_code, parameters)

    outcomes = study.outcomes_of(opened)
    if outcomes:  # told to the study by an earlier sweep, maybe stopped before recording them
        keys = study.keys_of(opened)
        keyed = [
            (o, keys.get(o.number) or key_of(space.config(o.params, settings.model)))
            for o in outcomes
        ]
        record_missed_trials(settings.mlflow, parent, keyed)
    left = study.trials_left(opened, total)
    progress = start_progress(total, progress_text(len(outcomes), total, outcomes))
    step = run_trial.with_options(timeout_seconds=sweep.trial_timeout_s)
    in_flight: dict[PrefectFuture[TrialScore], tuple[optuna.Trial, dict[str, Any], str, float]] = {}
    asked = 0
    with trial_runner(settings) as runner:
        while asked < left or in_flight:
            while asked < left and len(in_flight) < sweep.parallelism:
                trial = opened.ask()
                values = proposals.suggest(trial, space)
                config = space.config(values, settings.model)
                parameters = {
                    "train": train,
                    "config": config,
                    "validation_fraction": sweep.validation_fraction,
                    "split": settings.split,
                }
                key = key_of(config)
                trial.set_user_attr(study.KEY_ATTR, key)  # before it runs: a stop may follow
                named = step.with_options(task_run_name=f"sweep-trial-{trial.number}")
                in_flight[runner.submit(named, parameters)] = (trial, values, key, time.monotonic())
                asked += 1
            finished = next(as_completed(list(in_flight)))
            trial, values, key, started = in_flight.pop(finished)
            outcome = tell(opened, trial, values, finished, time.monotonic() - started)
            record_trial(settings.mlflow, parent, outcome, key)
            outcomes.append(outcome)
            show_progress(
                progress, len(outcomes), total, progress_text(len(outcomes), total, outcomes)
            )
    return outcomes


def tell(
    opened: optuna.Study,
    trial: optuna.Trial,
    values: dict[str, Any],
    finished: PrefectFuture[TrialScore],
    seconds: float,
) -> TrialOutcome:
    """The trial's end told to the study: its validation RMSE, or FAIL with the reason."""
    finished.wait()
    state = finished.state
    if state.is_completed():
        score = finished.result()
        return study.tell_complete(
            opened, trial, values, score.metrics, score.worker, score.fit_seconds
        )
    reason = f"{state.name}: {state.message or ''}".strip()
    return study.tell_failed(opened, trial, values, reason, seconds)


def progress_text(done: int, total: int, outcomes: list[TrialOutcome]) -> str:
    top = best(outcomes)
    failed = sum(o.state == "failed" for o in outcomes)
    best_text = f"; best validation RMSE {format_metric('rmse', top.value)}" if top else ""
    return f"{done} of {total} trials done ({failed} failed){best_text}"


def trial_runner(settings: Settings) -> AbstractContextManager[TaskRunner[Any]]:
    """The Dask cluster at `dask.address` (its workers must import this project), or local
    threads, one per trial in flight."""
    if settings.dask.address:
        return DaskTaskRunner(address=settings.dask.address)
    return ThreadPoolTaskRunner(max_workers=settings.sweep.parallelism)


def register(config: ModelConfig, data_source: str | None) -> dict[str, Any]:
    """The best configuration trained on all training rows, evaluated on the held-out rows and
    registered if it passes the registration gates: the training flow itself, as a subflow."""
    state = training_flow(
        model=config.model_dump(mode="json"), data_source=data_source, return_state=True
    )
    if not state.is_completed():
        return {"registered_version": None, "metrics": {}, "message": state.message}
    summary = state.result()
    assert isinstance(summary, TrainingSummary)
    return {"registered_version": summary.registered_version, "metrics": summary.metrics}


def run_name(study_name: str, at: datetime | None = None) -> str:
    """`sweep-<study>-20261202-210000`, or the name `housing-run` gave at submission."""
    given = flow_run.get_name() or ""
    if given.startswith(f"sweep-{study_name}-"):
        return given
    return f"sweep-{study_name}-{(at or datetime.now(UTC)):%Y%m%d-%H%M%S}"


def name_run(params: dict[str, Any]) -> str:
    """What `housing-run` names a sweep at submission."""
    try:
        study_name = load_settings(overrides(**params)).sweep.study_name
    except (SettingsError, TypeError):
        return "invalid-settings"
    return f"sweep-{study_name}-{datetime.now(UTC):%Y%m%d-%H%M%S}"


def overrides(
    trials: int | None = None,
    parallelism: int | None = None,
    sampler: str | None = None,
    register_best: bool | None = None,
    study_name: str | None = None,
    data_source: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    """The flow's parameters as the settings tree's partial overrides (None: not given)."""
    sweep = {
        "trials": trials,
        "parallelism": parallelism,
        "sampler": sampler,
        "register_best": register_best,
        "study_name": study_name,
    }
    return {
        "sweep": {k: v for k, v in sweep.items() if v is not None},
        "data": None if data_source is None else {"source": data_source},
    }


def main(argv: list[str] | None = None) -> int:
    """CLI entry: the summary goes to stdout as JSON."""
    parser = argparse.ArgumentParser(prog="python -m flows.sweep", description=__doc__)
    parser.add_argument("--trials", type=int, help="finished trials the study should hold")
    parser.add_argument("--parallelism", type=int, help="trials in flight at once")
    parser.add_argument("--space", help="search-space YAML file, or a family's name")
    parser.add_argument("--sampler", choices=["tpe", "random", "grid"])
    parser.add_argument("--study-name")
    parser.add_argument("--no-register", action="store_true", help="do not register the best")
    args = parser.parse_args(argv)
    state: State[Any] = run_embedded(
        sweep_flow,
        trials=args.trials,
        parallelism=args.parallelism,
        space=args.space,
        sampler=args.sampler,
        register_best=False if args.no_register else None,
        study_name=args.study_name,
    )
    if not state.is_completed():
        print(state.message or "sweep failed", file=sys.stderr)
        return 1
    print(state.result().model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
