from __future__ import annotations

from housing_core.reports import markdown_table, run_link, training_report
from housing_core.versioning import code_version, training_key


def test_code_version_is_a_stable_hash_of_the_package() -> None:
    assert code_version() == code_version()
    assert len(code_version()) == 64


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

    assert link == "[abc](http://127.0.0.1:5000/#/experiments/3/runs/abc)"
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
    assert "| rmse | 50,000 |" in text and "| r2 | 0.8100 |" in text
    assert "- n1" in text


def test_markdown_table_escapes_pipes() -> None:
    assert markdown_table([{"a": "x|y"}]).splitlines()[-1] == "| x\\|y |"
