"""What a training's MLflow run holds: its parameters, metrics, data sets, figures and texts.

Finished values for the tracking gateway: the configuration flattened (`model.max_iter`), the
held-out metrics and the training time, both data sets with the data version as digest, the
predicted-versus-actual and importance figures, the importance table and the checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from housing_core.data.contract import TARGET
from housing_core.evaluation.gates import Evaluation
from housing_core.reports.plots import importance_bars, predicted_vs_actual
from housing_core.settings import FeatureSettings, ModelConfig, QualityGates, SplitSettings
from housing_core.settings.sections import NEIGHBOUR_PREFIX
from housing_core.tracking.runs import DatasetRecord, RunContent
from housing_core.versioning import Lineage

FAMILY_TAG = "housing.model_family"
CHECKS_TAG = "housing.checks"
DATA_SOURCE_TAG = "housing.data_source"
REGISTERED_VERSION_TAG = "housing.registered_version"


@dataclass(frozen=True)
class TrainingRecord:
    """One training as it is recorded: what made it, what came out, how it scored."""

    run_name: str
    lineage: Lineage
    data_source: str  # a URI
    model: ModelConfig
    split: SplitSettings
    gates: QualityGates
    pipeline: Pipeline
    train: pd.DataFrame
    test: pd.DataFrame
    evaluation: Evaluation
    importance: pd.DataFrame
    training_seconds: float
    started_at_ms: int | None = None  # when it trained, if in this flow run
    flow_run_url: str = ""


def run_content(record: TrainingRecord) -> RunContent:
    evaluation = record.evaluation
    return RunContent(
        name=record.run_name,
        tags={
            **record.lineage.tags(),
            DATA_SOURCE_TAG: record.data_source,
            FAMILY_TAG: record.model.family,
            CHECKS_TAG: "passed" if evaluation.passed else "failed",
        },
        params=run_params(record),
        metrics={
            **evaluation.metrics,
            "checks_passed": float(evaluation.passed),
            "training_seconds": round(record.training_seconds, 3),
        },
        datasets=tuple(
            DatasetRecord(
                frame=frame,
                name=f"housing-{context}",
                context=context,
                source=record.data_source,
                digest=record.lineage.data_version[:32],
                targets=TARGET,
            )
            for context, frame in (("training", record.train), ("evaluation", record.test))
        ),
        figures={
            "plots/predicted_vs_actual.png": predicted_vs_actual(
                record.test[TARGET].to_numpy(),
                evaluation.predicted,
                f"{len(record.test):,} held-out rows",
            ),
            "plots/feature_importance.png": importance_bars(record.importance),
        },
        texts={
            "evaluation/feature_importance.csv": record.importance.to_csv(index=False),
            "evaluation/report.json": json.dumps(evaluation_report(evaluation), indent=2),
        },
        start_time_ms=record.started_at_ms,
    )


def run_params(record: TrainingRecord) -> dict[str, str]:
    """The configuration that made the model, flattened, with the row counts."""
    params = flatten(
        {
            "model": model_params(record.model),
            "split": record.split.model_dump(mode="json"),
            "registration_gates": record.gates.model_dump(mode="json"),
        }
    )
    params.update({"n_train_rows": str(len(record.train)), "n_test_rows": str(len(record.test))})
    return params


def model_params(model: ModelConfig) -> dict[str, Any]:
    """The model's configuration, less the feature settings its family does not use: a forest
    without neighbour features logs no neighbour parameters."""
    values = model.model_dump(mode="json")
    features = dict(values.get("features", {}))
    unused: tuple[str, ...] = ()
    if not features.get("neighbours"):
        unused += (NEIGHBOUR_PREFIX,)
    if not features.get("geo"):
        unused += tuple(n for n in FeatureSettings.model_fields if n.startswith("rotation"))
    values["features"] = {k: v for k, v in features.items() if not k.startswith(unused)}
    return dict(values)


def evaluation_report(evaluation: Evaluation) -> dict[str, Any]:
    return {
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
