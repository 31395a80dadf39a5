"""The building blocks of what people read: links, metric lines, tables, figures."""

from __future__ import annotations

import numpy as np

from housing_core.reports.markdown import markdown_table, metric_lines, run_link, version_url
from housing_core.reports.plots import dollars_axis, predicted_vs_actual


def test_run_link_points_at_the_mlflow_ui_in_model_training_mode() -> None:
    link = run_link("http://127.0.0.1:5000/", "3", "abc")

    assert link == (
        "[abc](http://127.0.0.1:5000/#/experiments/3/runs/abc?workflowType=machine_learning)"
        " ([all runs](http://127.0.0.1:5000/#/experiments/3/runs"
        "?workflowType=machine_learning&viewStateShareKey=housing-metrics))"
    )
    assert run_link("sqlite:///x.db", "3", "abc") == "`runs:/abc` in `sqlite:///x.db`"
    assert version_url("http://h:5000/", "m", "2") == (
        "http://h:5000/#/models/m/versions/2?workflowType=machine_learning"
    )


def test_metrics_read_as_one_line_of_labelled_values_in_the_one_format() -> None:
    line = metric_lines({"mape": 0.1308, "rmse": 39_165.5, "r2": 0.88271})
    assert line == "RMSE **$39,166** · R² **0.8827** · MAPE **13.08%**"


def test_markdown_table_escapes_pipes() -> None:
    assert markdown_table([{"a": "x|y"}]).splitlines()[-1] == "| x\\|y |"


def test_the_plot_has_dollar_ticks_and_the_rmse_in_its_title() -> None:
    actual = np.array([100_000.0, 200_000.0, 300_000.0])
    figure = predicted_vs_actual(actual, actual + 30_000, "3 held-out rows")

    assert figure.axes[0].get_title() == "3 held-out rows: RMSE $30,000"
    assert [dollars_axis(v) for v in (0, 250_000, 1_200_000)] == ["$0", "$250k", "$1.2M"]
