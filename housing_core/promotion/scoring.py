"""Every version judged on the same rows, by its own code: scores and a serving smoke test.

Each version is downloaded from the registry and scored in a process of its own (see
housing_core.isolation), never in this one: promotion compares what each version serves, not
what today's checkout would make of its pickle.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from housing_core.data.contract import PRICE_CAP, TARGET, features_of
from housing_core.drift import Profile, shipped_profile
from housing_core.evaluation.metrics import not_scored, regression_metrics
from housing_core.formatting import format_metric
from housing_core.isolation.jobs import Answer, score_in_own_processes
from housing_core.isolation.payloads import serving_payload
from housing_core.promotion.decision import VersionScore
from housing_core.settings import EnvironmentPolicy
from housing_core.tracking import registry, runs
from housing_core.tracking.connection import Tracking
from housing_core.tracking.registry import download_version
from housing_core.versioning import Lineage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evidence:
    """What the drift gate needs of a version: its predictions on the shared rows, the
    profile it ships (None for a version trained before profiles) and its data version."""

    predictions: np.ndarray | None
    profile: Profile | None
    data_version: str


def score_versions(
    tracking: Tracking,
    name: str,
    versions: Sequence[str],
    test: pd.DataFrame,
    smoke_rows: int,
    environments: Path,
    policy: EnvironmentPolicy = "auto",
) -> tuple[list[VersionScore], dict[str, Evidence]]:
    """Each version's metrics on `test` and its smoke-test verdict, in order; and, by version,
    what the drift gate judges."""
    unique = list(dict.fromkeys(versions))
    payload = serving_payload(test.head(smoke_rows))
    with tempfile.TemporaryDirectory(prefix="housing-versions-") as tmp:
        folders = {v: download_version(tracking, name, v, Path(tmp) / f"v{v}") for v in unique}
        answers = score_in_own_processes(
            folders, features_of(test), payload, environments, policy, price_cap=PRICE_CAP
        )
        evidence = {
            v: Evidence(
                answers[v].predictions,
                shipped_profile(folders[v]),
                _data_version(tracking, name, v),
            )
            for v in unique
        }
    actual = test[TARGET].to_numpy()
    scores = [_score(v, answers[v], actual) for v in unique]
    for score in scores:
        log.info(
            "v%s on %d shared rows: rmse %s, smoke test %s; code from %s, python %s",
            score.version,
            len(test),
            format_metric("rmse", score.metrics["rmse"]),
            score.smoke_error or "passed",
            score.code_from or "-",
            score.interpreter or "-",
        )
    return scores, evidence


def _data_version(tracking: Tracking, name: str, version: str) -> str:
    run_id = registry.get_version(tracking, name, version).run_id
    return Lineage.from_tags(runs.run_tags(tracking, run_id)).data_version if run_id else ""


def _score(version: str, answer: Answer, actual: np.ndarray) -> VersionScore:
    if answer.error or answer.predictions is None:
        failure: str | None = f"cannot load or score: {answer.error}"
        metrics = not_scored()
    elif len(answer.predictions) != len(actual):
        failure = f"{len(actual)} rows in, {len(answer.predictions)} predictions out"
        metrics = not_scored()
    else:
        failure = answer.smoke_error
        metrics = regression_metrics(actual, answer.predictions)
    return VersionScore(version, metrics, failure, answer.code_from, answer.interpreter)
