"""The validation fold comes from the training rows only; trials rank best first; a storage
URL's password never shows."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pandas as pd
import pytest

from housing_core.data.split import split_frame
from housing_core.settings import SplitSettings, SweepSettings
from housing_core.sweep.folds import validation_split
from housing_core.sweep.proposals import suggest
from housing_core.sweep.ranking import TrialOutcome, best, rank, ranking_rows
from housing_core.sweep.space import load_space
from housing_core.sweep.study import (
    StudyStorageError,
    open_storage,
    open_study,
    outcomes_of,
    redact,
    resume_interrupted,
    tell_complete,
    trials_left,
)


def test_the_validation_fold_is_carved_from_the_training_rows_only(data_source: str) -> None:
    frame = pd.read_csv(data_source)
    parts = split_frame(frame, 0.2, "housing-v1")
    fold = validation_split(parts.train, 0.2, SplitSettings())
    assert len(fold.train) + len(fold.test) == len(parts.train)
    assert 0.17 < len(fold.test) / len(parts.train) < 0.23
    held_out = set(map(tuple, parts.test.astype(str).to_numpy()))
    validation = set(map(tuple, fold.test.astype(str).to_numpy()))
    assert not held_out & validation
    # stable: a row's side does not move when other rows go
    again = validation_split(parts.train.iloc[::2], 0.2, SplitSettings())
    kept = set(map(tuple, again.test.astype(str).to_numpy()))
    assert kept <= validation


def test_trials_rank_by_validation_rmse_failed_last() -> None:
    outcomes = [
        TrialOutcome(0, {"n": 1}, "complete", {"rmse": 50_000.0, "mae": 1.0, "r2": 0.8}),
        TrialOutcome(1, {"n": 2}, "failed", error="TimedOut: too slow"),
        TrialOutcome(2, {"n": 3}, "complete", {"rmse": 41_000.0, "mae": 1.0, "r2": 0.9}),
    ]
    assert [o.number for o in rank(outcomes)] == [2, 0, 1]
    assert best(outcomes) == outcomes[2]
    assert math.isinf(outcomes[1].value)
    rows = ranking_rows(outcomes, ["n"])
    assert [r["rank"] for r in rows] == ["1", "2", "-"]
    assert rows[0]["validation rmse"] == "$41,000"
    assert best([outcomes[1]]) is None


def test_a_storage_error_hides_the_password() -> None:
    url = "postgresql://housing:s3cret-pw@127.0.0.1:1/optuna"
    assert "s3cret" not in redact(url)
    with pytest.raises(StudyStorageError) as raised:
        open_storage(url)
    assert "s3cret" not in str(raised.value)
    assert "127.0.0.1:1" in str(raised.value)
    with pytest.raises(StudyStorageError, match="scheme 'mysql'"):
        open_storage("mysql://u:s3cret-pw@h/db")


def test_a_study_stopped_mid_trial_resumes_with_that_trial_first(tmp_path: Path) -> None:
    settings = SweepSettings(study_name="resume", trials=3)
    space = load_space("random_forest")
    storage = open_storage(f"sqlite:///{tmp_path / 'optuna.db'}")
    study = open_study(settings, storage, space)
    trial = study.ask()
    tell_complete(study, trial, {"n_estimators": 100}, {"rmse": 1.0}, "dask-a", 0.5)
    stopped = study.ask()
    stopped.suggest_int("n_estimators", 100, 300, step=50)
    # a new process opens the same study: the stopped trial is closed, proposed again, and
    # neither it nor its rerun count twice
    resumed = open_study(settings, open_storage(f"sqlite:///{tmp_path / 'optuna.db'}"), space)
    assert resume_interrupted(resumed) == [stopped.params]
    assert trials_left(resumed, 3) == 2
    assert [o.worker for o in outcomes_of(resumed)] == ["dask-a"]
    assert suggest(resumed.ask(), space)["n_estimators"] == stopped.params["n_estimators"]


def test_a_study_searches_one_family(tmp_path: Path) -> None:
    settings = SweepSettings(study_name="one-family")
    storage = open_storage(f"sqlite:///{tmp_path / 'optuna.db'}")
    open_study(settings, storage, load_space("random_forest"))
    with pytest.raises(StudyStorageError, match="searches random_forest"):
        open_study(settings, storage, load_space("hist_gradient_boosting"))
    assert optuna.get_all_study_names(storage) == ["one-family"]


def test_a_resumed_study_does_not_propose_the_first_sweeps_values_again(tmp_path: Path) -> None:
    settings = SweepSettings(study_name="reseeded")
    space = load_space("random_forest")
    url = f"sqlite:///{tmp_path / 'optuna.db'}"

    def three_proposals() -> list[dict[str, object]]:
        opened = open_study(settings, open_storage(url), space)
        proposals = []
        for _ in range(3):
            trial = opened.ask()
            proposals.append(suggest(trial, space))
            tell_complete(opened, trial, proposals[-1], {"rmse": 1.0}, "", 0.0)
        return proposals

    first = three_proposals()
    assert three_proposals() != first
