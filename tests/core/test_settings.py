"""One settings tree, one path: overrides over HOUSING_* env over the YAML file over defaults,
deep-merged, then validated once with an error that names the field, its layer and the rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from housing_core.settings import (
    FeatureSettings,
    HistGradientBoostingConfig,
    RandomForestConfig,
    SettingsError,
    load_settings,
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("HOUSING_") or name == "MLFLOW_TRACKING_URI":
            monkeypatch.delenv(name)


def problems(overrides: dict[str, object] | None = None) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(overrides)
    return caught.value.problems


def test_defaults_are_the_embedded_quick_start() -> None:
    settings = load_settings()

    assert isinstance(settings.model, HistGradientBoostingConfig)
    assert settings.data.source.startswith("https://")
    assert settings.mlflow.uri == "sqlite:///.housing/mlflow.db"
    assert settings.mlflow.artifact_location == Path(".housing/mlartifacts").resolve().as_uri()
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
        "registration_gates:\n  max_rmse: 60000\n  max_mae: 40000\n"
    )
    monkeypatch.setenv("HOUSING_CONFIG_FILE", str(config))
    monkeypatch.setenv("HOUSING_REGISTRATION_GATES__MAX_RMSE", "55000")

    settings = load_settings()

    assert settings.model.family == "random_forest" and settings.model.max_depth == 8
    assert settings.registration_gates.max_rmse == 55000
    assert settings.registration_gates.max_mae == 40000


def test_overrides_are_merged_key_by_key_over_env_and_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given a family and a depth from the config file, a tree count from the environment
    config = tmp_path / "config.yaml"
    config.write_text("model:\n  family: random_forest\n  max_depth: 8\n")
    monkeypatch.setenv("HOUSING_CONFIG_FILE", str(config))
    monkeypatch.setenv("HOUSING_MODEL__N_ESTIMATORS", "150")

    # when a flow parameter sets one more field
    model = load_settings({"model": {"min_samples_leaf": 3}}).model

    # then all three layers are in force, none resets the others to defaults
    assert isinstance(model, RandomForestConfig)
    assert (model.max_depth, model.n_estimators, model.min_samples_leaf) == (8, 150, 3)


def test_an_override_that_switches_family_drops_the_other_familys_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOUSING_MODEL__MAX_ITER", "400")  # tunes the default family

    model = load_settings({"model": {"family": "random_forest", "n_estimators": 7}}).model

    assert isinstance(model, RandomForestConfig) and model.n_estimators == 7


def test_a_hyperparameter_alone_tunes_the_default_family(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUSING_MODEL__MAX_ITER", "123")

    model = load_settings({"model": {"learning_rate": 0.1}}).model

    assert isinstance(model, HistGradientBoostingConfig)
    assert (model.max_iter, model.learning_rate) == (123, 0.1)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"model": {"family": "random_forest", "n_estimators": 0}},
            "model.n_estimators = 0 (flow parameters): Input should be greater than or equal to 1",
        ),
        (
            {"registration_gates": {"min_r2": 2}},
            "registration_gates.min_r2 = 2 (flow parameters): "
            "Input should be less than or equal to 1",
        ),
        (
            {"promotion": {"gates": {"min_improvement": 1.5}}},
            "promotion.gates.min_improvement = 1.5 (flow parameters): Input should be less than 1",
        ),
        (
            {"model": {"family": "xgboost"}},
            "model.family = 'xgboost' (flow parameters): "
            "must be one of hist_gradient_boosting, random_forest",
        ),
        (
            {"model": {"n_estimators": 50}},
            "model.n_estimators = 50 (flow parameters): not a parameter of "
            "hist_gradient_boosting (the default family); it belongs to random_forest: add "
            '"family": "random_forest". hist_gradient_boosting takes: log_target, random_state, '
            "features, learning_rate, max_iter, max_leaf_nodes, min_samples_leaf, "
            "l2_regularization, max_depth, max_features, n_models, fit_threads",
        ),
    ],
    ids=["below-minimum", "above-maximum", "promotion-gate", "unknown-family", "other-family"],
)
def test_a_bad_override_is_refused_naming_field_layer_and_rule(
    overrides: dict[str, object], expected: str
) -> None:
    assert problems(overrides) == [expected]


def test_a_bad_env_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUSING_PROMOTION__GATES__MIN_R2", "high")

    (problem,) = problems()

    assert problem.startswith("promotion.gates.min_r2 = 'high' (HOUSING_PROMOTION__GATES__MIN_R2)")


def test_every_problem_is_listed_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUSING_DATA__MIN_ROWS", "0")

    found = problems({"model": {"max_iter": 0}, "split": {"test_fraction": 1.5}})

    assert [p.split(" ")[0] for p in found] == [
        "data.min_rows",
        "split.test_fraction",
        "model.max_iter",
    ]


def test_a_renamed_setting_left_in_the_environment_is_refused_with_its_new_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOUSING_THRESHOLDS__MAX_RMSE", "60000")
    monkeypatch.setenv("HOUSING_PROMOTION__MIN_IMPROVEMENT", "0.01")

    found = problems()

    assert found[0] == (
        "HOUSING_THRESHOLDS__MAX_RMSE (environment): no setting 'thresholds'; "
        "renamed to HOUSING_REGISTRATION_GATES__MAX_RMSE"
    )
    assert "renamed to 'promotion.gates.min_improvement'" in found[1]


def test_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUSING_CONFIG_FILE", "nowhere.yaml")

    assert problems() == ["HOUSING_CONFIG_FILE='nowhere.yaml': no such file"]


def test_tracking_uri_follows_mlflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")

    settings = load_settings()

    assert settings.mlflow.uri == "http://127.0.0.1:5000"
    assert settings.mlflow.artifact_location is None  # the server decides where artifacts go


def test_secrets_never_reach_a_dump_or_a_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUSING_MLFLOW__PASSWORD", "s3cret-password")

    settings = load_settings()

    assert settings.mlflow.password is not None
    assert settings.mlflow.password.get_secret_value() == "s3cret-password"
    assert "s3cret" not in settings.model_dump_json() and "s3cret" not in repr(settings)


def test_the_two_gate_sets_have_one_name_each() -> None:
    settings = load_settings(
        {"registration_gates": {"max_rmse": 1.0}, "promotion": {"gates": {"max_rmse": 2.0}}}
    )

    assert settings.registration_gates.max_rmse == 1.0
    assert settings.promotion.gates.max_rmse == 2.0
    assert settings.promotion.gates.min_improvement == 0.005


def test_the_lock_url_must_be_redis_and_stays_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    # a URL of another scheme is refused, naming the variable and the rule
    monkeypatch.setenv("HOUSING_CACHE__LOCK_URL", "http://127.0.0.1:6379/0")
    (problem,) = problems()
    assert "cache.lock_url" in problem and "HOUSING_CACHE__LOCK_URL" in problem
    assert "redis://" in problem

    # a Redis URL with a password is accepted, and its repr hides it
    monkeypatch.setenv("HOUSING_CACHE__LOCK_URL", "redis://:hunter2-secret@127.0.0.1:6379/0")
    settings = load_settings()
    assert settings.cache.lock_url is not None
    assert settings.cache.lock_url.get_secret_value().endswith("@127.0.0.1:6379/0")
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())


def test_the_neighbour_settings_are_the_neighbour_steps_own_parameters() -> None:
    # declared once for people (with rules and descriptions, here) and read by the model under
    # the names the estimator's own signature declares: nothing renamed in between
    from housing_core.model.neighbours.transformer import NeighbourTargetFeatures

    params = FeatureSettings().neighbour_params()
    estimator = set(NeighbourTargetFeatures().get_params())

    assert set(params) == estimator - {"income_adjusted", "log_target", "random_state"}
    assert NeighbourTargetFeatures(**params).get_params()["folds"] == 20
