"""Markdown building blocks for the reports: tables and links to the MLflow UI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# the experiment's saved runs-table view (metric columns, best RMSE first): see tracking.runs
METRICS_VIEW = "housing-metrics"


def run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    """The run's page in the MLflow UI when the server is HTTP, else its runs:/ URI."""
    if tracking_uri.startswith(("http://", "https://")):
        return f"{tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
    return f"runs:/{run_id}"


def experiment_url(tracking_uri: str, experiment_id: str) -> str:
    """The experiment's runs table with the metric columns shown, best RMSE first."""
    base = f"{tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs"
    return f"{base}?workflowType=machine_learning&viewStateShareKey={METRICS_VIEW}"


def run_link(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    """A link to the run in the MLflow UI when the server is HTTP, else its runs:/ URI."""
    if tracking_uri.startswith(("http://", "https://")):
        runs = experiment_url(tracking_uri, experiment_id)
        return f"[{run_id}]({run_url(tracking_uri, experiment_id, run_id)}) ([all runs]({runs}))"
    return f"`runs:/{run_id}` in `{tracking_uri}`"


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """Rows of already formatted cells (see housing_core.formatting) as a Markdown table."""
    if not rows:
        return "_(none)_"
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(row.get(h)) for h in headers) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|")
