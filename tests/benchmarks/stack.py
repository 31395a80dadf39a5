"""The throw-away servers a benchmark runs its flows against, as in production."""

from __future__ import annotations

import os
from pathlib import Path

from tests import servers

REPO = Path(__file__).resolve().parents[2]


def data_source() -> str:
    """The data-source setting in force, else the shared data set beside the checkout."""
    return os.environ.get("HOUSING_DATA__SOURCE") or str(REPO.parent / "shared/data/housing.csv")


def start(root: Path) -> tuple[servers.Server, servers.Server, dict[str, str]]:
    """An MLflow and a Prefect server on loopback under `root`, and a client's environment."""
    mlflow, prefect = servers.start_mlflow(root / "mlflow"), servers.start_prefect(root / "prefect")
    env = {
        **os.environ,
        "HOUSING_DATA__SOURCE": data_source(),
        "PREFECT_API_URL": prefect.url,
        "MLFLOW_TRACKING_URI": mlflow.url,
        "PREFECT_HOME": str(root / "home"),
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(root / "results"),
    }
    return mlflow, prefect, env
