"""How a trained model is packaged into MLflow: flavour, signature, code and requirements."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from sklearn.pipeline import Pipeline

from housing_core.model import predict
from housing_core.schemas import FEATURE_COLUMNS

_PACKAGE_DIR = Path(__file__).resolve().parent


def log_model(tracking_uri: str, run_id: str, model: Pipeline, train: pd.DataFrame) -> str:
    """Log the fitted pipeline with its signature; returns `models:/<model_id>`.

    cloudpickle, not skops: skops refuses RandomForest trees and our own transformers. Loading
    a pickle runs code, so load models only from a registry you trust. housing_core travels
    with the model (code_paths) so a scoring server needs no checkout of this project.
    """
    example = train.loc[:, list(FEATURE_COLUMNS)].head(5)
    signature = infer_signature(example, predict(model, example))
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(run_id=run_id, nested=mlflow.active_run() is not None):
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            input_example=example,
            serialization_format="cloudpickle",
            code_paths=[str(_PACKAGE_DIR)],
            pip_requirements=serving_requirements(),
        )
    return str(info.model_uri)


SERVING_PACKAGES = (
    "mlflow",
    "scikit-learn",
    "pandas",
    "numpy",
    "scipy",
    "cloudpickle",
    "threadpoolctl",
    "pyarrow",
)


def serving_requirements() -> list[str]:
    """The packages a scoring environment needs, pinned to the versions that trained the model.

    Given explicitly because MLflow would otherwise infer them by loading the model in a
    subprocess: ~4 s per logged model, and it cannot see housing_core's own needs anyway.
    """
    pinned = []
    for name in SERVING_PACKAGES:
        try:
            pinned.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pinned
