"""housing-drift: does a batch of rows still look like what the production model trained on?

    python -m flows.drift --source new-rows.csv
    python -m flows.drift --source s3://bucket/week-48.parquet --alias production

Reads the source in chunks, prices it with the version's own code (the predictions drift too),
and judges every feature and the predictions against the reference profile the version ships
(binned counts of its training rows, with thresholds calibrated on folds of those rows):
effect sizes, not p-values, so a large batch of unshifted rows is not flagged. Prints one
JSON line last: per feature its scores and status (`ok`, `watch`, `drift`), and `drifted`.
Publishes a Prefect table artifact and logs the chart to MLflow (experiment `housing_drift`).
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
from housing_core.settings import SettingsError, load_settings
from housing_core.storage import StorageError
from housing_core.tracking.connection import ArtifactStoreError, TrackingUnavailableError
from housing_core.tracking.registry import AliasNotSetError
from tasks.reports import publish_table
from tasks.runtime import (
    flow_body,
    kept_or_named_after_source,
    named_after_source,
    this_run_id,
    version_number,
)
from tasks.scoring import record_drift_check, resolve_version, score_batch, survey_source
from tasks.tracking import check_tracking_server


class NoProfileError(RuntimeError):
    """The version was trained before versions shipped a reference profile."""


class DriftSummary(BaseModel):
    flow_run_id: str
    source: str
    model_name: str
    version: str
    rows: int
    status: str
    drifted: list[str]
    watch: list[str]
    features: dict[str, Any]
    mlflow_run_id: str


def name_run(params: dict[str, Any]) -> str:
    """`drift-housing.csv-20261201-031500`: what `housing-run` names a run at submission."""
    return named_after_source("drift", params)


def describe_run() -> str:
    return kept_or_named_after_source("drift")


@flow(name="housing-drift", flow_run_name=describe_run, validate_parameters=True)
@flow_body(
    SettingsError,
    DataSourceError,
    DataValidationError,
    StorageError,
    TrackingUnavailableError,
    ArtifactStoreError,
    AliasNotSetError,
    ScoringProcessError,
    NoProfileError,
)
def drift_flow(
    source: str,
    alias: str | None = None,
    version: int | str | None = None,
    drift: dict[str, Any] | None = None,
) -> DriftSummary:
    """Judge `source`'s rows against the reference profile of the version `alias` points to.

    Args:
        source: a path, an http(s) URL or an s3:// URI of a CSV or Parquet file.
        alias: the alias whose version is the reference (default: `production`).
        version: a version number instead of the alias.
        drift: partial drift settings, e.g. {"overrides": {"psi": [0.15, 0.3]}}.
    """
    settings = load_settings({"drift": drift})
    number = version_number(version)
    run_id = this_run_id()

    check_tracking_server(settings.mlflow)
    surveyed = survey_source(source, settings.data.download_timeout_s)
    target = resolve_version(
        settings.mlflow,
        alias or settings.promotion.alias,
        number,
        settings.state_dir,
        settings.serving.environment,
    )
    if target.profile is None:
        raise NoProfileError(
            f"{target.label} ships no reference profile (it was trained before profiles): "
            "check against a newer version (--version N)"
        )
    # every row counts: a drift check prices rows, flagged or not, and writes nothing
    scoring = settings.scoring.model_copy(update={"invalid_rows": "flag"})
    result = score_batch(source, None, target, scoring, settings.drift, run_id, surveyed.rows)
    assert result.drift is not None
    report = result.drift
    mlflow_run = record_drift_check(
        settings.mlflow,
        settings.drift,
        result,
        target,
        flow_run.get_name() or name_run({"source": source}),
        surveyed.sha256,
        str(flow_run.get_id() or ""),
    )
    drifted = ", ".join(report.drifted) or "nothing"
    publish_table(
        key="housing-drift",
        rows=report.table(),
        description=f"{result.rows:,} rows against {target.label}'s training rows: "
        f"{report.status}; drifted: {drifted}",
    )
    return DriftSummary(
        flow_run_id=str(flow_run.get_id() or ""),
        source=source,
        model_name=target.version.name,
        version=target.version.version,
        rows=result.rows,
        status=report.status,
        drifted=report.drifted,
        watch=report.watch,
        features=report.to_dict()["features"],
        mlflow_run_id=mlflow_run,
    )


def main(argv: list[str] | None = None) -> int:
    """CLI entry: the drift report as one JSON line, last; exit 1 if the flow run failed."""
    parser = argparse.ArgumentParser(prog="python -m flows.drift", description=__doc__)
    parser.add_argument("--source", required=True, help="path, URL or s3:// URI (CSV, Parquet)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--alias", help="judge against the version this alias points to")
    which.add_argument("--version", help="judge against this version number")
    args = parser.parse_args(argv)
    state = run_embedded(drift_flow, source=args.source, alias=args.alias, version=args.version)
    if not state.is_completed():
        print(json.dumps({"state": state.type.value, "message": state.message}), file=sys.stderr)
        return 1
    summary = state.result()
    line = {
        "rows": summary.rows,
        "version": summary.version,
        "status": summary.status,
        "drifted": summary.drifted,
        "watch": summary.watch,
        "features": summary.features,
    }
    print(json.dumps(line, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
