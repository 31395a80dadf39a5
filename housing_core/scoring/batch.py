"""One batch scoring: read in chunks, check each row, price it with the version's own code,
write the rows back with their price, whole or not at all.

Memory is bounded by the chunks in flight: a chunk is read, checked against the contract row
by row, sent to one of the version's processes (housing_core.isolation.streaming), written
out with its prices as soon as they come back, and counted (metrics, a sample of prices, the
drift summary) on the way. The output is committed only once every chunk is written and the
drift check allows it; any failure before that leaves no output behind (a previous output at
the same destination stays as it was).
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from housing_core import drift, storage
from housing_core.data import source as sources
from housing_core.data.contract import TARGET
from housing_core.data.rows import RowCheck, check_rows, describe_counts
from housing_core.data.validation import DataValidationError
from housing_core.isolation.streaming import VersionPool
from housing_core.scoring.tally import Tally
from housing_core.scoring.target import Target
from housing_core.settings import DriftSettings, ScoringSettings

log = logging.getLogger(__name__)
PREDICTION = "predicted_median_house_value"
VERSION = "model_version"
VIOLATIONS = "contract_violations"


class DriftedBatchError(RuntimeError):
    """The batch drifted from the model's profile and the settings fail it: nothing written."""


@dataclass(frozen=True)
class BatchResult:
    """What a scoring did: rows in, priced, refused; the contract's counts; the figures."""

    source: str
    destination: str | None
    version: str
    rows: int
    priced: int
    refused: int
    flagged: int
    contract: dict[str, int]
    metrics: dict[str, float] | None
    quantiles: dict[str, float]
    drift: drift.DriftReport | None
    seconds: float
    actual: np.ndarray
    predicted: np.ndarray
    head: pd.DataFrame  # the input's first rows: its columns and types, for the run's data set

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def score_batch(
    source: str,
    destination: str | None,
    target: Target,
    scoring: ScoringSettings,
    drift_settings: DriftSettings,
    run_id: str,
    progress: Callable[[int], None] = lambda rows: None,
) -> BatchResult:
    """Score `source` into `destination` (checked writable first; None: price and count,
    write nothing, as the drift check does); see the module docstring."""
    started = time.perf_counter()
    counted = Counted(target.profile)
    processes = scoring.processes or len(os.sched_getaffinity(0))
    with (
        _output(destination, run_id) as output,
        VersionPool(target.model_dir, target.interpreter, target.label, processes) as pool,
    ):
        chunks = sources.read_chunks(source, scoring.chunk_rows)
        for (chunk, check, scored), prices in pool.score(_checked(chunks, scoring, source)):
            priced = np.full(len(chunk), np.nan)
            priced[scored] = prices
            output.write(with_prices(chunk, priced, check, target.version.version))
            counted.add(chunk, check, scored, priced)
            progress(counted.rows)
        report = drift_verdict(counted, target, scoring, drift_settings)
        if counted.rows == 0:
            output.write(pd.DataFrame(columns=[PREDICTION, VERSION, VIOLATIONS]))
    return batch_result(counted, report, source, destination, target, time.perf_counter() - started)


def drift_verdict(
    counted: Counted, target: Target, scoring: ScoringSettings, drift_settings: DriftSettings
) -> drift.DriftReport | None:
    """The batch's drift report; raises DriftedBatchError if it drifted and the settings
    fail a drifted batch (called before the output is committed)."""
    report = counted.drift(drift_settings)
    if report is not None and report.drifted and scoring.fail_on_drift:
        raise DriftedBatchError(
            f"the batch drifted from {target.label}'s training data on "
            f"{', '.join(report.drifted)}: nothing written (scoring.fail_on_drift)"
        )
    return report


def batch_result(
    counted: Counted,
    report: drift.DriftReport | None,
    source: str,
    destination: str | None,
    target: Target,
    seconds: float,
) -> BatchResult:
    """What the scoring did, from its counts, logged in one line."""
    result = BatchResult(
        source=source,
        destination=destination,
        version=target.version.version,
        rows=counted.rows,
        priced=counted.tally.priced,
        refused=counted.refused,
        flagged=counted.flagged,
        contract=dict(counted.contract),
        metrics=counted.tally.metrics(),
        quantiles=counted.tally.quantiles(),
        drift=report,
        seconds=seconds,
        actual=counted.tally.pairs()[0],
        predicted=counted.tally.pairs()[1],
        head=counted.head,
    )
    log.info(
        "scored %d rows with %s in %.1f s (%.0f rows/s): %d priced, %d refused, %d flagged",
        result.rows,
        target.label,
        result.seconds,
        result.rows_per_second,
        result.priced,
        result.refused,
        result.flagged,
    )
    return result


