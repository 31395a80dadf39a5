"""What a registered version's page in the MLflow registry says: Markdown, verdict first.

The description leads with the verdict and the held-out metrics, links to the MLflow run and
the Prefect flow run that made it, and, once the version has carried the serving alias, a
promotion section: when, why, the scores it won with, and where a rollback would go.
"""

from __future__ import annotations

from housing_core.formatting import format_metric

PROMOTION_HEADING = "## Serving"
METRICS = ("rmse", "mae", "r2", "mape")
LABELS = {"rmse": "RMSE", "mae": "MAE", "r2": "R²", "mape": "MAPE"}


def metric_table(metrics: dict[str, float]) -> str:
    shown = [m for m in METRICS if m in metrics]
    return "\n".join(
        [
            "| " + " | ".join(LABELS[m] for m in shown) + " |",
            "|" + "---|" * len(shown),
            "| " + " | ".join(format_metric(m, metrics[m]) for m in shown) + " |",
        ]
    )


def link(label: str, url: str) -> str:
    return f"[{label}]({url})" if url.startswith(("http://", "https://")) else f"{label}: `{url}`"


def version_description(
    *,
    run_name: str,
    family: str,
    metrics: dict[str, float],
    n_test: int,
    run_url: str,
    flow_run_url: str,
    data_version: str,
    code_version: str,
) -> str:
    """The description written when a version is registered."""
    links = [link("MLflow run", run_url)]
    if flow_run_url:
        links.append(link("Prefect flow run", flow_run_url))
    return "\n\n".join(
        [
            f"**Passed every registration check** on {n_test:,} held-out rows.",
            metric_table(metrics),
            f"`{run_name}` · {family} · data `{data_version[:12]}` · code `{code_version[:12]}`",
            " · ".join(links),
        ]
    )


def with_serving_record(description: str, record: str) -> str:
    """The description with its serving section replaced by `record` (or added)."""
    head = description.split(PROMOTION_HEADING, 1)[0].rstrip()
    return f"{head}\n\n{PROMOTION_HEADING}\n\n{record}"


def promoted_record(
    *,
    alias: str,
    action: str,
    at: str,
    replaced: str | None,
    rollback_to: str | None,
    reason: str,
    scores: dict[str, float],
    n_rows: int,
    flow_run_url: str,
) -> str:
    """The serving section of the version that now carries the alias."""
    verb = "promoted" if action == "promote" else "restored by a rollback"
    replaced_text = f", replacing v{replaced}" if replaced else " (the first version to serve)"
    lines = [
        f"**`{alias}` since {at}**: {verb}{replaced_text}.",
        f"**Why:** {reason}",
        f"Scores on the {n_rows:,} rows shared by every version compared:",
        metric_table(scores),
        f"Rollback goes to: {f'v{rollback_to}' if rollback_to else 'nothing (no earlier one)'}.",
    ]
    if flow_run_url:
        lines.append(link("Prefect flow run of the release", flow_run_url))
    return "\n\n".join(lines)


def replaced_record(*, alias: str, at: str, by: str, flow_run_url: str) -> str:
    """The serving section of the version that just lost the alias."""
    lines = [f"**No longer `{alias}`**: replaced by v{by} at {at}."]
    if flow_run_url:
        lines.append(link("Prefect flow run of the release", flow_run_url))
    return "\n\n".join(lines)
