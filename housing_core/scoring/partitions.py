"""A large batch scoring spread over a cluster: partitions, scored where they land, each one
a part of the output, committed once all are in.

The process that runs the scoring reads the input in partitions (`partitions`) and hands
each one to some worker. A worker checks the partition's rows against the contract, prices
them with the version's own code in the version's own processes (kept warm: one pool per
version per worker process, `warm_pool`), writes its rows with their prices as one part
under the run's prefix (`storage.Staging.put_part`), and sends back what it counted
(`PartitionResult`). The counts merge (`merge`: exact sums, drift counts on the profile's
bins, a uniform price sample), so the summary, the contract's counts and the drift check
are those of the single-machine path. Only once every part is in does `commit` write the
manifest (or copy the parts into the one destination file); any failure before that
discards the parts, and nothing appears at the destination.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from housing_core import drift, storage
from housing_core.data import source as sources
from housing_core.isolation.streaming import ScoringProcessError, VersionPool
from housing_core.scoring.batch import (
    PREDICTION,
    VERSION,
    VIOLATIONS,
    BatchResult,
    Counted,
    batch_result,
    check_chunk,
    drift_verdict,
    with_prices,
)
from housing_core.scoring.target import Target
from housing_core.settings import DriftSettings, ScoringSettings

log = logging.getLogger(__name__)


class PartitionError(RuntimeError):
    """A partition could not be scored on the cluster (a lost scheduler, a task that failed
    on every worker it was given): names the rows; nothing was written."""


@dataclass(frozen=True)
class Partition:
    """Rows `first_row` to `first_row + len(rows)` of the input (0-based), part `index`."""

    index: int
    first_row: int
    rows: pd.DataFrame


@dataclass
class PartitionResult:
    """What one partition's scoring wrote (its part) and counted; `worker` says where."""

    index: int
    part: storage.Part
    counted: Counted
    seconds: float
    worker: str = ""


def partitions(source: str, rows_per_partition: int) -> Iterator[Partition]:
    """The input, `rows_per_partition` rows at a time (read as the single-machine path
    reads it, so both paths see the same rows with the same types)."""
    first = 0
    for index, frame in enumerate(sources.read_chunks(source, rows_per_partition)):
        yield Partition(index, first, frame)
        first += len(frame)


def output_schema(first: Partition, target: Target) -> object:
    """The Arrow schema every part is written with: the first partition's, as the single
    machine's output takes the first chunk's."""
    head = first.rows.head(1000)
    check, _ = check_chunk(head, ScoringSettings(), "the first partition", first.first_row)
    priced = np.full(len(head), np.nan)
    return storage.schema_of(with_prices(head, priced, check, target.version.version))


def score_partition(
    partition: Partition,
    target: Target,
    scoring: ScoringSettings,
    staging: storage.Staging,
    schema: object,
    source: str,
) -> PartitionResult:
    """Check, price and write one partition as part `partition.index` of the output."""
    started = time.perf_counter()
    frame = partition.rows
    check, scored = check_chunk(frame, scoring, source, partition.first_row)
    positions = np.flatnonzero(scored)
    features = check.features.iloc[positions]
    priced = np.full(len(frame), np.nan)
    step = scoring.chunk_rows
    blocks: Iterable[tuple[slice, pd.DataFrame]] = (
        (slice(lo, lo + step), features.iloc[lo : lo + step])
        for lo in range(0, len(positions), step)
    )
    with warm_pool(target, scoring.processes or 1) as pool:
        for block, prices in pool.score(blocks):
            priced[positions[block]] = prices
    part = staging.put_part(
        partition.index, with_prices(frame, priced, check, target.version.version), schema
    )
    counted = Counted(target.profile)
    counted.add(frame, check, scored, priced)
    counted.profile = None  # the driver has it: not sent back with every partition
    return PartitionResult(partition.index, part, counted, time.perf_counter() - started)


def merge(
    results: Iterable[PartitionResult],
    target: Target,
    scoring: ScoringSettings,
    drift_settings: DriftSettings,
) -> tuple[Counted, drift.DriftReport | None]:
    """The partitions' counts as one (in the input's order) and the batch's drift report;
    raises DriftedBatchError as the single-machine path does, before anything is committed."""
    counted = Counted(target.profile)
    for result in sorted(results, key=lambda r: r.index):
        counted.merge(result.counted)
    return counted, drift_verdict(counted, target, scoring, drift_settings)


def commit(
    staging: storage.Staging,
    results: list[PartitionResult],
    counted: Counted,
    report: drift.DriftReport | None,
    source: str,
    destination: str,
    target: Target,
    seconds: float,
) -> BatchResult:
    """Publish the output (the manifest, or the one file) now that every part is in."""
    columns = [*counted.head.columns] if counted.rows else [PREDICTION, VERSION, VIOLATIONS]
    staging.commit([result.part for result in results], columns)
    return batch_result(counted, report, source, destination, target, seconds)


class _WarmPool:
    """A version's pool in this process, used by one partition at a time."""

    def __init__(self, pool: VersionPool) -> None:
        self.pool = pool
        self.lock = threading.Lock()


_warm: dict[tuple[str, str, int], _WarmPool] = {}
_warm_lock = threading.Lock()


class warm_pool:  # noqa: N801 (used as a context manager, like a function)
    """The version's processes in this (worker) process, started by the first partition
    and kept for the next; a pool whose process failed is closed and started afresh next
    time. Partitions on one worker's threads take turns on it."""

    def __init__(self, target: Target, processes: int) -> None:
        self.key = (str(target.model_dir), str(target.interpreter.python), processes)
        self.target = target
        self.processes = processes
        self.warm: _WarmPool | None = None

    def __enter__(self) -> VersionPool:
        with _warm_lock:
            warm = _warm.get(self.key)
            if warm is None:
                log.info("starting %d process(es) of %s", self.processes, self.target.label)
                pool = VersionPool(
                    self.target.model_dir,
                    self.target.interpreter,
                    self.target.label,
                    self.processes,
                )
                warm = _warm[self.key] = _WarmPool(pool.__enter__())
        warm.lock.acquire()
        self.warm = warm
        return warm.pool

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        assert self.warm is not None
        if kind is not None:  # the pool may hold answers of this partition: never reuse it
            with _warm_lock:
                if _warm.get(self.key) is self.warm:
                    del _warm[self.key]
            self.warm.pool.close()
        self.warm.lock.release()


def close_warm_pools() -> None:
    """Stop every version process this process keeps (at exit, or when a test wants)."""
    with _warm_lock:
        pools = list(_warm.values())
        _warm.clear()
    for warm in pools:
        warm.pool.close()


def warm_processes() -> list[int]:
    """The process ids of the version processes kept warm here."""
    with _warm_lock:
        return [w.process.pid for warm in _warm.values() for w in warm.pool.workers]


atexit.register(close_warm_pools)
__all__ = [
    "Partition",
    "PartitionError",
    "PartitionResult",
    "ScoringProcessError",
    "close_warm_pools",
    "commit",
    "merge",
    "output_schema",
    "partitions",
    "score_partition",
    "warm_processes",
]
