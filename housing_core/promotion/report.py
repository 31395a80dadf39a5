"""The promotion artifact: the decision in one line, why, then the comparison table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from housing_core.formatting import format_metric, format_share
from housing_core.promotion.decision import Decision
from housing_core.reports.markdown import markdown_table
from housing_core.settings import PromotionGates


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
    if decision.moves:
        verb = "would move" if dry_run else "moved"
        before = f"from **v{decision.previous}**" if decision.previous else "(first time)"
        headline = f"`{alias}` {verb} {before} to **v{decision.target}** ({decision.action})"
    elif decision.action == "none":
        headline = f"`{alias}` not set: nothing to promote"
    else:
        headline = f"`{alias}` stays on **v{decision.target}**: no change"
    parts: list[Any] = [
        f"# Promotion of {model_name}{' (dry run: nothing moved)' if dry_run else ''}",
        headline,
        f"**Why:** {decision.reason}",
        f"Scored on the same {n_rows:,} held-out rows (data version `{data_version[:16]}`).",
        markdown_table(decision.table()),
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
