"""Model steps: train the pipeline, evaluate it on the held-out rows."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd
from prefect import task
from prefect.logging import get_run_logger
from prefect.utilities.hashing import hash_objects
from sklearn.pipeline import Pipeline

from housing_core import evaluation, model
from housing_core.settings import ModelConfig, Thresholds
from housing_core.versioning import code_version
from tasks.caching import STEP_CACHE, frame_token


@dataclass(frozen=True)
class TrainedModel:
    """The fitted pipeline and the token of what made it (training rows, config, code)."""

    pipeline: Pipeline
    cache_token: str


@dataclass(frozen=True)
class EvaluatedModel:
    evaluation: evaluation.Evaluation
    importance: pd.DataFrame


@task(name="train-model", cache_policy=STEP_CACHE, persist_result=True)
def train_model(train: pd.DataFrame, config: ModelConfig) -> TrainedModel:
    started = time.perf_counter()
    fitted = model.train_model(train, config)
    get_run_logger().info(
        "trained %s on %d rows in %.1f s", config.family, len(train), time.perf_counter() - started
    )
    token = hash_objects(frame_token(train), config.model_dump(mode="json"), code_version())
    return TrainedModel(fitted, str(token))


@task(name="evaluate-model", cache_policy=STEP_CACHE, persist_result=True)
def evaluate_model(
    trained: TrainedModel, test: pd.DataFrame, thresholds: Thresholds
) -> EvaluatedModel:
    result = evaluation.evaluate_model(trained.pipeline, test, thresholds)
    importance = evaluation.feature_importance(trained.pipeline, test)
    logger = get_run_logger()
    for check in result.checks:
        logger.info("check %s", check.describe())
    return EvaluatedModel(result, importance)
