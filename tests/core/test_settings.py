"""One settings tree: parameters over HOUSING_* env over the YAML file over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from housing_core.settings import (
    HistGradientBoostingConfig,
    RandomForestConfig,
    dump_yaml,
    load_settings,
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOUSING_CONFIG_FILE", "MLFLOW_TRACKING_URI", "HOUSING_DATA__SOURCE"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_embedded_quick_start() -> None:
    settings = load_settings()

    assert isinstance(settings.model, HistGradientBoostingConfig)
    assert settings.data.source.startswith("https://")
    assert settings.tracking_uri() == "sqlite:///.housing/mlflow.db"
    assert settings.mlflow.experiment_name == "housing_price_prediction"
    assert settings.mlflow.registered_model_name == "housing_price_predictor"


def test_env_selects_the_seed_random_forest_with_nested_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOUSING_MODEL__FAMILY", "random_forest")
    monkeypatch.setenv("HOUSING_MODEL__N_ESTIMATORS", "150")

    model = load_settings().model

    assert isinstance(model, RandomForestConfig)
    assert (model.n_estimators, model.max_depth) == (150, 20)
    assert not model.features.geo and not model.features.neighbours


def test_yaml_file_is_below_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "model:\n  family: random_forest\n  max_depth: 8\n"
        "thresholds:\n  max_rmse: 60000\n  max_mae: 40000\n"
    )
    monkeypatch.setenv("HOUSING_CONFIG_FILE", str(config))
    monkeypatch.setenv("HOUSING_THRESHOLDS__MAX_RMSE", "55000")

    settings = load_settings()

    assert settings.model.family == "random_forest" and settings.model.max_depth == 8
    assert settings.thresholds.max_rmse == 55000
    assert settings.thresholds.max_mae == 40000


def test_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUSING_CONFIG_FILE", "nowhere.yaml")

    with pytest.raises(FileNotFoundError, match=r"nowhere\.yaml"):
        load_settings()


def test_tracking_uri_follows_mlflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")

    assert load_settings().tracking_uri() == "http://127.0.0.1:5000"


def test_bad_values_are_rejected_with_the_field_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUSING_MODEL__FAMILY", "random_forest")
    monkeypatch.setenv("HOUSING_MODEL__N_ESTIMATORS", "0")

    with pytest.raises(ValidationError, match="n_estimators"):
        load_settings()


def test_unknown_family_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUSING_MODEL__FAMILY", "xgboost")

    with pytest.raises(ValidationError, match="xgboost"):
        load_settings()


def test_secrets_never_reach_the_dump(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUSING_MLFLOW__PASSWORD", "s3cret-password")

    settings = load_settings()

    assert settings.mlflow.password is not None
    assert "s3cret" not in dump_yaml(settings) and "s3cret" not in repr(settings)


def test_a_hyperparameter_alone_tunes_the_default_family(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUSING_MODEL__MAX_ITER", "123")

    model = load_settings().model

    assert isinstance(model, HistGradientBoostingConfig) and model.max_iter == 123


def test_a_parameter_of_another_family_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUSING_MODEL__N_ESTIMATORS", "50")

    with pytest.raises(ValidationError, match="n_estimators"):
        load_settings()
