"""Markdown building blocks for what people read: tables, metric lines and links to the UIs.

MLflow's registry pages render Markdown tables without cell spacing, so the metrics of a
version are one line of labelled values there; Prefect's artifacts render tables well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from housing_core.evaluation.metrics import METRICS
from housing_core.formatting import format_metric
from housing_core.uris import is_http

# the experiment's saved runs-table view (metric columns, best RMSE first): see training.pages
METRICS_VIEW = "housing-metrics"
LABELS = {"rmse": "RMSE", "mae": "MAE", "r2": "R²", "mape": "MAPE"}


# MLflow's UI keeps its mode (GenAI or model training) in the URL, else in the browser, where a
# first visit gets GenAI: every link written here says model training.
ML_MODE = "workflowType=machine_learning"


def run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    """The run's page in the MLflow UI when the server is HTTP, else its runs:/ URI."""
    if is_http(tracking_uri):
        base = tracking_uri.rstrip("/")
        return f"{base}/#/experiments/{experiment_id}/runs/{run_id}?{ML_MODE}"
    return f"runs:/{run_id}"


def experiment_url(tracking_uri: str, experiment_id: str) -> str:
    """The experiment's runs table with the metric columns shown, best RMSE first."""
    base = f"{tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs"
    return f"{base}?{ML_MODE}&viewStateShareKey={METRICS_VIEW}"


def version_url(tracking_uri: str, name: str, version: str) -> str:
    """A registered version's page in the MLflow UI."""
    return f"{tracking_uri.rstrip('/')}/#/models/{name}/versions/{version}?{ML_MODE}"


def run_link(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    """A link to the run in the MLflow UI when the server is HTTP, else its runs:/ URI."""
    if is_http(tracking_uri):
        runs = experiment_url(tracking_uri, experiment_id)
        return f"[{run_id}]({run_url(tracking_uri, experiment_id, run_id)}) ([all runs]({runs}))"
    return f"`runs:/{run_id}` in `{tracking_uri}`"


def link(label: str, url: str) -> str:
    """A Markdown link for a web address; anything else (a runs:/ URI) shown as code."""
    return f"[{label}]({url})" if is_http(url) else f"{label}: `{url}`"


def metric_lines(metrics: Mapping[str, float]) -> str:
    """`RMSE **$39,166** · MAE **$25,012** · R² **0.8827** · MAPE **13.08%**`."""
    shown = [m for m in METRICS if m in metrics]
    return " · ".join(f"{LABELS[m]} **{format_metric(m, metrics[m])}**" for m in shown)


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
