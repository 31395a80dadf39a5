"""Model behaviour on the real data: the default model, trained once on the split's train side.

These check what a user of the model relies on rather than how it is built: a higher income
does not lower the price, prices stay in the range the data can hold, nothing of a row's own
price leaks into its features, a row's price does not depend on the batch it comes in, and the
model survives the trip through the MLflow registry unchanged, scored by its own shipped code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from housing_core.data.contract import FEATURE_COLUMNS, PRICE_CAP, TARGET
from housing_core.data.split import Split, split_frame
from housing_core.isolation.jobs import score_in_own_processes
from housing_core.isolation.payloads import serving_payload
from housing_core.model.pipeline import predict, train_model
from housing_core.settings import HistGradientBoostingConfig, load_settings
from housing_core.tracking.connection import open_tracking
from housing_core.tracking.registry import (
    download_version,
    ensure_registered_model,
    register_version,
)
from housing_core.training.shipping import log_shipped_model


@pytest.fixture(scope="module")
def split(data_source: str) -> Split:
    return split_frame(pd.read_csv(data_source))


@pytest.fixture(scope="module")
def model(split: Split) -> Pipeline:
    train = split.train
    return train_model(
        train.loc[:, list(FEATURE_COLUMNS)], train[TARGET], HistGradientBoostingConfig()
    )


def _rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(predicted) - np.asarray(actual)) ** 2)))


def test_a_higher_income_does_not_lower_the_price(model: Pipeline, split: Split) -> None:
    # given every held-out row, and the same rows earning one unit ($10k) more
    richer = split.test.assign(median_income=split.test["median_income"] + 1.0)

    # when both are priced
    before, after = predict(model, split.test), predict(model, richer)

    # then prices rise on average, and a rare row falls, never by much
    assert after.mean() > before.mean() * 1.02
    assert np.mean(after < before) < 0.15
    assert np.mean(after < 0.95 * before) < 0.05


def test_prices_stay_within_what_the_data_can_hold(model: Pipeline, split: Split) -> None:
    # given the held-out rows and the same rows pushed to extreme incomes and sizes
    extremes = pd.concat(
        [
            split.test,
            split.test.assign(median_income=15.0, total_rooms=50_000.0),
            split.test.assign(median_income=0.5, households=1.0, total_bedrooms=np.nan),
        ]
    )

    prices = predict(model, extremes)

    assert np.isfinite(prices).all()
    assert prices.min() >= 0.0
    assert prices.max() <= PRICE_CAP


def test_neighbour_prices_of_training_rows_are_out_of_fold(model: Pipeline, split: Split) -> None:
    # given the feature steps as they were fit (deterministic: a clone refits them identically)
    features = model[: model.steps.index(("preprocess", model.named_steps["preprocess"]))]
    X, price = split.train.loc[:, list(FEATURE_COLUMNS)], split.train[TARGET]
    log_price = np.log1p(price.to_numpy())

    # when the training rows get their features as in training (out of fold) and as new rows
    out_of_fold = clone(features).fit_transform(X, price)
    in_sample = features.transform(X)
    held_out = features.transform(split.test.loc[:, list(FEATURE_COLUMNS)])

    # then each price feature misses a row's price by more when the row's own price is hidden,
    # and by about as much as it misses the truly held-out rows' prices
    price_features = [  # the columns that estimate a row's log price (not the spread)
        c for c in out_of_fold.columns if "log_value" in c and "_std_" not in c
    ]
    assert price_features
    held_out_log_price = np.log1p(split.test[TARGET].to_numpy())
    for column in price_features:
        oof_error = _rmse(out_of_fold[column], log_price)
        assert oof_error > _rmse(in_sample[column], log_price), column
        assert oof_error > 0.85 * _rmse(held_out[column], held_out_log_price), column


def test_training_error_is_not_absurdly_below_held_out_error(model: Pipeline, split: Split) -> None:
    # given the estimator's view of its own training rows (their out-of-fold features)
    features = Pipeline(model.steps[:-1])
    X, price = split.train.loc[:, list(FEATURE_COLUMNS)], split.train[TARGET]
    training_view = clone(features).fit_transform(X, price)

    # when the estimator scores them, and the whole model scores the held-out rows
    training_rmse = _rmse(model.named_steps["estimator"].predict(training_view), price)
    held_out_rmse = _rmse(predict(model, split.test), split.test[TARGET])

    # then boosting fits its training rows better, but not the way a leak would: with the
    # in-sample (leaking) neighbour features the same model reaches ~0.29 of the held-out RMSE
    assert held_out_rmse < 45_000
    assert 0.35 * held_out_rmse < training_rmse < held_out_rmse


def test_a_row_scored_alone_equals_the_row_in_a_batch(model: Pipeline, split: Split) -> None:
    batch = predict(model, split.test)

    positions = range(0, len(split.test), max(1, len(split.test) // 25))
    alone = [predict(model, split.test.iloc[[i]])[0] for i in positions]

    np.testing.assert_allclose(alone, batch[list(positions)], rtol=1e-9, atol=0)


def test_model_round_trips_through_the_mlflow_registry_and_scores_with_its_own_code(
    model: Pipeline, split: Split, tmp_path: Path
) -> None:
    # given the model logged exactly as the training flow logs it, then registered
    settings = load_settings(
        {"mlflow": {"tracking_uri": f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}"}}
    )
    rows = split.test.loc[:, list(FEATURE_COLUMNS)].head(50)
    with open_tracking(settings.mlflow) as tracking:
        client = tracking.client
        experiment_id = client.create_experiment(
            "behaviour", artifact_location=(tmp_path / "artifacts").as_uri()
        )
        run_id = client.create_run(experiment_id).info.run_id
        model_id = log_shipped_model(tracking, experiment_id, run_id, model, rows.head(5), {})
        ensure_registered_model(tracking, "behaviour_model", "test")
        version = register_version(tracking, "behaviour_model", model_id, run_id, {}, "test")
        assert str(version.version) == "1"

        # when it is downloaded and scored in a process of its own, as promotion scores it
        local = download_version(tracking, "behaviour_model", "1", tmp_path / "v1")
    (score,) = score_in_own_processes(
        {"1": local}, rows, serving_payload(rows.head(3)), tmp_path / "envs"
    ).values()

    # then it prices rows exactly as the model in memory does, with the code it ships
    assert score.error is None, score.error
    assert score.code_from == str(local / "code" / "housing_core" / "__init__.py")
    np.testing.assert_allclose(score.predictions, predict(model, rows), rtol=1e-12)
    assert score.smoke_error is None
