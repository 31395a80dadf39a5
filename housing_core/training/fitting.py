"""The model fitted on the training rows and timed, then evaluated on the held-out rows."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from housing_core.data.contract import TARGET, features_of
from housing_core.evaluation import gates, importance
from housing_core.model import pipeline
from housing_core.settings import ModelConfig, QualityGates
from housing_core.versioning import frame_version, model_code_version, training_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainedModel:
    """The fitted pipeline, what it took, and the token of what made it (rows, config, code)."""

    pipeline: Pipeline
    cache_token: str
    seconds: float
    started_at: float = 0.0  # epoch seconds
    flow_run_id: str = ""  # the flow run that trained it (a cached result carries another's)

    def started_at_ms(self, flow_run_id: str) -> int | None:
        """When the training began, if it ran in `flow_run_id` (not read from a cache)."""
        return int(self.started_at * 1000) if flow_run_id == self.flow_run_id else None


@dataclass(frozen=True)
class EvaluatedModel:
    evaluation: gates.Evaluation
    importance: pd.DataFrame


def fit(train: pd.DataFrame, config: ModelConfig, flow_run_id: str = "") -> TrainedModel:
    started_at, started = time.time(), time.perf_counter()
    fitted = pipeline.train_model(features_of(train), train[TARGET], config)
    seconds = time.perf_counter() - started
    log.info("trained %s on %d rows in %.1f s", config.family, len(train), seconds)
    token = training_key(frame_version(train), model_code_version(), config.model_dump(mode="json"))
    return TrainedModel(fitted, token, seconds, started_at, flow_run_id)


def evaluate(trained: TrainedModel, test: pd.DataFrame, limits: QualityGates) -> EvaluatedModel:
    """The held-out metrics against the registration gates, and which columns matter.

    One OpenMP thread: the boosted trees open a parallel region per tree and per call, and
    permutation importance makes 28 calls of 900 trees. On a busy 2-core worker the threads
    wait for each other at every region: ten times slower than one thread, same figures
    (docs/model.md).
    """
    with threadpool_limits(limits=1, user_api="openmp"):
        result = gates.evaluate_model(trained.pipeline, test, limits)
        ranked = importance.feature_importance(trained.pipeline, test)
    for check in result.checks:
        log.info("check %s", check.describe())
    return EvaluatedModel(result, ranked)
