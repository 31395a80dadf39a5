"""The validation fold a trial is scored on: carved from the TRAINING rows only.

The held-out rows stay for the one evaluation of the best configuration and for promotion:
a search that looked at them would pick the configuration that fits them best, and their
score would no longer say how a model does on rows it has not seen. The fold is chosen like
the held-out rows (a keyed hash of each row's features, `data.split`), with its own key: a
row's side does not move when other rows come or go.
"""

from __future__ import annotations

import pandas as pd

from housing_core.data.split import Split, held_out_mask
from housing_core.settings import SplitSettings


def validation_salt(split: SplitSettings) -> str:
    return f"{split.salt}/validation"


def validation_split(train: pd.DataFrame, fraction: float, split: SplitSettings) -> Split:
    """`train` cut into the rows a trial fits on (`.train`) and scores on (`.test`)."""
    mask = held_out_mask(train, fraction, validation_salt(split))
    if mask.all() or not mask.any():
        raise ValueError(
            f"validation_fraction = {fraction:g} leaves no rows on one side of "
            f"{len(train):,} training rows"
        )
    return Split(
        train=train.loc[~mask].reset_index(drop=True),
        test=train.loc[mask].reset_index(drop=True),
    )
