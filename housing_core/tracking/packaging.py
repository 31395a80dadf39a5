"""How a trained model is packaged into MLflow: flavour, signature, its code, its requirements.

A registered version must keep loading, scoring and serving whatever the checkout holds later,
so it carries everything it imports: the model wing as its code (`code/housing_core/model`,
under a `housing_core` package of its own that holds nothing else) and the versions of the
packages that trained it, pinned. An environment built from its `requirements.txt` alone loads
it. The model is saved locally and uploaded through the client, without MLflow's fluent API
(which would need the process-wide tracking URI).
"""

from __future__ import annotations

import shutil
import tempfile
from importlib import metadata
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.entities import LoggedModel, LoggedModelOutput, LoggedModelStatus
from mlflow.models import Model, infer_signature
from sklearn.pipeline import Pipeline

from housing_core.tracking.connection import Tracking

# housing_core/model: shipped by path, never imported here (a lint rule keeps it so)
MODEL_WING = Path(__file__).resolve().parents[1] / "model"
SHIPPED_PACKAGE_DOC = (
    '"""housing_core as a registered model ships it: the model wing, and nothing else."""\n'
)
# What the model wing imports, what MLflow needs to load and serve it (mlflow-skinny: the
# client and scoring server without the tracking server's dependencies), and pyarrow for the
# parquet rows that the promotion's isolated scoring hands over.
SERVING_PACKAGES = (
    "mlflow-skinny",
    "scikit-learn",
    "pandas",
    "numpy",
    "scipy",
    "cloudpickle",
    "threadpoolctl",
    "pyarrow",
)


def log_model(
    tracking: Tracking,
    experiment_id: str,
    run_id: str,
    model: Pipeline,
    example: pd.DataFrame,
    params: dict[str, str],
) -> LoggedModel:
    """Log the fitted pipeline as a LoggedModel of the run, ready to register.

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
                code_paths=[str(stage_model_code(Path(tmp) / "code"))],
                pip_requirements=serving_requirements(),
            )
            client.log_model_artifacts(logged.model_id, str(local))
    except BaseException:
        client.finalize_logged_model(logged.model_id, LoggedModelStatus.FAILED)
        raise
    return client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)


def stage_model_code(folder: Path) -> Path:
    """`folder/housing_core`: a package holding only the model wing, as the model ships it."""
    package = folder / "housing_core"
    for source in sorted(MODEL_WING.rglob("*.py")):  # the sources only: no caches, no configs
        target = package / "model" / source.relative_to(MODEL_WING)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    (package / "__init__.py").write_text(SHIPPED_PACKAGE_DOC)
    return package


def serving_requirements() -> list[str]:
    """The packages a scoring environment needs, pinned to the versions that trained the model.

    Given explicitly because MLflow would otherwise infer them by loading the model in a
    subprocess, which is slow and cannot see what the model's own code imports.
    """
    return [f"{name}=={metadata.version(name)}" for name in SERVING_PACKAGES]
