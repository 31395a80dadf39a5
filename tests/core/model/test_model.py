"""The model is ONE pipeline from raw columns to dollars, on the real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from housing_core.data.contract import FEATURE_COLUMNS, PRICE_CAP, TARGET
from housing_core.model.pipeline import predict, train_model
from housing_core.settings import HistGradientBoostingConfig, RandomForestConfig


def fit(rows: pd.DataFrame, config: RandomForestConfig | HistGradientBoostingConfig) -> Pipeline:
    return train_model(rows.loc[:, list(FEATURE_COLUMNS)], rows[TARGET], config)


@pytest.fixture(scope="module")
def sample(data_source: str) -> pd.DataFrame:
    return pd.read_csv(data_source).sample(1500, random_state=0).reset_index(drop=True)


@pytest.mark.parametrize(
    "config",
    [RandomForestConfig(n_estimators=10, max_depth=8), HistGradientBoostingConfig(max_iter=30)],
    ids=["random_forest", "hist_gradient_boosting"],
)
def test_pipeline_takes_raw_columns_and_returns_dollars(
    sample: pd.DataFrame, config: RandomForestConfig | HistGradientBoostingConfig
) -> None:
    train, test = sample.iloc[:1200], sample.iloc[1200:]

    model = fit(train, config)
    prices = predict(model, test)

    assert prices.shape == (300,)
    assert (prices >= 0).all() and (prices <= PRICE_CAP).all()
    assert 50_000 < float(np.median(prices)) < 400_000


def test_random_forest_is_single_threaded_after_training(sample: pd.DataFrame) -> None:
    model = fit(sample, RandomForestConfig(n_estimators=4, max_depth=4))

    assert model.named_steps["estimator"].regressor_.n_jobs == 1


def test_raw_rows_with_a_blank_bedroom_count_are_scored(sample: pd.DataFrame) -> None:
    model = fit(sample, RandomForestConfig(n_estimators=4, max_depth=4))
    row = sample.loc[[0], list(FEATURE_COLUMNS)].assign(total_bedrooms=np.nan)

    assert np.isfinite(predict(model, row)).all()


def test_predictions_never_leave_the_range_of_the_training_prices(sample: pd.DataFrame) -> None:
    # given a model trained on rows whose prices stop at $300,000
    cheap = sample[sample[TARGET] <= 300_000]
    model = fit(cheap, HistGradientBoostingConfig(max_iter=30, n_models=1))

    # when it scores rows from across the whole data set, expensive ones included
    prices = predict(model, sample)

    # then no price is below zero or above the highest price it was trained on
    assert prices.min() >= 0 and prices.max() <= cheap[TARGET].max()
