"""housing-scoring: price a file of block groups with the production model (or a version).

    python -m flows.scoring --source data.csv --destination priced.parquet
    python -m flows.scoring --source s3://b/in.parquet --destination s3://b/out/ --version 7

Reads a path, a URL or an s3:// object (CSV or Parquet) in chunks, checks each row against
the data contract, prices it with the version's own code in its own processes, and writes the
input's rows with `predicted_median_house_value`, `model_version` and `contract_violations`,
whole or not at all. The drift from the version's training data is checked on the way.

With HOUSING_DASK__ADDRESS set, the input's partitions are scored on that Dask cluster
instead, one Prefect task each, each writing one part; the output is committed once every
part is in (docs/scoring-and-drift.md, "Scoring on a Dask cluster").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from prefect import flow
from prefect.futures import PrefectFuture, as_completed
from prefect.logging import get_run_logger
from prefect.runtime import flow_run
from prefect_dask.task_runners import DaskTaskRunner
from pydantic import BaseModel

from flows.embedded import run_embedded
from housing_core.data.source import DataSourceError
from housing_core.data.validation import DataValidationError
from housing_core.isolation.streaming import ScoringProcessError
from housing_core.scoring.batch import BatchResult, DriftedBatchError
from housing_core.scoring.partitions import (
    Partition,
    PartitionError,
    PartitionResult,
    output_schema,
    partitions,
)
from housing_core.scoring.report import scoring_report, summary_line
from housing_core.scoring.target import Target
from housing_core.settings import Settings, SettingsError, load_settings
from housing_core.storage import StorageError
from housing_core.tracking.connection import ArtifactStoreError, TrackingUnavailableError
from housing_core.tracking.registry import AliasNotSetError
from tasks.reports import publish_report
from tasks.runtime import (
    flow_body,
    kept_or_named_after_source,
    named_after_source,
    this_run_id,
    version_number,
)
from tasks.scoring import (
    ScoringProgress,
    check_destination,
    commit_partitions,
    open_staging,
    record_scoring,
    resolve_version,
    score_batch,
    score_partition,
    survey_source,
)
from tasks.tracking import check_tracking_server

DRAIN_S = 120.0  # how long a failed scoring waits for its other partitions before discarding


class PartitionSummary(BaseModel):
    """Where one partition of a scoring on the cluster ran."""

    index: int
    rows: int
    worker: str
    seconds: float


class ScoringSummary(BaseModel):
    flow_run_id: str
    source: str
    destination: str
    model_name: str
    version: str
    rows: int
    priced: int
    refused: int
    flagged: int
    contract: dict[str, int]
    quantiles: dict[str, float]
    metrics: dict[str, float] | None
    drifted: list[str] | None
    rows_per_second: float
    mlflow_run_id: str
    partitions: list[PartitionSummary] | None = None  # on a Dask cluster only


def name_run(params: dict[str, Any]) -> str:
    """`score-housing.csv-20261201-031500`: what `housing-run` names a run at submission."""
    return named_after_source("score", params)


def describe_run() -> str:
    return kept_or_named_after_source("score")


@flow(name="housing-scoring", flow_run_name=describe_run, validate_parameters=True)
@flow_body(
    SettingsError,
    DataSourceError,
    DataValidationError,
    StorageError,
    TrackingUnavailableError,
    ArtifactStoreError,
    AliasNotSetError,
    DriftedBatchError,
    ScoringProcessError,
    PartitionError,
)
def scoring_flow(
    source: str,
    destination: str,
    alias: str | None = None,
    version: int | str | None = None,
    scoring: dict[str, Any] | None = None,
    drift: dict[str, Any] | None = None,
) -> ScoringSummary:
    """Price every row of `source` with a registered version; write them to `destination`.

    Args:
        source: a path, an http(s) URL or an s3:// URI of a CSV or Parquet file.
        destination: a path or s3:// URI ending in .csv or .parquet (one file), or in `/`
            (Parquet parts under the run's prefix and a manifest written last).
        alias: the alias to score with (default: the serving alias, `production`).
        version: a version number instead of the alias.
        scoring: partial scoring settings, e.g. {"invalid_rows": "refuse", "chunk_rows": 20000}.
        drift: partial drift settings, e.g. {"overrides": {"psi": [0.2, 0.3]}}.
    """
    settings = load_settings({"scoring": scoring, "drift": drift})
    number = version_number(version)
    run_id = this_run_id()

    check_destination(destination, run_id)  # before any costly step
    check_tracking_server(settings.mlflow)
    surveyed = survey_source(source, settings.data.download_timeout_s)
    target = resolve_version(
        settings.mlflow,
        alias or settings.promotion.alias,
        number,
        settings.state_dir,
        settings.serving.environment,
    )
    spread: list[PartitionSummary] | None = None
    if settings.dask.address:
        result, spread = score_on_cluster(
            source, destination, target, settings, run_id, surveyed.rows
        )
    else:
        result = score_batch(
            source, destination, target, settings.scoring, settings.drift, run_id, surveyed.rows
        )
    mlflow_run = record_scoring(
        settings.mlflow,
        settings.scoring,
        result,
        target,
        flow_run.get_name() or name_run({"source": source}),
        surveyed.sha256,
        str(flow_run.get_id() or ""),
    )
    publish_report(
        key="housing-scoring-report",
        markdown=scoring_report(result, target.label, f"`{mlflow_run}`"),
        description=summary_line(result, target.label),
    )
    return ScoringSummary(
        flow_run_id=str(flow_run.get_id() or ""),
        source=source,
        destination=destination,
        model_name=target.version.name,
        version=target.version.version,
        rows=result.rows,
        priced=result.priced,
        refused=result.refused,
        flagged=result.flagged,
        contract=result.contract,
        quantiles=result.quantiles,
        metrics=result.metrics,
        drifted=None if result.drift is None else result.drift.drifted,
        rows_per_second=round(result.rows_per_second, 1),
        mlflow_run_id=mlflow_run,
        partitions=spread,
    )


def score_on_cluster(
    source: str,
    destination: str,
    target: Target,
    settings: Settings,
    run_id: str,
    expected_rows: int,
) -> tuple[BatchResult, list[PartitionSummary]]:
    """The input's partitions scored on the Dask cluster, a few in flight at a time; the
    output committed once every part is in, the parts discarded on any failure."""
    address = settings.dask.address
    assert address is not None
    started = time.perf_counter()
    staging = open_staging(destination, run_id)
    results: list[PartitionResult] = []
    in_flight: dict[PrefectFuture[PartitionResult], Partition] = {}
    progress = ScoringProgress(expected_rows, f"{target.label} on the cluster at {address}")

    def collected(finished: PrefectFuture[PartitionResult]) -> None:
        results.append(collect(finished, in_flight, address))
        progress.update(sum(r.counted.rows for r in results))

    try:
        with progress, DaskTaskRunner(address=address) as runner:
            schema: object = None
            for partition in partitions(source, settings.scoring.partition_rows):
                if schema is None:
                    schema = output_schema(partition, target)
                if len(in_flight) >= settings.scoring.partitions_in_flight:
                    collected(next(as_completed(list(in_flight))))
                named = score_partition.with_options(
                    task_run_name=f"score-partition-{partition.index}"
                )
                parameters = {
                    "partition": partition,
                    "scored_by": target,
                    "scoring": settings.scoring,
                    "staging": staging,
                    "schema": schema,
                    "source": source,
                }
                in_flight[runner.submit(named, parameters)] = partition
            while in_flight:
                collected(next(as_completed(list(in_flight))))
    except BaseException:
        settle(in_flight, DRAIN_S)  # a part still being written would outlive the discard
        staging.discard()
        raise
    result = commit_partitions(
        staging,
        results,
        target,
        settings.scoring,
        settings.drift,
        source,
        destination,
        time.perf_counter() - started,
    )
    spread = [
        PartitionSummary(
            index=r.index, rows=r.counted.rows, worker=r.worker, seconds=round(r.seconds, 3)
        )
        for r in sorted(results, key=lambda r: r.index)
    ]
    return result, spread


def settle(in_flight: dict[PrefectFuture[PartitionResult], Partition], within_s: float) -> None:
    """Wait, up to `within_s` in all, for the partitions still running after one failed:
    each writes its own part, which must be there before the parts are discarded."""
    deadline = time.monotonic() + within_s
    for future in in_flight:
        future.wait(timeout=max(0.0, deadline - time.monotonic()))
    running = [p.index for f, p in in_flight.items() if f.state.is_running()]
    if running:
        get_run_logger().warning(
            "partitions %s still running after %.0f s: a part they write later stays under "
            "the destination's _runs prefix",
            running,
            within_s,
        )


def collect(
    finished: PrefectFuture[PartitionResult],
    in_flight: dict[PrefectFuture[PartitionResult], Partition],
    address: str,
) -> PartitionResult:
    """A finished partition's result; its failure raised as itself when it is about the
    data or the version, else as a PartitionError naming the rows and the cluster."""
    partition = in_flight.pop(finished)
    try:
        return finished.result()
    except (DataValidationError, ScoringProcessError, StorageError) as exc:
        raise exc
    except Exception as exc:
        last = partition.first_row + len(partition.rows)
        raise PartitionError(
            f"partition {partition.index} (rows {partition.first_row + 1:,} to {last:,}) "
            f"failed on the Dask cluster at {address}: {type(exc).__name__}: {exc}; "
            "nothing written"
        ) from exc


def main(argv: list[str] | None = None) -> int:
    """CLI entry: the summary goes to stdout as JSON; exit 1 if the flow run failed."""
    parser = argparse.ArgumentParser(prog="python -m flows.scoring", description=__doc__)
    parser.add_argument("--source", required=True, help="path, URL or s3:// URI (CSV, Parquet)")
    parser.add_argument("--destination", required=True, help="path or s3:// URI")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--alias", help="score with the version this alias points to")
    which.add_argument("--version", help="score with this version number")
    args = parser.parse_args(argv)
    state = run_embedded(
        scoring_flow,
        source=args.source,
        destination=args.destination,
        alias=args.alias,
        version=args.version,
    )
    if not state.is_completed():
        print(json.dumps({"state": state.type.value, "message": state.message}), file=sys.stderr)
        return 1
    print(state.result().model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
