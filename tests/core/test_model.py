"""The model is ONE pipeline from raw columns to dollars, on the real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from housing_core.model import predict, train_model
from housing_core.schemas import FEATURE_COLUMNS, PRICE_CAP
from housing_core.settings import HistGradientBoostingConfig, RandomForestConfig


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

    model = train_model(train, config)
    prices = predict(model, test)

    assert prices.shape == (300,)
    assert (prices >= 0).all() and (prices <= PRICE_CAP).all()
    assert 50_000 < float(np.median(prices)) < 400_000


def test_random_forest_is_single_threaded_after_training(sample: pd.DataFrame) -> None:
    model = train_model(sample, RandomForestConfig(n_estimators=4, max_depth=4))

    assert model.named_steps["estimator"].regressor_.n_jobs == 1


def test_raw_rows_with_a_blank_bedroom_count_are_scored(sample: pd.DataFrame) -> None:
    model = train_model(sample, RandomForestConfig(n_estimators=4, max_depth=4))
    row = sample.loc[[0], list(FEATURE_COLUMNS)].assign(total_bedrooms=np.nan)

    assert np.isfinite(predict(model, row)).all()
