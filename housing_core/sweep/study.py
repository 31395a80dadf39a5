"""The study: where Optuna keeps a sweep's trials, so that a sweep stopped and started again
resumes. SQLite in the state folder by default (one process: only the flow asks and tells),
a team's PostgreSQL (`postgresql://...`) or a Redis journal (`redis://...`) when
`sweep.storage` names one. Never Optuna's DaskStorage: it keeps the study on the scheduler,
dies with it, and is broken by Dask's pickling.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalRedisBackend
from optuna.trial import FrozenTrial, TrialState

from housing_core.settings import SweepSettings
from housing_core.sweep.proposals import make_sampler
from housing_core.sweep.ranking import TrialOutcome
from housing_core.sweep.space import SearchSpace

log = logging.getLogger(__name__)

FAMILY_ATTR = "housing.family"
INTERRUPTED_ATTR = "housing.interrupted"
METRICS_ATTR = "housing.metrics"
WORKER_ATTR = "housing.worker"
SECONDS_ATTR = "housing.seconds"
ERROR_ATTR = "housing.error"
KEY_ATTR = "housing.trial_key"
_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg", "redis", "rediss")


class StudyStorageError(RuntimeError):
    """The study's storage cannot be opened: says which (its password hidden) and why."""


def redact(url: str) -> str:
    """`postgresql://user:secret@host/db` -> `postgresql://user:***@host/db`."""
    return re.sub(r"(//[^/:@]*:)[^@/]*@", r"\1***@", url)


def storage_url(settings: SweepSettings, state_dir: Path) -> str:
    if settings.storage is not None:
        return settings.storage.get_secret_value()
    path = (state_dir / "sweeps" / "optuna.db").resolve()
    return f"sqlite:///{path.as_posix()}"


def open_storage(url: str) -> BaseStorage:
    """Optuna's storage at `url`; an error names it with its password hidden."""
    scheme = url.split("://", 1)[0]
    shown = redact(url)
    if scheme not in _SCHEMES:
        raise StudyStorageError(
            f"sweep.storage {shown!r}: scheme {scheme!r} is not one of {', '.join(_SCHEMES)}"
        )
    if scheme.startswith("postgresql"):  # the project's driver is psycopg 3
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    try:
        if scheme.startswith("redis"):
            with warnings.catch_warnings():  # "experimental" since Optuna 3.1, and still there
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return JournalStorage(JournalRedisBackend(url))
        if scheme == "sqlite":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
    except Exception as exc:  # the drivers' errors may quote the URL: none is passed on
        reason = type(exc).__name__
        text = str(exc).splitlines()[0] if str(exc) else ""
        if url.split("://", 1)[1] not in text and "@" not in text:
            reason = f"{reason}: {text[:200]}"
        raise StudyStorageError(f"sweep.storage {shown!r} cannot be opened: {reason}") from None


def open_study(settings: SweepSettings, storage: BaseStorage, space: SearchSpace) -> optuna.Study:
    """The study named in the settings, created or resumed; one study searches one family."""
    study = optuna.create_study(
        study_name=settings.study_name,
        storage=storage,
        sampler=make_sampler(settings.sampler, settings.seed, space),
        direction="minimize",
        load_if_exists=True,
    )
    # a resumed study draws on from where it stands: the same seed again would propose the
    # first sweep's values again (TPE starts with random proposals)
    done = len(study.get_trials(deepcopy=False))
    study.sampler = make_sampler(settings.sampler, settings.seed + done, space)
    family = study.user_attrs.get(FAMILY_ATTR)
    if family is None:
        study.set_user_attr(FAMILY_ATTR, space.family)
    elif family != space.family:
        raise StudyStorageError(
            f"sweep.study_name {settings.study_name!r} searches {family}, not {space.family}: "
            "name another study (HOUSING_SWEEP__STUDY_NAME) for this space"
        )
    return study


def counted(trial: FrozenTrial) -> bool:
    """A trial that counts towards the sweep's total: finished, and not cut off by a stop."""
    finished = trial.state in (TrialState.COMPLETE, TrialState.FAIL)
    return finished and not trial.user_attrs.get(INTERRUPTED_ATTR)


def resume_interrupted(study: optuna.Study) -> list[dict[str, Any]]:
    """Trials left RUNNING by a sweep that stopped: closed as FAIL (marked interrupted, not
    counted) and proposed again first, so a finished computation is read from the cache."""
    again: list[dict[str, Any]] = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        optuna.Trial(study, trial._trial_id).set_user_attr(INTERRUPTED_ATTR, True)
        study.tell(trial.number, state=TrialState.FAIL)
        study.enqueue_trial(trial.params, skip_if_exists=False)
        again.append(trial.params)
    if again:
        log.info(
            "resuming study %s: %d interrupted trial(s) proposed again",
            study.study_name,
            len(again),
        )
    return again


def keys_of(opened: optuna.Study) -> dict[int, str]:
    """Each trial's key (configuration, data, code), kept on the trial when it was asked."""
    return {
        t.number: str(t.user_attrs[KEY_ATTR])
        for t in opened.get_trials(deepcopy=False)
        if KEY_ATTR in t.user_attrs
    }


def trials_left(study: optuna.Study, total: int) -> int:
    return max(0, total - sum(counted(t) for t in study.get_trials(deepcopy=False)))


def tell_complete(
    opened: optuna.Study,
    trial: optuna.Trial,
    values: dict[str, Any],
    metrics: dict[str, float],
    worker: str,
    seconds: float,
) -> TrialOutcome:
    """A finished trial told with its validation RMSE; what it measured is kept on the trial,
    so a resumed sweep ranks earlier trials too."""
    trial.set_user_attr(METRICS_ATTR, metrics)
    trial.set_user_attr(WORKER_ATTR, worker)
    trial.set_user_attr(SECONDS_ATTR, seconds)
    opened.tell(trial, metrics["rmse"])
    return TrialOutcome(trial.number, values, "complete", metrics, worker, seconds)


def tell_failed(
    opened: optuna.Study, trial: optuna.Trial, values: dict[str, Any], error: str, seconds: float
) -> TrialOutcome:
    trial.set_user_attr(ERROR_ATTR, error[:2000])
    trial.set_user_attr(SECONDS_ATTR, seconds)
    opened.tell(trial, state=TrialState.FAIL)
    return TrialOutcome(trial.number, values, "failed", seconds=seconds, error=error)


def outcomes_of(opened: optuna.Study) -> list[TrialOutcome]:
    """The study's counted trials, as outcomes."""
    found = []
    for t in opened.get_trials(deepcopy=False):
        if not counted(t):
            continue
        attrs = t.user_attrs
        found.append(
            TrialOutcome(
                t.number,
                dict(t.params),
                "complete" if t.state == TrialState.COMPLETE else "failed",
                dict(attrs.get(METRICS_ATTR, {})),
                str(attrs.get(WORKER_ATTR, "")),
                float(attrs.get(SECONDS_ATTR, 0.0)),
                str(attrs.get(ERROR_ATTR, "")),
            )
        )
    return found
