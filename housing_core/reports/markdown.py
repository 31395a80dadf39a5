"""Markdown building blocks for the reports: tables and links to the MLflow UI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def run_link(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    """A link to the run in the MLflow UI when the server is HTTP, else its runs:/ URI."""
    if tracking_uri.startswith(("http://", "https://")):
        return f"[{run_id}]({tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id})"
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
