"""The drift wing: is a batch of rows still like the rows the model was trained on?

Pure numpy and pandas, importing nothing else of housing_core, so it can ship inside a model
artifact or run in a batch-scoring worker. Callers name the columns.

- ``build_profile(frame, numeric, categorical, target, predictions)``: the reference profile,
  binned counts and calibrated thresholds, a few kB as JSON (`to_dict` / `Profile.from_dict`).
- ``summarize(chunk, like=profile)``: a chunk's counts on the profile's bins; summaries add.
- ``check(profile, summary_or_frame)``: a `DriftReport` with per column its scores, thresholds
  and status (``ok``, ``watch``, ``drift``), `drifted`, `to_json_line()` and `table()`.
"""

from housing_core.drift.check import STATUSES, DriftReport, FeatureDrift, check
from housing_core.drift.counts import CategoricalCounts, IncompatibleBinsError, NumericCounts
from housing_core.drift.profile import (
    PROFILE_FILE,
    SCHEMA_VERSION,
    Profile,
    build_profile,
    shipped_profile,
    summarize,
    with_predictions,
)
from housing_core.drift.scores import js_distance, psi, wasserstein
from housing_core.drift.summary import PREDICTION, Summary
from housing_core.drift.thresholds import DEFAULT_FLOORS, Overrides, Threshold

__all__ = [
    "DEFAULT_FLOORS",
    "PREDICTION",
    "PROFILE_FILE",
    "SCHEMA_VERSION",
    "STATUSES",
    "CategoricalCounts",
    "DriftReport",
    "FeatureDrift",
    "IncompatibleBinsError",
    "NumericCounts",
    "Overrides",
    "Profile",
    "Summary",
    "Threshold",
    "build_profile",
    "check",
    "js_distance",
    "psi",
    "shipped_profile",
    "summarize",
    "wasserstein",
    "with_predictions",
]
