"""Markdown a person reads at a glance in the Prefect UI: metrics, checks, decisions, links."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def run_link(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    """A link to the run in the MLflow UI when the server is HTTP, else its runs:/ URI."""
    if tracking_uri.startswith(("http://", "https://")):
        return f"[{run_id}]({tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id})"
    return f"`runs:/{run_id}` in `{tracking_uri}`"


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "_(none)_"
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(row.get(h)) for h in headers) + " |" for row in rows]
    return "\n".join(lines)


def training_report(
    *,
    model_name: str,
    family: str,
    metrics: dict[str, float],
    checks: Sequence[dict[str, Any]],
    passed: bool,
    version: str | None,
    reused: bool,
    link: str,
    data_version: str,
    notes: Sequence[str],
) -> str:
    verdict = "all checks passed" if passed else "**checks FAILED: not registered**"
    if version:
        outcome = f"registered as **{model_name} version {version}**"
        if reused:
            outcome += " (identical training: nothing new logged)"
    else:
        outcome = "no version registered"
    metric_rows = [
        {"metric": k, "value": f"{v:,.4f}" if k in ("r2", "mape") else f"{v:,.0f}"}
        for k, v in metrics.items()
    ]
    parts = [
        f"# Training: {family}",
        f"{verdict}; {outcome}.",
        f"- MLflow run: {link}",
        f"- data version: `{data_version[:16]}`",
        "## Held-out metrics",
        markdown_table(metric_rows),
        "## Quality checks",
        markdown_table(list(checks)),
    ]
    if notes:
        parts += ["## Notes", *[f"- {n}" for n in notes]]
    return "\n\n".join(parts)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}"
    return str(value).replace("|", "\\|")
