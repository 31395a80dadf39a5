"""Model steps: train the pipeline, evaluate it on the held-out rows."""

from __future__ import annotations

import pandas as pd
from prefect import task
from prefect.runtime import flow_run

from housing_core.settings import ModelConfig, QualityGates
from housing_core.training import fitting
from housing_core.training.fitting import EvaluatedModel, TrainedModel
from tasks.caching import EVALUATE_CACHE, TRAIN_CACHE


@task(name="train-model", cache_policy=TRAIN_CACHE, persist_result=True)
def train_model(train: pd.DataFrame, config: ModelConfig) -> TrainedModel:
    return fitting.fit(train, config, flow_run_id=str(flow_run.get_id() or ""))


@task(name="evaluate-model", cache_policy=EVALUATE_CACHE, persist_result=True)
def evaluate_model(
    trained: TrainedModel, test: pd.DataFrame, registration_gates: QualityGates
) -> EvaluatedModel:
    return fitting.evaluate(trained, test, registration_gates)
