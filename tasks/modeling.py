"""Model steps: train the pipeline, evaluate it on the held-out rows."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd
from prefect import task
from prefect.logging import get_run_logger
from prefect.runtime import flow_run
from prefect.utilities.hashing import hash_objects
from sklearn.pipeline import Pipeline

from housing_core.data.contract import FEATURE_COLUMNS, TARGET
from housing_core.evaluation import gates, importance
from housing_core.model import pipeline
from housing_core.settings import ModelConfig, QualityGates
from housing_core.versioning import model_code_version
from tasks.caching import EVALUATE_CACHE, TRAIN_CACHE, frame_token


@dataclass(frozen=True)
class TrainedModel:
    """The fitted pipeline, what it took, and the token of what made it (rows, config, code)."""

    pipeline: Pipeline
    cache_token: str
    seconds: float
    started_at: float = 0.0  # epoch seconds
    flow_run_id: str = ""  # the flow run that trained it (a cached result carries another's)


@dataclass(frozen=True)
class EvaluatedModel:
    evaluation: gates.Evaluation
    importance: pd.DataFrame


@task(name="train-model", cache_policy=TRAIN_CACHE, persist_result=True)
def train_model(train: pd.DataFrame, config: ModelConfig) -> TrainedModel:
    started_at = time.time()
    started = time.perf_counter()
    fitted = pipeline.train_model(train.loc[:, list(FEATURE_COLUMNS)], train[TARGET], config)
    seconds = time.perf_counter() - started
    get_run_logger().info("trained %s on %d rows in %.1f s", config.family, len(train), seconds)
    token = hash_objects(frame_token(train), config.model_dump(mode="json"), model_code_version())
    return TrainedModel(fitted, str(token), seconds, started_at, str(flow_run.get_id() or ""))


@task(name="evaluate-model", cache_policy=EVALUATE_CACHE, persist_result=True)
def evaluate_model(
    trained: TrainedModel, test: pd.DataFrame, registration_gates: QualityGates
) -> EvaluatedModel:
    result = gates.evaluate_model(trained.pipeline, test, registration_gates)
    ranked = importance.feature_importance(trained.pipeline, test)
    logger = get_run_logger()
    for check in result.checks:
        logger.info("check %s", check.describe())
    return EvaluatedModel(result, ranked)
