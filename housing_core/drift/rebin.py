"""One profile's reference counts, as they would fall on another profile's bins.

Two trainings bin their rows on their own quantile edges, so their profiles cannot be added
or compared bin for bin. To judge one training's rows against another's profile without the
raw rows, each bin's count is spread over the other's bins: an inner bin evenly across its
width, an open outer bin as a point at its own mean (which the counts keep). Exact when the
edges coincide; otherwise an approximation within one bin's width, which is what a release
gate of effect sizes needs (the scores it feeds are a tenth or more, not a thousandth).
"""

from __future__ import annotations

import math

import numpy as np

from housing_core.drift.counts import CategoricalCounts, Counts, NumericCounts
from housing_core.drift.profile import Profile
from housing_core.drift.summary import Summary


def on_bins_of(reference: Summary, like: Profile) -> Summary:
    """`reference`'s columns counted on `like`'s bins (columns `like` lacks are dropped)."""
    columns: dict[str, Counts] = {}
    for name, target in like.reference.columns.items():
        mine = reference.columns.get(name)
        if mine is None:
            continue
        if isinstance(mine, NumericCounts) and isinstance(target, NumericCounts):
            columns[name] = rebinned(mine, target.edges)
        elif isinstance(mine, CategoricalCounts) and isinstance(target, CategoricalCounts):
            columns[name] = mine
    return Summary(reference.rows, columns)


def rebinned(counts: NumericCounts, edges: tuple[float, ...]) -> NumericCounts:
    """`counts` spread over the bins of `edges` (see the module docstring)."""
    if counts.edges == edges:
        return counts
    old = counts.edges
    mass = np.zeros(len(edges) + 1)
    outer = [0.0, 0.0]
    for i, n in enumerate(counts.counts):
        if not n:
            continue
        if i in (0, len(old)):  # an open outer bin: all of it at its own mean
            at = counts.outer_sums[0 if i == 0 else 1] / n
            j = int(np.searchsorted(edges, at, side="right"))
            _add(mass, outer, edges, j, n, n * at)
            continue
        low, high = old[i - 1], old[i]
        for j in range(len(edges) + 1):
            left = -math.inf if j == 0 else edges[j - 1]
            right = math.inf if j == len(edges) else edges[j]
            a, b = max(low, left), min(high, right)
            if b > a:
                share = n * (b - a) / (high - low)
                _add(mass, outer, edges, j, share, share * (a + b) / 2)
    return NumericCounts(
        edges,
        _whole(mass, sum(counts.counts)),
        counts.blanks,
        counts.mean,
        counts.std,
        (outer[0], outer[1]),
    )


def _add(
    mass: np.ndarray, outer: list[float], edges: tuple[float, ...], j: int, n: float, total: float
) -> None:
    mass[j] += n
    if j == 0:
        outer[0] += total
    elif j == len(edges):
        outer[1] += total


def _whole(mass: np.ndarray, total: int) -> tuple[int, ...]:
    """Fractional counts as whole ones summing to `total` (largest remainders first)."""
    floors = np.floor(mass).astype(int)
    short = total - int(floors.sum())
    if short > 0:
        floors[np.argsort(-(mass - floors), kind="stable")[:short]] += 1
    return tuple(int(c) for c in floors)
