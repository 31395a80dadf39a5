"""Logging a fitted scikit-learn model as an MLflow LoggedModel: flavour, signature, its code
and its pinned requirements, as the caller gives them.

The model is saved locally and uploaded through the client, without MLflow's fluent API (which
would need the process-wide tracking URI). What a version ships (which code, which pins) is the
training's decision: see housing_core.training.shipping.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.entities import LoggedModelOutput, LoggedModelStatus
from mlflow.models import Model, infer_signature
from sklearn.pipeline import Pipeline

from housing_core.tracking.connection import Tracking


def warm_up() -> None:
    """Load ahead what logging a model needs (in a thread while the model trains, on a core
    that would idle): MLflow's scikit-learn flavour and data sets, and its map of installed
    packages, which checking the pinned requirements scans (~1 s on a full environment).
    A warm-up only: whatever fails here fails again, with its reason, when the model is logged."""
    try:
        import mlflow.data
        import mlflow.sklearn  # noqa: F401
        from mlflow.utils import requirements_utils

        requirements_utils._init_modules_to_packages_map()  # type: ignore[no-untyped-call]
    except Exception:
        pass


def log_model(
    tracking: Tracking,
    experiment_id: str,
    run_id: str,
    model: Pipeline,
    example: pd.DataFrame,
    params: dict[str, str],
    code_paths: list[Path],
    requirements: list[str],
    extra_files: Mapping[str, str] | None = None,
) -> str:
    """Log the fitted pipeline as a LoggedModel of the run, ready to register: its id.

    cloudpickle, not skops: skops refuses RandomForest trees and our own transformers. Loading
    a pickle runs code, so load models only from a registry you trust.
    """
    client = tracking.client
    signature = infer_signature(example, model.predict(example))
    logged = client.create_logged_model(
        experiment_id, name="model", source_run_id=run_id, params=params
    )
    client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])
    try:
        with tempfile.TemporaryDirectory(prefix="housing-model-") as tmp:
            local = Path(tmp) / "model"
            mlflow.sklearn.save_model(
                model,
                str(local),
                mlflow_model=Model(
                    artifact_path=logged.artifact_location,
                    model_uuid=logged.model_id,
                    run_id=run_id,
                    model_id=logged.model_id,
                ),
                signature=signature,
                input_example=example,
                serialization_format="cloudpickle",
                code_paths=[str(path) for path in code_paths],
                pip_requirements=requirements,
            )
            for name, content in (extra_files or {}).items():  # beside MLmodel, shipped with it
                (local / name).write_text(content)
            client.log_model_artifacts(logged.model_id, str(local))
    except BaseException:
        client.finalize_logged_model(logged.model_id, LoggedModelStatus.FAILED)
        raise
    client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
    return str(logged.model_id)
