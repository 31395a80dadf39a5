"""The drift check: each feature of a batch against the reference profile, and the report.

Each score gets a status, ``ok`` below its watch threshold, ``watch`` from it, ``drift`` from
its drift threshold; a feature's status is the worst of its scores. A score that cannot be
computed (no values in the batch) is reported as null and judged ``ok``; the blank score
still judges the feature. The model's predictions are a feature named ``prediction``; the
target is judged too when the batch has it (labelled rows).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from housing_core.drift.counts import Counts, IncompatibleBinsError, NumericCounts
from housing_core.drift.profile import Profile, summarize
from housing_core.drift.scores import scores_of
from housing_core.drift.summary import PREDICTION, Summary
from housing_core.drift.thresholds import Band, Overrides, apply_overrides, validate_overrides

STATUSES = ("ok", "watch", "drift")


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's scores, the thresholds they were judged against and the verdict."""

    name: str
    role: str  # "feature", "target" or "prediction"
    rows: int
    scores: Mapping[str, float]
    thresholds: Mapping[str, Band]

    def status_of(self, score: str) -> str:
        value = self.scores[score]
        watch, drift = self.thresholds[score]
        if math.isnan(value) or value < watch:
            return "ok"
        return "watch" if value < drift else "drift"

    @property
    def status(self) -> str:
        return max((self.status_of(s) for s in self.scores), key=STATUSES.index, default="ok")

    @property
    def main_score(self) -> str:
        """The score nearest to, or furthest past, its drift threshold: the one that decides."""
        return max(self.scores, key=lambda s: _ratio(self.scores[s], self.thresholds[s][1]))

    def to_dict(self, thresholds: bool = False) -> dict[str, Any]:
        line: dict[str, Any] = {"status": self.status}
        line.update({s: _compact(v) for s, v in self.scores.items()})
        if thresholds:
            line["thresholds"] = {
                s: [_compact(w), _compact(d)] for s, (w, d) in self.thresholds.items()
            }
        return line


@dataclass(frozen=True)
class DriftReport:
    """The verdict on one batch: per feature its scores, thresholds and status."""

    rows: int
    features: tuple[FeatureDrift, ...]

    @property
    def drifted(self) -> list[str]:
        return [f.name for f in self.features if f.status == "drift"]

    @property
    def watch(self) -> list[str]:
        return [f.name for f in self.features if f.status == "watch"]

    @property
    def status(self) -> str:
        return max((f.status for f in self.features), key=STATUSES.index, default="ok")

    def feature(self, name: str) -> FeatureDrift:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(f"no feature {name!r} in the drift report")

    def to_dict(self, thresholds: bool = False) -> dict[str, Any]:
        """Rows, overall status, drifted, watch, and per feature its status and scores."""
        return {
            "rows": self.rows,
            "status": self.status,
            "drifted": self.drifted,
            "watch": self.watch,
            "features": {f.name: f.to_dict(thresholds) for f in self.features},
        }

    def to_json_line(self) -> str:
        """`to_dict()` as one compact JSON line (scores to four significant digits)."""
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)

    def table(self) -> list[dict[str, str]]:
        """One row per feature for a table artifact: status, deciding score, its thresholds."""
        rows = []
        for f in self.features:
            main = f.main_score
            watch, drift = f.thresholds[main]
            others = ", ".join(f"{s} {_short(v)}" for s, v in f.scores.items() if s != main)
            rows.append(
                {
                    "feature": f.name,
                    "status": f.status,
                    "score": main,
                    "value": _short(f.scores[main]),
                    "watch at": _short(watch),
                    "drift at": _short(drift),
                    "other scores": others,
                }
            )
        return rows


def check(
    profile: Profile,
    current: Summary | pd.DataFrame,
    predictions: np.ndarray[Any, Any] | None = None,
    overrides: Overrides | None = None,
) -> DriftReport:
    """Judge a batch (its rows, or the `Summary` of its chunks) against the reference profile.

    Thresholds are the profile's, taken at this batch's size (see `thresholds`), with the
    bands named in `overrides` replaced.
    """
    if isinstance(current, Summary):
        if predictions is not None:
            raise ValueError("give the predictions to `summarize`, not with a summary")
        summary = current
    else:
        summary = summarize(current, like=profile, predictions=predictions)
    validate_overrides(overrides, profile.columns)
    features = []
    for name, reference in profile.reference.columns.items():
        batch = summary.columns.get(name)
        if batch is None:
            continue
        _same_bins(name, reference, batch)
        thresholds = apply_overrides(profile.thresholds[name], name, overrides)
        scores = scores_of(reference, batch)
        margins = profile.calibration.margins
        bands = {s: thresholds[s].at(s, batch.rows, reference.rows, margins) for s in scores}
        features.append(FeatureDrift(name, _role(name, profile), batch.rows, scores, bands))
    return DriftReport(summary.rows, tuple(features))


def _same_bins(name: str, reference: Counts, batch: Counts) -> None:
    if isinstance(reference, NumericCounts) != isinstance(batch, NumericCounts) or (
        isinstance(reference, NumericCounts)
        and isinstance(batch, NumericCounts)
        and reference.edges != batch.edges
    ):
        raise IncompatibleBinsError(
            f"feature {name!r}: the summary was not counted on this profile's bins; "
            "summarise the batch with `summarize(chunk, like=profile)`"
        )


def _role(name: str, profile: Profile) -> str:
    if name == PREDICTION:
        return "prediction"
    return "target" if name == profile.target else "feature"


def _ratio(value: float, drift: float) -> float:
    if math.isnan(value):
        return -1.0
    return value / drift if drift > 0 else math.inf


def _compact(value: float) -> float | None:
    """Four significant digits; None for a score that could not be computed."""
    return None if math.isnan(value) else float(f"{value:.4g}")


def _short(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3g}"
