"""Effect sizes between a reference and a batch, computed from their binned counts alone.

Every score is 0 for identical distributions and does not grow with the number of rows (PSI
and the distances only lose their sampling noise as batches get bigger), so one threshold
means the same thing for a batch of 500 rows and of 5 million.

- ``psi``: population stability index over the reference's bins (or categories plus one
  bucket for unseen ones). Empty bins are smoothed with half a row each (Jeffreys): shares are
  ``(count + 0.5) / (rows + 0.5 * bins)`` on both sides, which keeps the logarithm finite and
  changes nothing visible once bins hold hundreds of rows.
- ``wasserstein``: Wasserstein-1 between the binned distributions, divided by the reference's
  standard deviation (Evidently's normalisation). Inner bins put their mass at their middle;
  the open outer bins put it at the mean of the values that fell there (kept as sums), so a
  shift beyond the reference's range still counts in full.
- ``js``: Jensen-Shannon distance (base 2, between 0 and 1), no smoothing needed.
- ``unseen``: share of the non-blank rows whose category the reference never had.
- ``blank``: absolute change in the share of blank rows.
"""

from __future__ import annotations

import math

import numpy as np

from housing_core.drift.counts import CategoricalCounts, FloatArray, NumericCounts

NUMERIC_SCORES = ("psi", "wasserstein", "blank")
CATEGORICAL_SCORES = ("psi", "js", "unseen", "blank")
ALL_SCORES = ("psi", "wasserstein", "js", "unseen", "blank")
SMOOTHING = 0.5

# How a score's sampling noise shrinks with the rows compared: PSI (a chi-square over rows)
# like 1/n, the distances and shares like 1/sqrt(n).
NOISE_POWER = {"psi": 1.0, "wasserstein": 0.5, "js": 0.5, "unseen": 0.5, "blank": 0.5}


def psi(reference: FloatArray, current: FloatArray) -> float:
    """PSI of two vectors of counts on the same bins, with the documented smoothing."""
    ref = _smoothed_shares(reference)
    cur = _smoothed_shares(current)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def js_distance(reference: FloatArray, current: FloatArray) -> float:
    """Jensen-Shannon distance (base 2) of two vectors of counts on the same bins."""
    ref = reference / reference.sum()
    cur = current / current.sum()
    middle = (ref + cur) / 2
    divergence = (_kl(ref, middle) + _kl(cur, middle)) / 2
    return math.sqrt(max(divergence, 0.0))


def wasserstein(
    reference_points: FloatArray,
    reference: FloatArray,
    current_points: FloatArray,
    current: FloatArray,
) -> float:
    """Wasserstein-1 between two discrete distributions (counts at points), in data units."""
    points = np.concatenate([reference_points, current_points])
    order = np.argsort(points, kind="stable")
    ref_weights = np.concatenate([reference / reference.sum(), np.zeros(current.size)])
    cur_weights = np.concatenate([np.zeros(reference.size), current / current.sum()])
    gap = np.cumsum(ref_weights[order]) - np.cumsum(cur_weights[order])
    return float(np.sum(np.abs(gap[:-1]) * np.diff(points[order])))


def bin_points(counts: NumericCounts) -> FloatArray:
    """Where each bin's mass sits: inner bins at their middle, outer bins at their own mean."""
    edges = np.asarray(counts.edges, dtype=float)
    if edges.size == 0:
        return np.array([counts.mean])
    middles = (edges[:-1] + edges[1:]) / 2
    low_n, high_n = counts.counts[0], counts.counts[-1]
    low = counts.outer_sums[0] / low_n if low_n else float(edges[0])
    high = counts.outer_sums[1] / high_n if high_n else float(edges[-1])
    return np.concatenate([[low], middles, [high]])


def numeric_scores(reference: NumericCounts, current: NumericCounts) -> dict[str, float]:
    """PSI, normalised Wasserstein and blank change; NaN when the batch has no values."""
    blank = abs(
        _blank_share(current.blanks, current.rows) - _blank_share(reference.blanks, reference.rows)
    )
    if current.present == 0 or reference.present == 0:
        return {"psi": math.nan, "wasserstein": math.nan, "blank": blank}
    ref = np.asarray(reference.counts, dtype=float)
    cur = np.asarray(current.counts, dtype=float)
    distance = wasserstein(bin_points(reference), ref, bin_points(current), cur)
    scale = reference.std if reference.std > 0 else 1.0
    return {"psi": psi(ref, cur), "wasserstein": distance / scale, "blank": blank}


def categorical_scores(
    reference: CategoricalCounts, current: CategoricalCounts
) -> dict[str, float]:
    """PSI and JS over the reference's categories plus an `unseen` bucket, unseen share, blanks."""
    blank = abs(
        _blank_share(current.blanks, current.rows) - _blank_share(reference.blanks, reference.rows)
    )
    if current.present == 0 or reference.present == 0:
        return {"psi": math.nan, "js": math.nan, "unseen": math.nan, "blank": blank}
    seen = [name for name, count in reference.counts.items() if count > 0]
    known = [current.counts.get(name, 0) for name in seen]
    unseen = current.present - sum(known)
    ref = np.asarray([reference.counts[name] for name in seen] + [0], dtype=float)
    cur = np.asarray([*known, unseen], dtype=float)
    return {
        "psi": psi(ref, cur),
        "js": js_distance(ref, cur),
        "unseen": unseen / current.present,
        "blank": blank,
    }


def scores_of(
    reference: NumericCounts | CategoricalCounts, current: NumericCounts | CategoricalCounts
) -> dict[str, float]:
    """The scores of one column, numeric or categorical; both sides must be of the same kind."""
    if isinstance(reference, NumericCounts) and isinstance(current, NumericCounts):
        return numeric_scores(reference, current)
    if isinstance(reference, CategoricalCounts) and isinstance(current, CategoricalCounts):
        return categorical_scores(reference, current)
    raise TypeError("a numeric column can only be compared with a numeric one")


def noise_scale(score: str, rows: int, reference_rows: int) -> float:
    """How big a score's sampling noise is between `rows` and `reference_rows` rows, up to a
    constant: (1/rows + 1/reference_rows) to the score's power."""
    return float((1 / max(rows, 1) + 1 / max(reference_rows, 1)) ** NOISE_POWER[score])


def _smoothed_shares(counts: FloatArray) -> FloatArray:
    shares: FloatArray = (counts + SMOOTHING) / (counts.sum() + SMOOTHING * counts.size)
    return shares


def _kl(p: FloatArray, q: FloatArray) -> float:
    mask = p > 0
    return float(np.sum(p[mask] * np.log2(p[mask] / q[mask])))


def _blank_share(blanks: int, rows: int) -> float:
    return blanks / rows if rows else 0.0
