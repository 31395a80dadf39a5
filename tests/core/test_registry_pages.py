"""What a person reads in the registry and the reports: descriptions, records, charts, names."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from housing_core.data.source import source_uri
from housing_core.promotion.decision import Decision, Verdict
from housing_core.promotion.report import rmse_chart
from housing_core.reports import versions
from housing_core.reports.plots import dollars_axis, predicted_vs_actual
from housing_core.settings import RandomForestConfig, Settings
from housing_core.tracking.run_content import model_params

METRICS = {"rmse": 39165.5, "mae": 25012.2, "r2": 0.88271, "mape": 0.13084}


def test_a_version_description_leads_with_the_verdict_and_links_both_uis() -> None:
    text = versions.version_description(
        run_name="random-forest-n20-d12-20261201-091431",
        family="random_forest",
        metrics=METRICS,
        n_test=3717,
        run_url="http://127.0.0.1:5000/#/experiments/1/runs/abc",
        flow_run_url="http://127.0.0.1:4200/runs/flow-run/f00",
        data_version="5bd655651edc5446229c",
        code_version="0123456789abcdef",
    )
    first = text.splitlines()[0]
    assert first == "**Passed every registration check** on 3,717 held-out rows."
    assert "| $39,166 | $25,012 | 0.8827 | 13.08% |" in text
    assert "[MLflow run](http://127.0.0.1:5000/#/experiments/1/runs/abc)" in text
    assert "[Prefect flow run](http://127.0.0.1:4200/runs/flow-run/f00)" in text
    assert "data `5bd655651edc`" in text and "code `0123456789ab`" in text


def test_the_serving_record_replaces_the_previous_one_and_keeps_the_rest() -> None:
    base = "**Passed every registration check** on 10 held-out rows."
    promoted = versions.promoted_record(
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
    once = versions.with_serving_record(base, promoted)
    replaced = versions.replaced_record(alias="production", at="later", by="3", flow_run_url="")
    twice = versions.with_serving_record(once, replaced)

    assert once.startswith(base) and "**`production` since 2026-12-01T09:14:43.120+00:00**" in once
    assert "replacing v1" in once and "**Why:** v2 has the lowest RMSE" in once
    assert "Rollback goes to: v1." in once
    assert twice.startswith(base) and twice.count(versions.PROMOTION_HEADING) == 1
    assert "replaced by v3" in twice and "since" not in twice


def test_the_promotion_chart_draws_a_bar_per_version_as_long_as_its_rmse() -> None:
    decision = Decision(
        "promote",
        "2",
        "1",
        "v2 wins",
        (
            Verdict("2", "candidate", {**METRICS, "rmse": 30_000.0}, ()),
            Verdict("1", "production", {**METRICS, "rmse": 60_000.0}, ()),
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


def test_a_forest_without_neighbour_features_logs_no_neighbour_parameters() -> None:
    params = model_params(Settings(model=RandomForestConfig()))

    assert params["family"] == "random_forest"
    assert not [k for k in params["features"] if k.startswith("neighbour_")]
    assert "rotation_angles" not in params["features"]
    assert params["features"] == {"geo": False, "neighbours": False}


def test_the_default_model_logs_its_neighbour_parameters() -> None:
    features = model_params(Settings())["features"]
    assert features["neighbours"] and features["neighbour_ks"] == [5, 15, 50]


def test_a_local_data_source_is_recorded_as_an_absolute_file_uri(tmp_path: Path) -> None:
    (tmp_path / "housing.csv").write_text("x\n")
    relative = Path("housing.csv")
    assert source_uri(str(tmp_path / relative)) == (tmp_path / relative).as_uri()
    assert source_uri("https://example.org/housing.csv") == "https://example.org/housing.csv"


def test_the_plot_has_dollar_ticks_and_the_rmse_in_its_title() -> None:
    actual = np.array([100_000.0, 200_000.0, 300_000.0])
    figure = predicted_vs_actual(actual, actual + 30_000, "3 held-out rows")

    assert figure.axes[0].get_title() == "3 held-out rows: RMSE $30,000"
    assert [dollars_axis(v) for v in (0, 250_000, 1_200_000)] == ["$0", "$250k", "$1.2M"]
