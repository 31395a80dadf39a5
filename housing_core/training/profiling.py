"""The reference profile a version carries: its training rows' features and prices, binned,
and its predictions on the held-out rows (what new rows' predictions should look like), with
drift thresholds calibrated on folds of those same rows. No raw rows: a few kB."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from housing_core.data.contract import CATEGORICAL, FEATURE_COLUMNS, TARGET
from housing_core.drift import Profile, build_profile, with_predictions

log = logging.getLogger(__name__)
NUMERIC_FEATURES = tuple(c for c in FEATURE_COLUMNS if c != CATEGORICAL)


def reference_profile(train: pd.DataFrame, held_out_predictions: np.ndarray) -> Profile:
    profile = build_profile(
        train, numeric=NUMERIC_FEATURES, categorical=[CATEGORICAL], target=TARGET
    )
    profile = with_predictions(profile, held_out_predictions)
    log.info(
        "reference profile of %d training rows and %d held-out predictions",
        len(train),
        len(held_out_predictions),
    )
    return profile
