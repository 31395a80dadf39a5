"""What a release writes on the versions' pages, and the promotion report's chart."""

from __future__ import annotations

from housing_core.promotion import pages
from housing_core.promotion.decision import Decision, VersionScore
from housing_core.promotion.report import rmse_chart

METRICS = {"rmse": 39165.5, "mae": 25012.2, "r2": 0.88271, "mape": 0.13084}


def test_the_serving_record_replaces_the_previous_one_and_keeps_the_rest() -> None:
    base = "RMSE $39,166 · hist-gb"
    promoted = pages.promoted_record(
        alias="production",
        action="promote",
        at="2026-12-01T09:14:43.120+00:00",
        replaced="1",
        rollback_to="1",
        reason="v2 has the lowest RMSE",
        scores=METRICS,
        n_rows=3717,
        flow_run_url="",
    )
    once = pages.with_serving_record(base, promoted)
    replaced = pages.replaced_record(alias="production", at="later", by="3", flow_run_url="")
    twice = pages.with_serving_record(once, replaced)

    assert once.startswith(base) and "**`production` since 2026-12-01T09:14:43.120+00:00**" in once
    assert "replacing v1" in once and "**Why:** v2 has the lowest RMSE" in once
    assert "RMSE **$39,166** · MAE **$25,012**" in once and "|" not in once
    assert "Rollback goes to: v1." in once
    assert twice.startswith(base) and twice.count(pages.SERVING_HEADING) == 1
    assert "replaced by v3" in twice and "since" not in twice


def test_the_promotion_chart_draws_a_bar_per_version_as_long_as_its_rmse() -> None:
    decision = Decision(
        "promote",
        "2",
        "1",
        "v2 wins",
        (
            VersionScore("2", {**METRICS, "rmse": 30_000.0}, role="candidate"),
            VersionScore("1", {**METRICS, "rmse": 60_000.0}, role="production"),
        ),
    )
    rows = [
        line for line in rmse_chart(decision).splitlines() if line.startswith("| v") and "(" in line
    ]
    bars = [line.split("`")[1] for line in rows]

    assert rows[0].startswith("| v2 (candidate) | $30,000 |")
    assert rows[1].startswith("| v1 (production) | $60,000 |")
    # the worse one spans the chart; the better one is short: bars start just under the best
    assert len(bars[1]) == 30 and len(bars[0]) <= 2
    assert rmse_chart(decision).endswith("Bars start at $28,500.")
