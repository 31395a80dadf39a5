"""What a person reads about a training in MLflow: the experiment's view and note, a version's
tags and description, and what its run logs."""

from __future__ import annotations

import json

from housing_core.settings import HistGradientBoostingConfig, RandomForestConfig
from housing_core.training import pages
from housing_core.training.content import model_params
from housing_core.versioning import Lineage

METRICS = {"rmse": 39165.5, "mae": 25012.2, "r2": 0.88271, "mape": 0.13084}
LINEAGE = Lineage("k" * 64, "5bd655651edc5446229c", "0123456789abcdef", "f00")


def test_a_version_description_leads_with_a_short_plain_line_then_renders_its_metrics() -> None:
    text = pages.version_description(
        run_name="random-forest-n20-d12-20261201-091431",
        model=RandomForestConfig(n_estimators=20, max_depth=12),
        metrics=METRICS,
        n_test=3717,
        run_url="http://127.0.0.1:5000/#/experiments/1/runs/abc",
        flow_run_url="http://127.0.0.1:4200/runs/flow-run/f00",
        lineage=LINEAGE,
    )
    first = text.splitlines()[0]

    # the registry's table shows 32 characters of the first line, as plain text
    assert first == "RMSE $39,166 · random-forest" and len(first) <= 32
    assert "*" not in first and "|" not in text  # no Markdown in it, and no table anywhere
    assert "RMSE **$39,166** · MAE **$25,012** · R² **0.8827** · MAPE **13.08%**" in text
    assert "3,717 held-out rows" in text
    assert "[MLflow run](http://127.0.0.1:5000/#/experiments/1/runs/abc)" in text
    assert "[Prefect flow run](http://127.0.0.1:4200/runs/flow-run/f00)" in text
    assert "data `5bd655651edc`" in text and "code `0123456789ab`" in text


def test_a_version_carries_a_few_short_tags_a_person_reads() -> None:
    tags = pages.version_tags(HistGradientBoostingConfig(), LINEAGE, METRICS)

    assert tags == {
        "rmse": "$39,166",
        "r2": "0.8827",
        "family": "hist-gb",
        "data": "5bd65565",
        "code": "01234567",
    }
    # each chip shows whole in the registry's table (it cuts past 30 characters)
    assert all(len(k) + len(v) <= 26 for k, v in tags.items())


def test_the_experiment_note_leads_with_the_metrics_view_listed_in_mlflows_views_menu() -> None:
    tags = pages.experiment_tags("http://127.0.0.1:5000", "3", "housing_price_predictor")

    note = tags["mlflow.note.content"]
    assert note.startswith(
        "[Runs with their metrics, best RMSE first](http://127.0.0.1:5000/#/experiments/3/runs"
        "?workflowType=machine_learning&viewStateShareKey=housing-metrics)"
    )
    assert "**" not in note
    envelope = json.loads(tags["mlflow.sharedViewState.housing-metrics"])
    assert envelope["name"] == "Metrics, best RMSE first"
    state = json.loads(envelope["state"])
    assert state["orderByKey"] == "metrics.`rmse`" and state["orderByAsc"] is True
    assert state["columnOrder"][:2] == ["attributes.`Run Name`", "metrics.`rmse`"]
    # the same tags every time: nothing is rewritten on each training
    assert tags == pages.experiment_tags("http://127.0.0.1:5000", "3", "housing_price_predictor")


def test_an_embedded_store_gets_a_note_without_a_link() -> None:
    note = pages.experiment_tags("sqlite:///x.db", "1", "m")["mlflow.note.content"]
    assert note.startswith("Trainings of m by housing-flows") and "](" not in note


def test_a_forest_without_neighbour_features_logs_no_neighbour_parameters() -> None:
    params = model_params(RandomForestConfig())

    assert params["family"] == "random_forest"
    assert not [k for k in params["features"] if k.startswith("neighbour_")]
    assert "rotation_angles" not in params["features"]
    assert params["features"] == {"geo": False, "neighbours": False}


def test_the_default_model_logs_its_neighbour_parameters() -> None:
    features = model_params(HistGradientBoostingConfig())["features"]
    assert features["neighbours"] and features["neighbour_ks"] == [5, 15, 50]
