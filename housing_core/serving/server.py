"""The scoring server `housing-serve` starts: MLflow's scoring app in the version's own process.

The server loads its model once and never reloads, so the version is pinned at start-up
(`models:/NAME/7`, not `models:/NAME@production`): what the log says it serves is then exactly
what it serves, even if the alias moves during start-up. It runs in the interpreter the
version's requirements call for, started with `-I`, and uvicorn imports the app by path from
`runtime/` (`--app-dir`): the process never imports the checkout's housing_core, so the
version's pickle resolves `housing_core.*` to the code the version ships.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from housing_core.serving.isolation import RUNTIME
from housing_core.serving.runtime.scoring_app import (
    MODEL_NAME_ENV,
    MODEL_PATH_ENV,
    MODEL_VERSION_ENV,
)


def scoring_command(
    python: Path, host: str = "127.0.0.1", port: int = 5001, workers: int = 1
) -> list[str]:
    """uvicorn in the version's interpreter, serving `runtime/scoring_app.py`."""
    return [
        str(python),
        "-I",
        "-m",
        "uvicorn",
        "--app-dir",
        str(RUNTIME),
        "--factory",
        "scoring_app:create_app",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def scoring_environment(
    base: Mapping[str, str], model_dir: Path, name: str, version: str
) -> dict[str, str]:
    """Where the app finds its model (MLflow's own variable) and what it reports serving.

    One OpenMP thread unless told otherwise: HistGradientBoosting predicts with an OpenMP
    pool, and waking it on a busy host costs far more than scoring one row single-threaded
    (a request is one row; throughput comes from workers, not threads; docs/serving.md).
    """
    env = dict(base)
    env.setdefault("OMP_NUM_THREADS", "1")
    env[MODEL_PATH_ENV] = str(model_dir)
    env[MODEL_NAME_ENV] = name
    env[MODEL_VERSION_ENV] = version
    return env
