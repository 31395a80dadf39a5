"""The serving section of a version's description: what a person reads on its registry page.

The version that now carries the alias says since when, whether it was promoted or restored,
what it replaced, why, the scores it won with and where a rollback would go; the version that
lost it says by which version and when. Each move replaces the section; the rest stays.
"""

from __future__ import annotations

from housing_core.reports.markdown import link, metric_lines

SERVING_HEADING = "## Serving"


def with_serving_record(description: str, record: str) -> str:
    """The description with its serving section replaced by `record` (or added)."""
    head = description.split(SERVING_HEADING, 1)[0].rstrip()
    return f"{head}\n\n{SERVING_HEADING}\n\n{record}"


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
    accepted_drift: tuple[str, ...] = (),
) -> str:
    """The serving section of the version that now carries the alias."""
    verb = "promoted" if action == "promote" else "restored by a rollback"
    replaced_text = f", replacing v{replaced}" if replaced else " (the first version to serve)"
    lines = [
        f"**`{alias}` since {at}**: {verb}{replaced_text}.",
        f"**Why:** {reason}",
        f"Scores on the {n_rows:,} rows shared by every version compared: {metric_lines(scores)}",
        f"Rollback goes to: {f'v{rollback_to}' if rollback_to else 'nothing (no earlier one)'}.",
    ]
    if accepted_drift:
        lines.insert(
            2, "**Drift accepted by the operator** (`accept_drift`): " + "; ".join(accepted_drift)
        )
    if flow_run_url:
        lines.append(link("Prefect flow run of the release", flow_run_url))
    return "\n\n".join(lines)


def replaced_record(*, alias: str, at: str, by: str, flow_run_url: str) -> str:
    """The serving section of the version that just lost the alias."""
    lines = [f"**No longer `{alias}`**: replaced by v{by} at {at}."]
    if flow_run_url:
        lines.append(link("Prefect flow run of the release", flow_run_url))
    return "\n\n".join(lines)
