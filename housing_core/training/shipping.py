"""What a registered version carries, so it keeps loading and scoring whatever the checkout holds
later: the model wing as its code, and the versions of the packages that trained it, pinned.

The code ships as `code/housing_core/model/` under a `housing_core` package of its own that
holds nothing else; an environment built from its `requirements.txt` alone loads it. Beside
it, `drift_profile.json`: the reference profile of its training rows (housing_core.drift),
which batch scoring, the drift check and the release gates judge new data against.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

import pandas as pd
from sklearn.pipeline import Pipeline

from housing_core.drift import PROFILE_FILE, Profile
from housing_core.tracking.connection import Tracking
from housing_core.tracking.packaging import log_model

# housing_core/model: shipped by path (its files are what a pickle names)
MODEL_WING = Path(__file__).resolve().parents[1] / "model"
SHIPPED_PACKAGE_DOC = (
    '"""housing_core as a registered model ships it: the model wing, and nothing else."""\n'
)
# What the model wing imports, what MLflow needs to load and serve it (mlflow-skinny: the
# client and scoring server without the tracking server's dependencies), and pyarrow for the
# parquet rows that isolated scoring hands over.
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


def log_shipped_model(
    tracking: Tracking,
    experiment_id: str,
    run_id: str,
    model: Pipeline,
    example: pd.DataFrame,
    params: dict[str, str],
    profile: Profile | None = None,
) -> str:
    """The fitted pipeline logged as a version ships it, with its code, its pins and its
    reference profile: its id."""
    with tempfile.TemporaryDirectory(prefix="housing-code-") as tmp:
        return log_model(
            tracking,
            experiment_id,
            run_id,
            model,
            example,
            params,
            code_paths=[stage_model_code(Path(tmp))],
            requirements=serving_requirements(),
            extra_files={} if profile is None else {PROFILE_FILE: json.dumps(profile.to_dict())},
        )
