from __future__ import annotations

from pathlib import Path

import pytest

from housing_core.formatting import format_metric, format_metrics
from housing_core.uris import as_uri, is_http
from housing_core.versioning import (
    MODEL_CODE,
    Lineage,
    code_version,
    model_code_version,
    training_key,
)


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


def test_a_lineage_reads_back_from_its_tags_and_an_older_runs_missing_ones_are_blank() -> None:
    lineage = Lineage("k", "d", "c", "f")

    assert Lineage.from_tags(lineage.tags()) == lineage
    assert Lineage.from_tags({"housing.code_version": "c"}) == Lineage("", "", "c", "")


def test_a_local_path_is_recorded_as_an_absolute_file_uri(tmp_path: Path) -> None:
    (tmp_path / "housing.csv").write_text("x\n")
    assert as_uri(str(tmp_path / "housing.csv")) == (tmp_path / "housing.csv").as_uri()
    assert as_uri("https://example.org/housing.csv") == "https://example.org/housing.csv"
    assert as_uri("s3://bucket/housing.csv") == "s3://bucket/housing.csv"
    assert is_http("https://x") and is_http("http://x") and not is_http("s3://x")