def _output(destination: str | None, run_id: str) -> storage.Output | _Nowhere:
    return _Nowhere() if destination is None else storage.open_output(destination, run_id)


class _Nowhere:
    """An output that keeps nothing: the drift check prices rows only to count them."""

    def __enter__(self) -> _Nowhere:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def write(self, frame: pd.DataFrame) -> None:
        return None


def _checked(
    chunks: Iterator[pd.DataFrame], scoring: ScoringSettings, source: str
) -> Iterator[tuple[tuple[pd.DataFrame, RowCheck, np.ndarray], pd.DataFrame]]:
    """Each chunk, its check, which of its rows are scored, and the features sent."""
    seen = 0
    for chunk in chunks:
        check, scored = check_chunk(chunk, scoring, source, seen)
        seen += len(chunk)
        yield (chunk, check, scored), check.features.loc[scored]


def check_chunk(
    chunk: pd.DataFrame, scoring: ScoringSettings, source: str, first_row: int
) -> tuple[RowCheck, np.ndarray]:
    """The chunk's check and which of its rows are scored; `first_row` (0-based) names the
    rows in the error when the settings fail the batch on a broken row."""
    check = check_rows(chunk, source)
    if scoring.invalid_rows == "fail" and check.counts:
        raise DataValidationError(
            [
                f"rows {first_row + 1:,} to {first_row + len(chunk):,}: {line}"
                for line in describe_counts(check.counts, len(chunk))
            ]
            + ["nothing written (scoring.invalid_rows = fail)"],
            source,
        )
    scored = ~check.broken if scoring.invalid_rows == "refuse" else np.ones(len(chunk), bool)
    return check, scored


def with_prices(
    chunk: pd.DataFrame, priced: np.ndarray, check: RowCheck, version: str
) -> pd.DataFrame:
    """The input's rows as they came, then their price, the version and what they broke."""
    out = chunk.copy()
    out[PREDICTION] = priced
    out[VERSION] = version
    out[VIOLATIONS] = check.violations.to_numpy()
    return out


class Counted:
    """Everything counted over the chunks, in memory bounded by a constant."""

    def __init__(self, profile: drift.Profile | None) -> None:
        self.profile = profile
        self.tally = Tally()
        self.contract: Counter[str] = Counter()
        self.summary: drift.Summary | None = None
        self.rows = self.refused = self.flagged = 0
        self.head = pd.DataFrame()

    def add(
        self, chunk: pd.DataFrame, check: RowCheck, scored: np.ndarray, priced: np.ndarray
    ) -> None:
        if not self.rows:
            self.head = chunk.head(100)
        self.rows += len(chunk)
        self.contract.update(check.counts)
        self.refused += int((~scored).sum())
        self.flagged += int((check.broken & scored).sum())
        actual = None
        if TARGET in chunk.columns:
            actual = pd.to_numeric(chunk[TARGET], errors="coerce").to_numpy(dtype=float)
        self.tally.add(priced, actual)
        if self.profile is not None and scored.any():
            rows = check.features.loc[scored]
            if actual is not None:
                rows = rows.assign(**{TARGET: actual[scored]})
            part = drift.summarize(rows, like=self.profile, predictions=priced[scored])
            self.summary = part if self.summary is None else self.summary + part

    def merge(self, other: Counted) -> None:
        """Add what `other` counted over a later part of the same file."""
        if not self.rows:
            self.head = other.head
        self.rows += other.rows
        self.contract.update(other.contract)
        self.refused += other.refused
        self.flagged += other.flagged
        self.tally.merge(other.tally)
        if other.summary is not None:
            self.summary = other.summary if self.summary is None else self.summary + other.summary

    def drift(self, settings: DriftSettings) -> drift.DriftReport | None:
        if self.profile is None or self.summary is None:
            return None
        return drift.check(self.profile, self.summary, overrides=settings.overrides or None)
