"""A train/test split that is stable across data versions.

A row's side is decided by a hash of its own feature values, never by its position: adding or
removing other rows does not move it, so every model version is held out on comparable rows.
The target is left out of the key so that a corrected price does not move a row either.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from housing_core.data.contract import FEATURE_COLUMNS
from housing_core.settings import SplitSettings

log = logging.getLogger(__name__)

_BUCKETS = 2**64


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    test: pd.DataFrame


def row_keys(frame: pd.DataFrame) -> list[str]:
    """A canonical text per row, independent of dtype quirks (1 and 1.0 give the same key)."""
    columns = [frame[c] for c in FEATURE_COLUMNS]
    return ["|".join(_canonical(v) for v in values) for values in zip(*columns, strict=True)]


def _canonical(value: object) -> str:
    if isinstance(value, (float, int, np.floating, np.integer)):
        return "nan" if pd.isna(value) else f"{float(value):.6f}"
    return str(value)


def held_out_mask(frame: pd.DataFrame, test_fraction: float, salt: str) -> np.ndarray:
    """True for the rows on the held-out side."""
    cut = int(test_fraction * _BUCKETS)
    key = salt.encode()
    digests = (
        int.from_bytes(hashlib.blake2b(row.encode(), digest_size=8, key=key).digest(), "big")
        for row in row_keys(frame)
    )
    return np.fromiter((d < cut for d in digests), dtype=bool, count=len(frame))


def split_frame(frame: pd.DataFrame, test_fraction: float = 0.2, salt: str = "housing-v1") -> Split:
    mask = held_out_mask(frame, test_fraction, salt)
    return Split(
        train=frame.loc[~mask].reset_index(drop=True),
        test=frame.loc[mask].reset_index(drop=True),
    )


def split_rows(frame: pd.DataFrame, settings: SplitSettings) -> Split:
    """The configured split, logged."""
    parts = split_frame(frame, settings.test_fraction, settings.salt)
    log.info(
        "split into %d training and %d held-out rows (hash-stable)",
        len(parts.train),
        len(parts.test),
    )
    return parts
