"""The promotion artifact: the decision in one line, why, then the comparison table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from housing_core.formatting import format_metric, format_share
from housing_core.promotion.decision import Decision
from housing_core.reports.markdown import markdown_table
from housing_core.settings import PromotionGates


def headline(decision: Decision, alias: str, dry_run: bool, bold: bool = False) -> str:
    """The decision in one line: `production` moved from v2 to v3 (promote)."""

    def v(version: str | None) -> str:
        return f"**v{version}**" if bold else f"v{version}"

    name = f"`{alias}`" if bold else alias
    if decision.moves:
        verb = "would move" if dry_run else "moved"
        before = f"from {v(decision.previous)}" if decision.previous else "(first time)"
        return f"{name} {verb} {before} to {v(decision.target)} ({decision.action})"
    if decision.action == "none":
        return f"{name} is not set: nothing moved"
    return f"{name} stays on {v(decision.target)}: no change"


def report(
    decision: Decision,
    *,
    model_name: str,
    alias: str,
    dry_run: bool,
    n_rows: int,
    data_version: str,
    gates: PromotionGates | None = None,
    notes: Sequence[str] = (),
) -> str:
    """Markdown: the decision in one line, why, the table of every version scored, the gates."""
    parts: list[Any] = [
        f"# Promotion of {model_name}{' (dry run: nothing moved)' if dry_run else ''}",
        headline(decision, alias, dry_run, bold=True),
        f"**Why:** {decision.reason}",
        f"Scored on the same {n_rows:,} held-out rows (data version `{data_version[:16]}`).",
        markdown_table(decision.table()),
        "## Candidates against production (RMSE, lower is better)",
        rmse_chart(decision),
    ]
    if gates is not None:
        parts.append(
            f"Gates: rmse <= {format_metric('rmse', gates.max_rmse)}, "
            f"mae <= {format_metric('mae', gates.max_mae)}, "
            f"r2 >= {format_metric('r2', gates.min_r2)}, "
            f"mape <= {format_metric('mape', gates.max_mape)}, smoke test passes; to replace "
            f"production, RMSE at least {format_share(gates.min_improvement)} lower."
        )
    if notes:
        parts += ["## Notes", *[f"- {n}" for n in notes]]
    return "\n\n".join(str(p) for p in parts)


CHART_WIDTH = 30


def rmse_chart(decision: Decision) -> str:
    """A bar per version scored, its length the RMSE above a baseline just under the best one
    (so a 2 % difference shows): a chart any Markdown page shows, Prefect's and MLflow's."""
    scored = [v for v in decision.scores if v.metrics.get("rmse") == v.metrics.get("rmse")]
    if not scored:
        return "_(no version scored)_"
    values = [v.metrics["rmse"] for v in scored]
    base = 0.95 * min(values)
    span = max(values) - base
    rows = []
    for score in scored:
        rmse = score.metrics["rmse"]
        eighths = round(CHART_WIDTH * 8 * (rmse - base) / span) if span > 0 else CHART_WIDTH * 8
        bar = "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]
        label = f"v{score.version} ({score.role})"
        rows.append({"version": label, "RMSE": format_metric("rmse", rmse), "chart": f"`{bar}`"})
    return f"{markdown_table(rows)}\n\nBars start at {format_metric('rmse', base)}."
