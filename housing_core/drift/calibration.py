"""How big each score gets between two samples of the same data: the reference against itself.

The reference's rows are split into `folds` folds, `repeats` times over (a fresh shuffle each
time); each fold is scored against the rest of the reference exactly as a batch would be.
Each score is divided by its noise scale for those sizes, ``(1/fold + 1/rest) ** power``, and
the column's `noise` constant is the mean plus three standard deviations of those values: the
size of a same-data score at the high end, per unit of sampling noise. Thresholds then apply
it at the batch's own size (`thresholds`). The counts of every fold come from one binning of
the reference, so calibrating costs a few times a summary, not a model fit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from housing_core.drift.counts import (
    CategoricalCounts,
    Counts,
    IntArray,
    NumericCounts,
    numeric_values,
)
from housing_core.drift.scores import noise_scale, scores_of
from housing_core.drift.summary import PREDICTION

SIGMAS = 3.0


@dataclass(frozen=True)
class Calibration:
    """How the thresholds were calibrated, kept in the profile for whoever reads it later."""

    folds: int
    repeats: int
    seed: int
    fold_rows: int
    margins: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "folds": self.folds,
            "repeats": self.repeats,
            "seed": self.seed,
            "fold_rows": self.fold_rows,
            "margins": list(self.margins),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        watch, drift = data["margins"]
        return cls(
            int(data["folds"]),
            int(data["repeats"]),
            int(data["seed"]),
            int(data["fold_rows"]),
            (float(watch), float(drift)),
        )


@dataclass(frozen=True)
class _Binned:
    """One column of the reference binned once: a code per row (-1 for a blank)."""

    codes: IntArray
    bins: int
    values: np.ndarray[Any, np.dtype[np.float64]] | None
    like: Counts
    names: tuple[str, ...] = ()


def noise_levels(
    frame: pd.DataFrame,
    layout: Mapping[str, Counts],
    predictions: np.ndarray[Any, Any] | None,
    folds: int,
    repeats: int,
    seed: int,
) -> dict[str, dict[str, float]]:
    """The `noise` constant of every score of every column of `layout`, from `frame`'s rows."""
    rows = len(frame)
    if rows < 2 * folds:
        raise ValueError(
            f"calibration needs at least {2 * folds} rows for {folds} folds, got {rows}; "
            "pass folds=0 to use the effect-size floors only"
        )
    binned = {name: _bin(frame, name, like, predictions) for name, like in layout.items()}
    totals = {name: _counts(b, np.arange(rows)) for name, b in binned.items()}
    seen: dict[str, dict[str, list[float]]] = {name: {} for name in layout}
    generator = np.random.default_rng(seed)
    for _ in range(repeats):
        for fold in np.array_split(generator.permutation(rows), folds):
            for name, column in binned.items():
                part = _counts(column, fold)
                rest = _minus(totals[name], part)
                for score, value in scores_of(rest, part).items():
                    if not math.isnan(value):
                        scale = noise_scale(score, fold.size, rows - fold.size)
                        seen[name].setdefault(score, []).append(value / scale)
    return {name: {s: _high_end(v) for s, v in by_score.items()} for name, by_score in seen.items()}


def _bin(
    frame: pd.DataFrame, name: str, like: Counts, predictions: np.ndarray[Any, Any] | None
) -> _Binned:
    if isinstance(like, CategoricalCounts):
        codes, uniques = pd.factorize(frame[name], use_na_sentinel=True)
        names = tuple(str(u) for u in uniques)
        return _Binned(np.asarray(codes, dtype=np.int64), len(names), None, like, names)
    if name == PREDICTION:
        values = np.asarray(predictions, dtype=float).reshape(-1)
    else:
        values = numeric_values(frame, name)
    finite = np.isfinite(values)
    edges = np.asarray(like.edges, dtype=float)
    codes = np.where(
        finite, np.searchsorted(edges, np.where(finite, values, 0.0), side="right"), -1
    )
    return _Binned(codes.astype(np.int64), edges.size + 1, np.where(finite, values, 0.0), like)


def _counts(column: _Binned, rows: IntArray) -> Counts:
    codes = column.codes[rows]
    present = codes >= 0
    counts = np.bincount(codes[present], minlength=column.bins)
    blanks = int(codes.size - present.sum())
    if isinstance(column.like, CategoricalCounts):
        named = {n: int(c) for n, c in zip(column.names, counts, strict=True) if c > 0}
        return CategoricalCounts(dict(sorted(named.items())), blanks)
    assert column.values is not None
    sums = np.bincount(codes[present], weights=column.values[rows][present], minlength=column.bins)
    # The Wasserstein scale is the whole reference's std, as it is when a batch is checked.
    like = column.like
    return NumericCounts(
        like.edges,
        tuple(int(c) for c in counts),
        blanks,
        like.mean,
        like.std,
        (float(sums[0]), float(sums[-1])),
    )


def _minus(total: Counts, part: Counts) -> Counts:
    if isinstance(total, NumericCounts) and isinstance(part, NumericCounts):
        return NumericCounts(
            total.edges,
            tuple(a - b for a, b in zip(total.counts, part.counts, strict=True)),
            total.blanks - part.blanks,
            total.mean,
            total.std,
            (total.outer_sums[0] - part.outer_sums[0], total.outer_sums[1] - part.outer_sums[1]),
        )
    assert isinstance(total, CategoricalCounts) and isinstance(part, CategoricalCounts)
    left = {n: c - part.counts.get(n, 0) for n, c in total.counts.items()}
    return CategoricalCounts(left, total.blanks - part.blanks)


def _high_end(values: list[float]) -> float:
    """Mean plus three standard deviations, to four significant digits (it is an estimate)."""
    if not values:
        return 0.0
    spread = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    level = float(np.mean(values)) + SIGMAS * spread
    return float(f"{level:.4g}")
