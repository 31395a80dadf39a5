"""The training report: the verdict, the held-out metrics and the checks, at a glance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from housing_core.formatting import format_metric
from housing_core.reports.markdown import markdown_table


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
    metric_rows = [{"metric": k, "value": format_metric(k, v)} for k, v in metrics.items()]
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
