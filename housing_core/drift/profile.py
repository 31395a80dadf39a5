"""The reference profile of a training set: binned counts, calibrated thresholds, no rows.

Built once when a model is trained and stored with it (a few kB of JSON). A batch is later
summarised on the same bins (`summarize`) and checked against it (`check`). Callers name the
columns; this module knows nothing of the housing data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from housing_core.drift.calibration import Calibration, noise_levels
from housing_core.drift.counts import (
    CategoricalCounts,
    Counts,
    IncompatibleBinsError,
    NumericCounts,
    numeric_values,
    quantile_edges,
)
from housing_core.drift.scores import CATEGORICAL_SCORES, NUMERIC_SCORES
from housing_core.drift.summary import PREDICTION, Summary, count_rows
from housing_core.drift.thresholds import (
    DRIFT_MARGIN,
    WATCH_MARGIN,
    Overrides,
    Threshold,
    floors_for,
    validate_overrides,
)

SCHEMA_VERSION = 1
PROFILE_FILE = "drift_profile.json"  # the name a profile ships under, beside a model's MLmodel


@dataclass(frozen=True)
class Profile:
    """The reference's counts per column, which column is the target, and the thresholds."""

    reference: Summary
    target: str | None
    thresholds: Mapping[str, Mapping[str, Threshold]]
    calibration: Calibration
    schema_version: int = SCHEMA_VERSION

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.reference.columns)

    def target_quantiles(self) -> tuple[float, ...]:
        """The target's bin edges: its quantiles in the reference (empty without a target)."""
        counts = self.reference.columns.get(self.target or "")
        return counts.edges if isinstance(counts, NumericCounts) else ()

    def __add__(self, other: Profile) -> Profile:
        """The profile of both references' rows; both must have been binned on the same edges.

        Thresholds keep the larger band and noise of the two (the cautious side).
        """
        if self.target != other.target:
            raise IncompatibleBinsError(
                f"cannot merge profiles of targets {self.target!r} and {other.target!r}"
            )
        reference = self.reference + other.reference
        thresholds = {
            name: {s: _larger(t, other.thresholds[name][s]) for s, t in by_score.items()}
            for name, by_score in self.thresholds.items()
        }
        return Profile(reference, self.target, thresholds, self.calibration)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able types; `from_dict` gives back an equal profile."""
        return {
            "schema_version": self.schema_version,
            "target": self.target,
            "reference": self.reference.to_dict(),
            "thresholds": {
                name: {s: t.to_dict() for s, t in by_score.items()}
                for name, by_score in self.thresholds.items()
            },
            "calibration": self.calibration.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(
                f"drift profile schema version {version!r}; this code reads "
                f"version {SCHEMA_VERSION}"
            )
        thresholds = {
            str(name): {str(s): Threshold.from_dict(t) for s, t in by_score.items()}
            for name, by_score in data["thresholds"].items()
        }
        return cls(
            Summary.from_dict(data["reference"]),
            data["target"],
            thresholds,
            Calibration.from_dict(data["calibration"]),
        )


def build_profile(
    frame: pd.DataFrame,
    numeric: Sequence[str] = (),
    categorical: Sequence[str] = (),
    target: str | None = None,
    predictions: np.ndarray[Any, Any] | None = None,
    *,
    like: Profile | None = None,
    bins: int = 20,
    folds: int = 5,
    repeats: int = 4,
    seed: int = 0,
    floors: Overrides | None = None,
) -> Profile:
    """Profile `frame`'s columns (and the model's `predictions` on its rows, if given).

    Numeric columns get `bins` quantile bins, or the bins of `like` (and its columns), which
    makes the two profiles mergeable. Thresholds are calibrated on `repeats` shuffles of
    `folds` folds of these rows (`folds=0`: the effect-size floors only); `floors` replaces
    the default bands, in the shape of `check`'s overrides.
    """
    if like is not None:
        layout, target = _layout_of(like, numeric, categorical, target)
    else:
        layout = _new_layout(frame, numeric, categorical, target, predictions, bins)
    if predictions is not None and PREDICTION not in layout:
        raise ValueError("predictions given, but the profile to follow has none")
    reference = count_rows(frame, layout, predictions)
    validate_overrides(floors, tuple(reference.columns))
    noise = (
        noise_levels(frame, reference.columns, predictions, folds, repeats, seed)
        if folds > 0
        else {}
    )
    thresholds = {
        name: _thresholds(name, counts, noise.get(name, {}), floors)
        for name, counts in reference.columns.items()
    }
    margins = (WATCH_MARGIN, DRIFT_MARGIN)
    fold_rows = len(frame) // folds if folds else 0
    calibration = Calibration(folds, repeats if folds else 0, seed, fold_rows, margins)
    return Profile(reference, target, thresholds, calibration)


def with_predictions(
    profile: Profile,
    predictions: np.ndarray[Any, Any],
    *,
    bins: int = 20,
    folds: int = 5,
    repeats: int = 4,
    seed: int = 0,
) -> Profile:
    """`profile` with the model's predictions profiled from rows of their own.

    A model's predictions on its own training rows are closer to the prices than on new rows;
    the predictions on held-out rows are what a batch's predictions should look like. They
    are profiled here like a numeric column, calibrated on folds of those rows.
    """
    if PREDICTION in profile.reference.columns:
        raise ValueError("the profile has predictions already")
    column = "predictions on their own rows"  # any name but PREDICTION, which is reserved
    own = build_profile(
        pd.DataFrame({column: np.asarray(predictions, dtype=float).reshape(-1)}),
        numeric=[column],
        bins=bins,
        folds=folds,
        repeats=repeats,
        seed=seed,
    )
    columns = {**profile.reference.columns, PREDICTION: own.reference.columns[column]}
    thresholds = {**profile.thresholds, PREDICTION: own.thresholds[column]}
    reference = Summary(profile.reference.rows, columns)
    return Profile(reference, profile.target, thresholds, profile.calibration)


def summarize(
    chunk: pd.DataFrame, like: Profile, predictions: np.ndarray[Any, Any] | None = None
) -> Summary:
    """Count a chunk of current rows on the profile's bins; summaries add (`a + b`).

    The target is counted when the chunk has it; predictions only if the profile has them.
    """
    if predictions is not None and PREDICTION not in like.reference.columns:
        raise ValueError("predictions given, but the profile was built without predictions")
    optional = (like.target,) if like.target else ()
    return count_rows(chunk, like.reference.columns, predictions, optional)


def _thresholds(
    name: str, counts: Counts, noise: Mapping[str, float], floors: Overrides | None
) -> dict[str, Threshold]:
    scores = NUMERIC_SCORES if isinstance(counts, NumericCounts) else CATEGORICAL_SCORES
    bands = floors_for(scores, name, floors)
    return {s: Threshold(*bands[s], noise.get(s, 0.0)) for s in scores}


def _larger(a: Threshold, b: Threshold) -> Threshold:
    return Threshold(max(a.watch, b.watch), max(a.drift, b.drift), max(a.noise, b.noise))


def _new_layout(
    frame: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    target: str | None,
    predictions: np.ndarray[Any, Any] | None,
    bins: int,
) -> dict[str, Counts]:
    """Empty counts on fresh quantile edges: what `count_rows` fills in."""
    names = [*numeric, *categorical, *([target] if target else [])]
    if not names:
        raise ValueError("name at least one column to profile")
    if len(set(names)) != len(names) or PREDICTION in names:
        raise ValueError(f"columns must be distinct and none named {PREDICTION!r}: {names}")
    if bins < 2:
        raise ValueError("need at least 2 bins")
    layout: dict[str, Counts] = {}
    for name in [*numeric, *([target] if target else [])]:
        layout[name] = _empty(quantile_edges(numeric_values(frame, name), bins))
    for name in categorical:
        layout[name] = CategoricalCounts({}, 0)
    if predictions is not None:
        values = np.asarray(predictions, dtype=float).reshape(-1)
        layout[PREDICTION] = _empty(quantile_edges(values, bins))
    return layout


def _layout_of(
    like: Profile, numeric: Sequence[str], categorical: Sequence[str], target: str | None
) -> tuple[dict[str, Counts], str | None]:
    """`like`'s bins and target; column names, if given too, must be the same as its own."""
    named = {*numeric, *categorical, *([target] if target else [])}
    own = {name for name in like.columns if name != PREDICTION}
    if named and named != own:
        raise ValueError(
            f"columns {sorted(named)} differ from those of the profile to follow: {sorted(own)}"
        )
    return dict(like.reference.columns), like.target


def _empty(edges: tuple[float, ...]) -> NumericCounts:
    return NumericCounts(edges, (), 0, 0.0, 0.0, (0.0, 0.0))


def shipped_profile(model_dir: Path) -> Profile | None:
    """The profile a downloaded model folder ships, or None (a version trained before)."""
    path = model_dir / PROFILE_FILE
    return Profile.from_dict(json.loads(path.read_text())) if path.is_file() else None
