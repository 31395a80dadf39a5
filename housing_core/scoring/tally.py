"""What a batch scoring counts as it goes, in memory bounded by a constant, not by the file.

The metrics (RMSE, MAE, R², MAPE) are exact, from running sums over the rows that have a
valid price; the predictions' quantiles and the predicted-versus-actual picture come from a
uniform sample of a fixed size (reservoir sampling with a fixed seed: the same file gives the
same sample). Tallies of parts of a file merge (`merge`): the sums add, and the samples
are combined into a uniform sample of the rows of both, each side weighted by the rows it saw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
SAMPLE_SIZE = 100_000
_SUMS = ("err2", "abs", "pct", "y", "y2")


@dataclass
class Tally:
    """Running sums for exact metrics, and a fixed-size sample of (predicted, actual) pairs."""

    seed: int = 0
    sample_size: int = SAMPLE_SIZE
    priced: int = 0
    labelled: int = 0
    _sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_SUMS, 0.0))
    _predicted: np.ndarray = field(default_factory=lambda: np.empty(0))
    _actual: np.ndarray = field(default_factory=lambda: np.empty(0))
    _seen: int = 0

    def add(self, predicted: np.ndarray, actual: np.ndarray | None) -> None:
        """Count a chunk's prices (NaN: not priced) and, if the chunk has them, its targets."""
        priced = ~np.isnan(predicted)
        self.priced += int(priced.sum())
        truth = np.full(len(predicted), np.nan) if actual is None else actual
        labelled = priced & np.isfinite(truth) & (truth > 0)
        if labelled.any():
            self._add_sums(predicted[labelled], truth[labelled])
        self._sample(predicted[priced], truth[priced])

    def merge(self, other: Tally) -> None:
        """Add what `other` counted (rows after this tally's, as a later part of the file)."""
        self.priced += other.priced
        self.labelled += other.labelled
        for name in _SUMS:
            self._sums[name] += other._sums[name]
        size = self._predicted.size + other._predicted.size
        if size <= self.sample_size:  # both samples whole: what one tally would have kept
            self._predicted = np.concatenate([self._predicted, other._predicted])
            self._actual = np.concatenate([self._actual, other._actual])
        else:  # keep each side in proportion to the rows it stands for
            total = self._seen + other._seen
            mine = round(self.sample_size * self._seen / total) if total else 0
            mine = min(mine, self._predicted.size, self.sample_size)
            theirs = min(self.sample_size - mine, other._predicted.size)
            generator = np.random.default_rng((self.seed, self._seen, other._seen))
            keep = np.sort(generator.choice(self._predicted.size, mine, replace=False))
            take = np.sort(generator.choice(other._predicted.size, theirs, replace=False))
            self._predicted = np.concatenate([self._predicted[keep], other._predicted[take]])
            self._actual = np.concatenate([self._actual[keep], other._actual[take]])
        self._seen += other._seen

    def metrics(self) -> dict[str, float] | None:
        """RMSE, MAE (dollars), R², MAPE over the labelled rows; None without any."""
        n, s = self.labelled, self._sums
        if n == 0:
            return None
        total = s["y2"] - s["y"] ** 2 / n
        return {
            "rmse": math.sqrt(s["err2"] / n),
            "mae": s["abs"] / n,
            "r2": 1.0 - s["err2"] / total if total > 0 else float("nan"),
            "mape": s["pct"] / n,
        }

    def quantiles(self) -> dict[str, float]:
        """The predictions' quantiles (`p50`: the median price), from the sample."""
        if not self._predicted.size:
            return {}
        values = np.quantile(self._predicted, QUANTILES)
        return {f"p{round(q * 100):02d}": float(v) for q, v in zip(QUANTILES, values, strict=True)}

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """The sampled (actual, predicted) pairs that have an actual price, for the picture."""
        known = np.isfinite(self._actual)
        return self._actual[known], self._predicted[known]

    def _add_sums(self, predicted: np.ndarray, actual: np.ndarray) -> None:
        error = predicted - actual
        self.labelled += len(actual)
        self._sums["err2"] += float(np.dot(error, error))
        self._sums["abs"] += float(np.abs(error).sum())
        self._sums["pct"] += float((np.abs(error) / actual).sum())
        self._sums["y"] += float(actual.sum())
        self._sums["y2"] += float(np.dot(actual, actual))

    def _sample(self, predicted: np.ndarray, actual: np.ndarray) -> None:
        """Reservoir sampling (algorithm R, vectorised over a chunk): a uniform sample of all
        the values seen so far, of at most `sample_size`."""
        free = max(0, self.sample_size - self._predicted.size)
        self._predicted = np.concatenate([self._predicted, predicted[:free]])
        self._actual = np.concatenate([self._actual, actual[:free]])
        rest_p, rest_a = predicted[free:], actual[free:]
        if rest_p.size:
            generator = np.random.default_rng((self.seed, self._seen))
            position = self._seen + free + np.arange(rest_p.size)  # 0-based index of each value
            slot = (generator.random(rest_p.size) * (position + 1)).astype(np.int64)
            keep = slot < self.sample_size
            self._predicted[slot[keep]] = rest_p[keep]
            self._actual[slot[keep]] = rest_a[keep]
        self._seen += predicted.size
