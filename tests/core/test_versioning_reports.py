from __future__ import annotations

import pytest

from housing_core.formatting import format_metric, format_metrics
from housing_core.reports.markdown import markdown_table, run_link
from housing_core.reports.training import training_report
from housing_core.versioning import MODEL_CODE, code_version, model_code_version, training_key


def test_the_model_code_version_covers_the_model_wing_the_contract_and_the_split() -> None:
    assert MODEL_CODE == ("model", "data/contract.py", "data/split.py")
    assert model_code_version() == code_version(*MODEL_CODE) == model_code_version()
    assert len(model_code_version()) == 64
    assert code_version("model") != code_version("model", "data/split.py")


def test_a_code_version_refuses_what_is_not_there() -> None:
    with pytest.raises(FileNotFoundError, match="no 'modle'"):
        code_version("modle")
    with pytest.raises(ValueError, match="name the modules"):
        code_version()


@pytest.mark.parametrize(
    ("metric", "value", "shown"),
    [
        ("rmse", 39165.5, "$39,166"),
        ("mae", 1234.4, "$1,234"),
        ("r2", 0.88271, "0.8827"),
        ("mape", 0.13081, "13.08%"),
        ("rmse", float("nan"), "n/a"),
    ],
)
def test_one_number_format(metric: str, value: float, shown: str) -> None:
    assert format_metric(metric, value) == shown


def test_metrics_read_in_one_line() -> None:
    assert format_metrics({"rmse": 39_165.5, "r2": 0.8827}) == "rmse $39,166, r2 0.8827"


def test_training_key_changes_with_any_input() -> None:
    base = training_key("d1", "c1", {"model": {"n": 1}})

    assert base == training_key("d1", "c1", {"model": {"n": 1}})
    assert (
        len(
            {
                base,
                training_key("d2", "c1", {"model": {"n": 1}}),
                training_key("d1", "c2", {"model": {"n": 1}}),
                training_key("d1", "c1", {"model": {"n": 2}}),
            }
        )
        == 4
    )


def test_run_link_points_at_the_mlflow_ui_for_a_server() -> None:
    link = run_link("http://127.0.0.1:5000/", "3", "abc")

    assert link == (
        "[abc](http://127.0.0.1:5000/#/experiments/3/runs/abc)"
        " ([all runs](http://127.0.0.1:5000/#/experiments/3/runs"
        "?workflowType=machine_learning&viewStateShareKey=housing-metrics))"
    )
    assert run_link("sqlite:///x.db", "3", "abc") == "`runs:/abc` in `sqlite:///x.db`"


def test_training_report_says_what_happened() -> None:
    text = training_report(
        model_name="m",
        family="random_forest",
        metrics={"rmse": 50_000.0, "r2": 0.81},
        checks=[{"metric": "rmse", "result": "pass"}],
        passed=True,
        version="3",
        reused=False,
        link="L",
        data_version="f" * 64,
        notes=["n1"],
    )

    assert "registered as **m version 3**" in text
    assert "| rmse | $50,000 |" in text and "| r2 | 0.8100 |" in text
    assert "- n1" in text


def test_markdown_table_escapes_pipes() -> None:
    assert markdown_table([{"a": "x|y"}]).splitlines()[-1] == "| x\\|y |"
