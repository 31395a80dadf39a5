"""A batch scoring's MLflow run, in the experiment `housing_batch_scoring`: what was scored
(the input's content hash as its data set), by which version (its lineage), with what result
(rows, prices, the contract's counts, metrics when the file has prices, the drift report)."""

from __future__ import annotations

import json

from matplotlib.figure import Figure

from housing_core.reports.drift import drift_figure
from housing_core.scoring.batch import BatchResult
from housing_core.scoring.report import predicted_vs_actual_figure, scoring_report
from housing_core.scoring.target import Target
from housing_core.settings import ScoringSettings
from housing_core.tracking import runs
from housing_core.tracking.connection import Tracking
from housing_core.tracking.runs import DatasetRecord, RunContent
from housing_core.uris import as_uri
from housing_core.versioning import FLOW_RUN_TAG

DRIFT_EXPERIMENT_TAGS = {
    "mlflow.experimentKind": "custom_model_development",
    "mlflow.note.content": "Drift checks by housing-flows: a batch of rows against the profile "
    "of the training rows a version ships; per feature its deciding score, the chart, the report.",
}
EXPERIMENT_TAGS = {
    "mlflow.experimentKind": "custom_model_development",
    "mlflow.note.content": "Batch scorings by housing-flows: one run per file priced, named as "
    "its Prefect flow run; the input as a data set, the version's lineage as model.* tags.",
}


def record_scoring(
    tracking: Tracking,
    settings: ScoringSettings,
    result: BatchResult,
    target: Target,
    *,
    run_name: str,
    input_hash: str,
    flow_run_id: str = "",
    artifact_location: str | None = None,
) -> str:
    """The run of one finished scoring; its id."""
    content = RunContent(
        name=run_name,
        tags={
            FLOW_RUN_TAG: flow_run_id,
            "model.name": target.version.name,
            "model.version": target.version.version,
            **{f"model.{k}": v for k, v in target.lineage.tags().items() if v},
            "housing.drift": result.drift.status if result.drift else "no profile",
        },
        params={
            "source": as_uri(result.source),
            "destination": as_uri(result.destination) if result.destination else "(none)",
            "model": target.label,
            "chunk_rows": str(settings.chunk_rows),
            "invalid_rows": settings.invalid_rows,
            "fail_on_drift": str(settings.fail_on_drift),
        },
        metrics=_metrics(result),
        datasets=(_input(result, input_hash, "scoring"),),
        figures=_figures(result),
        texts={
            "scoring/report.md": scoring_report(result, target.label, "this run"),
            "scoring/contract.json": json.dumps(result.contract, indent=2),
            **(
                {"scoring/drift.json": json.dumps(result.drift.to_dict(thresholds=True), indent=2)}
                if result.drift
                else {}
            ),
        },
    )
    return _record(tracking, settings.experiment_name, EXPERIMENT_TAGS, content, artifact_location)


def _metrics(result: BatchResult) -> dict[str, float]:
    metrics = {
        "rows": float(result.rows),
        "rows_priced": float(result.priced),
        "rows_refused": float(result.refused),
        "rows_flagged": float(result.flagged),
        "seconds": round(result.seconds, 3),
        "rows_per_second": round(result.rows_per_second, 1),
        **{f"prediction_{q}": v for q, v in result.quantiles.items()},
        **(result.metrics or {}),
    }
    if result.drift is not None:
        metrics["drifted_features"] = float(len(result.drift.drifted))
    return metrics


def _figures(result: BatchResult) -> dict[str, Figure]:
    figures: dict[str, Figure] = {}
    picture = predicted_vs_actual_figure(result)
    if picture is not None:
        figures["plots/predicted_vs_actual.png"] = picture
    if result.drift is not None:
        figures["plots/drift.png"] = drift_figure(result.drift)
    return figures


def record_drift_check(
    tracking: Tracking,
    experiment_name: str,
    result: BatchResult,
    target: Target,
    *,
    run_name: str,
    input_hash: str,
    flow_run_id: str = "",
    artifact_location: str | None = None,
) -> str:
    """The run of one drift check: per feature its deciding score, the chart, the report."""
    if result.drift is None:
        raise ValueError("a drift check needs the version's profile")
    report = result.drift
    metrics = {f"{f.name}.{f.main_score}": f.scores[f.main_score] for f in report.features}
    content = RunContent(
        name=run_name,
        tags={
            FLOW_RUN_TAG: flow_run_id,
            "model.name": target.version.name,
            "model.version": target.version.version,
            "housing.drift": report.status,
            "housing.drifted": ", ".join(report.drifted) or "none",
        },
        params={"source": as_uri(result.source), "model": target.label},
        metrics={
            "rows": float(result.rows),
            "drifted_features": float(len(report.drifted)),
            **metrics,
        },
        datasets=(_input(result, input_hash, "drift"),),
        figures={"plots/drift.png": drift_figure(report)},
        texts={"drift/report.json": json.dumps(report.to_dict(thresholds=True), indent=2)},
    )
    return _record(tracking, experiment_name, DRIFT_EXPERIMENT_TAGS, content, artifact_location)


def _input(result: BatchResult, input_hash: str, context: str) -> DatasetRecord:
    """The input as a data set of the run: its first rows for the schema, its hash."""
    return DatasetRecord(
        frame=result.head,
        name="housing-batch",
        context=context,
        source=as_uri(result.source),
        digest=input_hash[:32],
    )


def _record(
    tracking: Tracking,
    experiment: str,
    tags: dict[str, str],
    content: RunContent,
    artifact_location: str | None,
) -> str:
    """The experiment set up, the run created with its content and finished: its id."""
    experiment_id = runs.ensure_experiment(tracking, experiment, artifact_location)
    runs.set_experiment_tags(tracking, experiment_id, tags)
    run_id = runs.create_run(tracking, experiment_id, content)
    runs.finish_run(tracking, run_id)
    return run_id
