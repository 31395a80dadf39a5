"""The drift gate of a release: is a candidate trained on data like production's, and does the
newest data still look like the candidate's? Pure: profiles and rows in, findings out.

Two checks, each against a reference profile a version ships (housing_core.drift):
- its training rows against production's profile: when the candidate was trained on the data
  the promotion reads now, those rows are counted exactly; otherwise its own profile's counts
  are spread over production's bins (drift.rebin), and only the distance scores decide
  (Wasserstein, Jensen-Shannon, blanks, unseen categories: PSI is too sensitive to spreading);
- the newest data's held-out rows, with the candidate's predictions on them, against the
  candidate's own profile (a model trained on other data than what it will now price).
Features and predictions decide; the target is reported, not judged (prices move over time).
A candidate with a finding is not released automatically; a person may release it anyway
(the promotion's `accept_drift`), which is recorded on the version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from housing_core.drift import DriftReport, Profile, check
from housing_core.drift.rebin import on_bins_of
from housing_core.drift.thresholds import Overrides
from housing_core.promotion.decision import VersionScore
from housing_core.promotion.scoring import Evidence

DISTANCES = ("wasserstein", "js", "blank", "unseen")
JUDGED_ROLES = ("feature", "prediction")


@dataclass(frozen=True)
class DriftFindings:
    """What the drift gate found for one candidate: one line per check that failed."""

    version: str
    findings: tuple[str, ...]
    reports: dict[str, DriftReport]

    @property
    def clear(self) -> bool:
        return not self.findings


def judge(
    version: str,
    candidate: Profile | None,
    production: Profile | None,
    trained_on_current_data: bool,
    current_train: pd.DataFrame,
    current_test: pd.DataFrame,
    predictions: np.ndarray | None,
    overrides: Overrides | None = None,
) -> DriftFindings:
    """Both checks for one candidate; a version without a profile is not judged (older)."""
    reports: dict[str, DriftReport] = {}
    findings: list[str] = []
    if candidate is None:
        return DriftFindings(version, (), reports)
    if production is not None:
        if trained_on_current_data:
            shift = check(production, current_train, overrides=overrides)
            drifted = _drifted(shift, scores=None)
        else:
            shift = check(
                production, on_bins_of(candidate.reference, production), overrides=overrides
            )
            drifted = _drifted(shift, scores=DISTANCES)
        reports["training rows vs production's"] = shift
        if drifted:
            findings.append(
                f"drift gate: v{version}'s training rows drifted from production's on "
                f"{_named(shift, drifted, None if trained_on_current_data else DISTANCES)}"
            )
    if predictions is not None and len(predictions) == len(current_test):
        stale = check(candidate, current_test, predictions=predictions, overrides=overrides)
        reports["newest rows vs its own"] = stale
        drifted = _drifted(stale, scores=None)
        if drifted:
            findings.append(
                f"drift gate: the newest rows drifted from v{version}'s training rows on "
                f"{_named(stale, drifted, None)}"
            )
    return DriftFindings(version, tuple(findings), reports)


def _drifted(report: DriftReport, scores: tuple[str, ...] | None) -> list[str]:
    """The judged columns in drift (by every score, or by the given ones only)."""
    names = []
    for feature in report.features:
        if feature.role not in JUDGED_ROLES:
            continue
        statuses = [feature.status_of(s) for s in (scores or feature.scores) if s in feature.scores]
        if "drift" in statuses:
            names.append(feature.name)
    return names


def _named(report: DriftReport, names: list[str], scores: tuple[str, ...] | None) -> str:
    """`median_income (wasserstein 0.41 >= 0.1), prediction (psi 0.3 >= 0.2)`."""
    parts = []
    for name in names:
        feature = report.feature(name)
        judged = [s for s in (scores or feature.scores) if s in feature.scores]
        score = max(judged, key=lambda s: feature.scores[s] / (feature.thresholds[s][1] or 1e-12))
        parts.append(
            f"{name} ({score} {feature.scores[score]:.3g} >= {feature.thresholds[score][1]:.3g})"
        )
    return ", ".join(parts)


def with_findings(
    scores: Sequence[VersionScore],
    evidence: Mapping[str, Evidence],
    production: str | None,
    current_data_version: str,
    current_train: pd.DataFrame,
    current_test: pd.DataFrame,
    overrides: Overrides | None = None,
) -> list[VersionScore]:
    """The scores, each candidate's with what the drift gate found (production's: none)."""
    reference = (
        evidence[production].profile if production is not None and production in evidence else None
    )
    judged = []
    for score in scores:
        seen = evidence.get(score.version)
        if score.version == production or seen is None:
            judged.append(score)
            continue
        found = judge(
            score.version,
            seen.profile,
            reference,
            seen.data_version == current_data_version,
            current_train,
            current_test,
            seen.predictions,
            overrides,
        )
        judged.append(replace(score, drift=found.findings))
    return judged
