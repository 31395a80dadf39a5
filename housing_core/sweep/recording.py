"""What a sweep records in MLflow: one parent run per study, a child run per trial, and on the
parent the ranked table and the score against each parameter.

The parent is found again by its study's name: a sweep stopped and started again adds its
trials under the same parent. A trial is recorded by the flow once it is told to the study,
never by the worker that computed it (workers need no MLflow credentials), and once only: its
key (configuration, data, code) under its parent is looked up first.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from housing_core.reports.markdown import markdown_table
from housing_core.reports.plots import score_against_params
from housing_core.settings import MlflowSettings, SweepSettings
from housing_core.sweep.ranking import TrialOutcome, best, rank, ranking_csv_rows, ranking_rows
from housing_core.sweep.space import SearchSpace
from housing_core.tracking.connection import Tracking
from housing_core.tracking.runs import (
    RunContent,
    add_to_run,
    create_run,
    end_run,
    ensure_experiment,
    find_run,
)

PARENT_TAG = "mlflow.parentRunId"
STUDY_TAG = "housing.sweep.study"
TRIAL_KEY_TAG = "housing.sweep.trial_key"
TRIAL_NUMBER_TAG = "housing.sweep.trial"
WORKER_TAG = "housing.sweep.worker"
ERROR_TAG = "housing.sweep.error"
SWEEP_ROLE_TAG = "housing.sweep.role"


@dataclass(frozen=True)
class SweepRun:
    tracking_uri: str
    experiment_id: str
    run_id: str


def open_parent_run(
    tracking: Tracking,
    mlflow: MlflowSettings,
    sweep: SweepSettings,
    space: SearchSpace,
    data_version: str,
) -> SweepRun:
    """The study's parent run, found again or created; RUNNING while the sweep runs."""
    experiment = ensure_experiment(tracking, sweep.experiment_name, mlflow.artifact_location)
    found = find_run(tracking, experiment, {STUDY_TAG: sweep.study_name, SWEEP_ROLE_TAG: "parent"})
    if found is not None:
        end_run(tracking, found, "RUNNING")
        return SweepRun(tracking.uri, experiment, found)
    content = RunContent(
        name=sweep.study_name,
        tags={
            STUDY_TAG: sweep.study_name,
            SWEEP_ROLE_TAG: "parent",
            "housing.model_family": space.family,
            "housing.data_version": data_version,
        },
        params={
            "family": space.family,
            "sampler": sweep.sampler,
            "seed": str(sweep.seed),
            "validation_fraction": str(sweep.validation_fraction),
            "space": space.origin,
            **{f"space.{p.name}": _describe(p) for p in space.params},
        },
    )
    return SweepRun(tracking.uri, experiment, create_run(tracking, experiment, content))


def record_trial(tracking: Tracking, parent: SweepRun, outcome: TrialOutcome, key: str) -> str:
    """The trial's child run (FINISHED or FAILED), unless its key was recorded already."""
    tags = {PARENT_TAG: parent.run_id, TRIAL_KEY_TAG: key}
    found = find_run(tracking, parent.experiment_id, tags)
    if found is not None:
        return found
    content = RunContent(
        name=f"trial-{outcome.number}",
        tags={
            **tags,
            TRIAL_NUMBER_TAG: str(outcome.number),
            WORKER_TAG: outcome.worker,
            SWEEP_ROLE_TAG: "trial",
            **({ERROR_TAG: outcome.error[:5000]} if outcome.error else {}),
        },
        params={name: str(value) for name, value in outcome.params.items()},
        metrics={
            **{f"validation_{k}": v for k, v in outcome.metrics.items()},
            "fit_seconds": round(outcome.seconds, 3),
        },
    )
    run_id = create_run(tracking, parent.experiment_id, content)
    end_run(tracking, run_id, "FINISHED" if outcome.state == "complete" else "FAILED")
    return run_id


def record_missing(
    tracking: Tracking, parent: SweepRun, keyed: Iterable[tuple[TrialOutcome, str]]
) -> list[str]:
    """Child runs for the study's finished trials that have none under `parent`: a sweep
    stopped after telling a trial, before recording it. One search for what is recorded."""
    recorded = {
        run.data.tags.get(TRIAL_KEY_TAG)
        for run in tracking.client.search_runs(
            [parent.experiment_id],
            filter_string=f"tags.`{PARENT_TAG}` = '{parent.run_id}'",
            max_results=50000,
        )
    }
    return [
        record_trial(tracking, parent, outcome, key)
        for outcome, key in keyed
        if key not in recorded
    ]


def record_ranking(
    tracking: Tracking,
    parent: SweepRun,
    outcomes: Iterable[TrialOutcome],
    space: SearchSpace,
    extra_tags: dict[str, str] | None = None,
) -> None:
    """The ranked table (CSV and Markdown), the score against each parameter, the best
    trial's values and score; then the parent is FINISHED."""
    ranked = rank(outcomes)
    names = space.names()
    top = best(ranked)
    csv = io.StringIO()
    pd.DataFrame(ranking_csv_rows(ranked, names)).to_csv(csv, index=False)
    points: dict[str, list[tuple[object, float]]] = {
        name: [(o.params.get(name), o.value) for o in ranked if o.state == "complete"]
        for name in names
    }
    figure = score_against_params(points, dict(top.params) if top else None, "validation RMSE")
    metrics: dict[str, float] = {
        "trials_complete": float(sum(o.state == "complete" for o in ranked)),
        "trials_failed": float(sum(o.state == "failed" for o in ranked)),
    }
    tags = dict(extra_tags or {})
    if top is not None:
        metrics.update({f"best_validation_{k}": v for k, v in top.metrics.items()})
        tags["housing.sweep.best_trial"] = str(top.number)
        tags.update({f"housing.sweep.best.{k}": str(v) for k, v in top.params.items()})
    add_to_run(
        tracking,
        parent.run_id,
        RunContent(
            name="",
            tags=tags,
            metrics=metrics,
            figures={"plots/score_vs_params.png": figure},
            texts={
                "ranking/trials.csv": csv.getvalue(),
                "ranking/trials.md": markdown_table(ranking_rows(ranked, names)),
            },
        ),
    )
    end_run(tracking, parent.run_id, "FINISHED")


def _describe(param: Any) -> str:
    if param.kind == "categorical":
        return f"one of {list(param.choices)}"
    scale = " (log)" if param.log else f" step {param.step:g}" if param.step else ""
    return f"{param.kind} {param.low:g}..{param.high:g}{scale}"
