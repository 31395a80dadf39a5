"""The training report (a Prefect artifact): the result first, then the metrics and the checks.

Its one-line summary (the artifact's description, what `housing-run` prints and the artifact
card shows) leads with the result and the RMSE, so a narrow card still shows both.
"""

from __future__ import annotations

from housing_core.formatting import format_metric, format_metrics
from housing_core.reports.markdown import markdown_table, run_link
from housing_core.training.content import TrainingRecord
from housing_core.training.identity import model_label
from housing_core.training.recording import LoggedTraining


def outcome(logged: LoggedTraining, passed: bool) -> str:
    """`registered as v3`, `already registered as v3`, `not registered (missed its checks)`."""
    if not passed:
        return "not registered (missed its checks)"
    if logged.reused:
        return f"already registered as v{logged.registered_version}"
    return f"registered as v{logged.registered_version}"


def training_summary(record: TrainingRecord, logged: LoggedTraining) -> str:
    """`v3 registered: rmse $39,241, mae $24,900, r2 0.8827, mape 13.08% · hist-gb-... `."""
    evaluation = record.evaluation
    return (
        f"{outcome(logged, evaluation.passed)}: {format_metrics(evaluation.metrics)}"
        f" · {record.run_name}"
    )


def training_report(record: TrainingRecord, logged: LoggedTraining, model_name: str) -> str:
    evaluation = record.evaluation
    verdict = "all checks passed" if evaluation.passed else "**checks FAILED: not registered**"
    if logged.registered_version:
        result = f"registered as **{model_name} version {logged.registered_version}**"
        if logged.reused:
            result += " (identical training: nothing new logged)"
    else:
        result = "no version registered"
    metric_rows = [
        {"metric": k, "value": format_metric(k, v)} for k, v in evaluation.metrics.items()
    ]
    parts = [
        f"# Training: {model_label(record.model)}",
        f"{verdict}; {result}.",
        f"- MLflow run: {run_link(logged.tracking_uri, logged.experiment_id, logged.run_id)}",
        f"- run name: `{record.run_name}`",
        f"- data version: `{record.lineage.data_version[:16]}`",
        "## Held-out metrics",
        markdown_table(metric_rows),
        "## Quality checks",
        markdown_table(evaluation.table()),
    ]
    if logged.notes:
        parts += ["## Notes", *[f"- {n}" for n in logged.notes]]
    return "\n\n".join(parts)
