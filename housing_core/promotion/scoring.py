"""Every version judged on the same rows, by its own code: scores and a serving smoke test.

Each version is downloaded from the registry and scored in a process of its own (see
housing_core.serving.isolation), never in this one: promotion compares what each version
serves, not what today's checkout would make of its pickle.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from housing_core.data.contract import FEATURE_COLUMNS, PRICE_CAP, TARGET
from housing_core.evaluation.metrics import not_scored, regression_metrics
from housing_core.formatting import format_dollars
from housing_core.promotion.decision import Candidate
from housing_core.serving.isolation import IsolatedScore, score_in_own_processes
from housing_core.serving.payloads import serving_payload
from housing_core.settings import EnvironmentPolicy
from housing_core.tracking.connection import Tracking
from housing_core.tracking.registry import download_version


def score_versions(
    tracking: Tracking,
    name: str,
    versions: Sequence[str],
    test: pd.DataFrame,
    smoke_rows: int,
    environments: Path,
    policy: EnvironmentPolicy = "auto",
) -> tuple[list[Candidate], dict[str, IsolatedScore]]:
    """Candidates with their metrics on `test` and their smoke-test verdict, in order."""
    unique = list(dict.fromkeys(versions))
    payload = serving_payload(test.head(smoke_rows))
    with tempfile.TemporaryDirectory(prefix="housing-versions-") as tmp:
        folders = {v: download_version(tracking, name, v, Path(tmp) / f"v{v}") for v in unique}
        scores = score_in_own_processes(
            folders, test.loc[:, list(FEATURE_COLUMNS)], payload, environments, policy
        )
    actual = test[TARGET].to_numpy()
    candidates = [_candidate(v, scores[v], actual, payload) for v in unique]
    return candidates, scores


def _candidate(
    version: str, score: IsolatedScore, actual: np.ndarray, payload: dict[str, Any]
) -> Candidate:
    if score.error or score.predictions is None:
        return Candidate(version, not_scored(), f"cannot load or score: {score.error}")
    if len(score.predictions) != len(actual):
        failure = f"{len(actual)} rows in, {len(score.predictions)} predictions out"
        return Candidate(version, not_scored(), failure)
    metrics = regression_metrics(actual, score.predictions)
    return Candidate(
        version, metrics, smoke_failure(score, len(payload["dataframe_split"]["data"]))
    )


def smoke_failure(score: IsolatedScore, rows: int) -> str | None:
    """Why the serving payload's answer is not a price per row in [0, cap]; None if it is."""
    answer = score.smoke_answer
    if score.smoke_status != 200:
        message = answer.get("message", answer) if isinstance(answer, dict) else answer
        return f"/invocations answered {score.smoke_status}: {str(message)[:300]}"
    prices = np.asarray(answer.get("predictions", []) if isinstance(answer, dict) else [], float)
    if prices.shape != (rows,):
        return f"{rows} rows in, {prices.size} predictions out"
    if not all(math.isfinite(p) for p in prices) or prices.min() < 0 or prices.max() > PRICE_CAP:
        low, high = format_dollars(prices.min()), format_dollars(prices.max())
        return f"prices outside [$0, {format_dollars(PRICE_CAP)}]: {low}..{high}"
    return None
