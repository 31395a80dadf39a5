"""What a training run holds: parameters, metrics, its data sets, figures and the evaluation."""

from __future__ import annotations

import json
import time
import warnings
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import DatasetInput, InputTag, Metric, Param, RunTag

from housing_core.data.contract import TARGET
from housing_core.evaluation.gates import Evaluation
from housing_core.reports.plots import importance_bars, predicted_vs_actual
from housing_core.settings import Settings
from housing_core.tracking.lineage import Lineage


def run_params(settings: Settings, n_train: int, n_test: int) -> dict[str, str]:
    """The configuration that made the model, flattened (`model.max_iter`), with the row counts."""
    params = flatten(
        {
            "model": model_params(settings),
            "split": settings.split.model_dump(mode="json"),
            "registration_gates": settings.registration_gates.model_dump(mode="json"),
        }
    )
    params.update({"n_train_rows": str(n_train), "n_test_rows": str(n_test)})
    return params


NEIGHBOUR_FIELDS = ("neighbour_",)
GEO_FIELDS = ("rotation_angles",)


def model_params(settings: Settings) -> dict[str, Any]:
    """The model's configuration, less the feature settings its family does not use: a forest
    without neighbour features logs no neighbour parameters."""
    model = settings.model.model_dump(mode="json")
    features = dict(model.get("features", {}))
    unused: tuple[str, ...] = ()
    if not features.get("neighbours"):
        unused += NEIGHBOUR_FIELDS
    if not features.get("geo"):
        unused += GEO_FIELDS
    model["features"] = {k: v for k, v in features.items() if not k.startswith(unused)}
    return dict(model)


def log_params_and_metrics(
    client: MlflowClient,
    run_id: str,
    settings: Settings,
    params: dict[str, str],
    evaluation: Evaluation,
    training_seconds: float,
) -> None:
    now = int(time.time() * 1000)
    metrics = [Metric(k, v, now, 0) for k, v in evaluation.metrics.items()]
    metrics.append(Metric("checks_passed", float(evaluation.passed), now, 0))
    metrics.append(Metric("training_seconds", round(training_seconds, 3), now, 0))
    client.log_batch(
        run_id,
        metrics=metrics,
        params=[Param(k, v) for k, v in params.items()],
        tags=[
            RunTag("housing.model_family", settings.model.family),
            RunTag("housing.checks", "passed" if evaluation.passed else "failed"),
        ],
    )


def log_datasets(
    client: MlflowClient, run_id: str, train: pd.DataFrame, test: pd.DataFrame, lineage: Lineage
) -> None:
    """The training and held-out rows as MLflow data set inputs, digest = the data version."""
    for context, frame in (("training", train), ("evaluation", test)):
        with warnings.catch_warnings():  # a local path matches two equivalent source types
            warnings.simplefilter("ignore", UserWarning)
            dataset = mlflow.data.from_pandas(  # type: ignore[attr-defined]
                frame,
                source=lineage.data_source,
                targets=TARGET,
                name=f"housing-{context}",
                digest=lineage.data_version[:32],
            )
        client.log_inputs(
            run_id,
            datasets=[
                DatasetInput(
                    dataset._to_mlflow_entity(),
                    tags=[InputTag("mlflow.data.context", context)],
                )
            ],
        )


def log_evaluation(
    client: MlflowClient,
    run_id: str,
    test: pd.DataFrame,
    evaluation: Evaluation,
    importance: pd.DataFrame,
) -> None:
    """The figures, the importance table and the checks, as the run's artifacts."""
    actual = test[TARGET].to_numpy()
    figure = predicted_vs_actual(actual, evaluation.predicted, f"{len(actual):,} held-out rows")
    client.log_figure(run_id, figure, "plots/predicted_vs_actual.png")
    client.log_figure(run_id, importance_bars(importance), "plots/feature_importance.png")
    client.log_text(run_id, importance.to_csv(index=False), "evaluation/feature_importance.csv")
    report = {
        "metrics": evaluation.metrics,
        "checks": [
            {
                "metric": c.metric,
                "value": c.value,
                "rule": c.rule,
                "limit": c.limit,
                "passed": c.passed,
            }
            for c in evaluation.checks
        ],
        "passed": evaluation.passed,
        "n_rows": evaluation.n_rows,
    }
    client.log_text(run_id, json.dumps(report, indent=2), "evaluation/report.json")


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """`{"model": {"features": {"geo": true}}}` -> `{"model.features.geo": "True"}`."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat
