"""housing-scoring: price a file of block groups with the production model (or a version).

    python -m flows.scoring --source data.csv --destination priced.parquet
    python -m flows.scoring --source s3://b/in.parquet --destination s3://b/out/ --version 7

Reads a path, a URL or an s3:// object (CSV or Parquet) in chunks, checks each row against
the data contract, prices it with the version's own code in its own processes, and writes the
input's rows with `predicted_median_house_value`, `model_version` and `contract_violations`,
whole or not at all. The drift from the version's training data is checked on the way.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from prefect import flow
from prefect.runtime import flow_run
from pydantic import BaseModel

from flows.embedded import run_embedded
from housing_core.data.source import DataSourceError
from housing_core.data.validation import DataValidationError
from housing_core.isolation.streaming import ScoringProcessError
from housing_core.scoring.batch import DriftedBatchError
from housing_core.scoring.report import scoring_report, summary_line
from housing_core.settings import SettingsError, load_settings
from housing_core.storage import StorageError
from housing_core.tracking.connection import TrackingUnavailableError
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
    check_destination,
    record_scoring,
    resolve_version,
    score_batch,
    survey_source,
)
from tasks.tracking import check_tracking_server


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
    AliasNotSetError,
    DriftedBatchError,
    ScoringProcessError,
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
    )


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
