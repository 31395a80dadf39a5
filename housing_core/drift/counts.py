"""Binned counts of one column: what a profile keeps of the reference and a summary of a batch.

A numeric column is counted on fixed bin edges taken from the reference's quantiles; the two
outer bins are open to minus and plus infinity, so any value lands in some bin. A categorical
column is counted per category. Counts on the same edges add up, which makes both the profile
and the summaries of current data mergeable, chunk by chunk, without keeping any rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class IncompatibleBinsError(ValueError):
    """Counts that were not taken on the same bins cannot be added or compared."""


@dataclass(frozen=True)
class NumericCounts:
    """Counts of a numeric column per bin of `edges`, with its blanks and running moments.

    Bin 0 is (-inf, edges[0]), bin i is [edges[i-1], edges[i]), the last is [edges[-1], inf).
    `outer_sums` is the sum of the values in the two open outer bins: the Wasserstein distance
    places each outer bin's mass at its own mean instead of at a made-up end point. A blank is
    a missing or non-finite value. `mean` and `std` (population) are over the non-blank values.
    """

    edges: tuple[float, ...]
    counts: tuple[int, ...]
    blanks: int
    mean: float
    std: float
    outer_sums: tuple[float, float]

    @property
    def present(self) -> int:
        """How many non-blank values were counted."""
        return sum(self.counts)

    @property
    def rows(self) -> int:
        return self.present + self.blanks

    def __add__(self, other: NumericCounts) -> NumericCounts:
        if self.edges != other.edges:
            raise IncompatibleBinsError("binned on other edges")
        mean, std = _pooled_moments(
            (self.present, self.mean, self.std), (other.present, other.mean, other.std)
        )
        return NumericCounts(
            self.edges,
            tuple(a + b for a, b in zip(self.counts, other.counts, strict=True)),
            self.blanks + other.blanks,
            mean,
            std,
            (self.outer_sums[0] + other.outer_sums[0], self.outer_sums[1] + other.outer_sums[1]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "numeric",
            "edges": list(self.edges),
            "counts": list(self.counts),
            "blanks": self.blanks,
            "mean": self.mean,
            "std": self.std,
            "outer_sums": list(self.outer_sums),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericCounts:
        low, high = data["outer_sums"]
        return cls(
            tuple(float(e) for e in data["edges"]),
            tuple(int(c) for c in data["counts"]),
            int(data["blanks"]),
            float(data["mean"]),
            float(data["std"]),
            (float(low), float(high)),
        )


@dataclass(frozen=True)
class CategoricalCounts:
    """Counts of a categorical column per category (sorted by name), with its blanks."""

    counts: Mapping[str, int]
    blanks: int

    @property
    def present(self) -> int:
        return sum(self.counts.values())

    @property
    def rows(self) -> int:
        return self.present + self.blanks

    def __add__(self, other: CategoricalCounts) -> CategoricalCounts:
        merged = dict(self.counts)
        for name, count in other.counts.items():
            merged[name] = merged.get(name, 0) + count
        return CategoricalCounts(dict(sorted(merged.items())), self.blanks + other.blanks)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "categorical", "counts": dict(self.counts), "blanks": self.blanks}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoricalCounts:
        counts = {str(k): int(v) for k, v in data["counts"].items()}
        return cls(dict(sorted(counts.items())), int(data["blanks"]))


Counts = NumericCounts | CategoricalCounts


def counts_from_dict(data: Mapping[str, Any]) -> Counts:
    if data["kind"] == "numeric":
        return NumericCounts.from_dict(data)
    if data["kind"] == "categorical":
        return CategoricalCounts.from_dict(data)
    raise ValueError(f"unknown kind of counts: {data['kind']!r}")


def quantile_edges(values: FloatArray, bins: int) -> tuple[float, ...]:
    """Up to `bins - 1` edges at the reference's quantiles, each strictly between two values.

    Each edge sits between a quantile and the next distinct value above it, at the shortest
    decimal there, so a point mass (an integer age, a price capped at 500,001) never straddles
    an edge, small noise does not move rows across one, and the JSON stays short. Ties merge
    bins; a constant column gets edges just below and above its value.
    """
    present = values[np.isfinite(values)]
    if present.size == 0:
        return ()
    distinct = np.unique(present)
    if distinct.size == 1:
        value = float(distinct[0])
        return (float(np.nextafter(value, -math.inf)), float(np.nextafter(value, math.inf)))
    probabilities = np.arange(1, bins) / bins
    quantiles = np.quantile(present, probabilities, method="inverted_cdf")
    above = np.searchsorted(distinct, quantiles, side="right")
    edges = {
        _between(float(q), float(distinct[i]))
        for q, i in zip(quantiles, above, strict=True)
        if i < distinct.size
    }
    return tuple(sorted(edges))


def count_numeric(values: FloatArray, edges: tuple[float, ...]) -> NumericCounts:
    """Count `values` on `edges` (a few vectorised passes; no copy of the rows is kept)."""
    finite = np.isfinite(values)
    present = values[finite]
    bins = np.searchsorted(np.asarray(edges, dtype=float), present, side="right")
    n_bins = len(edges) + 1
    counts = np.bincount(bins, minlength=n_bins)
    sums = np.bincount(bins, weights=present, minlength=n_bins)
    mean = float(present.mean()) if present.size else 0.0
    std = float(present.std()) if present.size else 0.0
    return NumericCounts(
        edges,
        tuple(int(c) for c in counts),
        int(values.size - present.size),
        mean,
        std,
        (float(sums[0]), float(sums[-1])),
    )


def count_categories(column: pd.Series) -> CategoricalCounts:
    """Count each category of `column`; missing values are blanks."""
    counted = column.value_counts(dropna=True, sort=False)
    counts = {str(name): int(n) for name, n in counted.items() if int(n) > 0}
    return CategoricalCounts(dict(sorted(counts.items())), int(column.isna().sum()))


def numeric_values(frame: pd.DataFrame, column: str) -> FloatArray:
    """The column as floats with NaN for blanks, or a clear error when it is missing."""
    if column not in frame.columns:
        raise KeyError(f"column {column!r} is missing from the rows")
    try:
        numbers = pd.to_numeric(frame[column])
    except (ValueError, TypeError) as error:
        raise ValueError(f"column {column!r} is not numeric: {error}") from None
    return np.asarray(numbers.to_numpy(dtype=float, na_value=np.nan))


def _between(low: float, high: float) -> float:
    """The shortest decimal strictly between `low` and `high` (their midpoint at worst)."""
    middle = (low + high) / 2
    for digits in range(16):
        candidate = round(middle, digits)
        if low < candidate < high:
            return candidate
    return middle


def _pooled_moments(
    a: tuple[int, float, float], b: tuple[int, float, float]
) -> tuple[float, float]:
    """Mean and population std of two groups pooled (Chan et al.), from their own moments."""
    n_a, mean_a, std_a = a
    n_b, mean_b, std_b = b
    n = n_a + n_b
    if n == 0:
        return 0.0, 0.0
    delta = mean_b - mean_a
    mean = mean_a + delta * n_b / n
    m2 = std_a**2 * n_a + std_b**2 * n_b + delta**2 * n_a * n_b / n
    return mean, math.sqrt(max(m2, 0.0) / n)
