"""Serving the registered model with MLflow's scoring server, and the payloads it accepts.

The server loads its model once and never reloads, so the command pins the version the alias
points to at start-up (`models:/NAME/7`, not `models:/NAME@production`): what the log says it
serves is then exactly what it serves, even if the alias moves during start-up.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from housing_core.evaluation import regression_metrics
from housing_core.registry import version_for_alias
from housing_core.schemas import FEATURE_COLUMNS, PRICE_CAP, TARGET
from housing_core.scoring_app import MODEL_NAME_ENV, MODEL_PATH_ENV, MODEL_VERSION_ENV


class AliasNotSetError(LookupError):
    """No version carries the alias yet: run the promotion flow first."""


class SmokeTestError(RuntimeError):
    """The model did not load or did not score a serving payload as the server would."""


@dataclass(frozen=True)
class ServedModel:
    name: str
    alias: str
    version: str
    run_id: str
    source: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def describe(self) -> str:
        return (
            f"{self.name} version {self.version} (alias '{self.alias}', run {self.run_id}, "
            f"{self.source})"
        )


def resolve_alias(client: MlflowClient, name: str, alias: str) -> ServedModel:
    version = version_for_alias(client, name, alias)
    if version is None:
        raise AliasNotSetError(
            f"no version of {name} carries the alias '{alias}': run "
            "`python -m flows.promotion` first"
        )
    found = client.get_model_version(name, version)
    return ServedModel(name, alias, version, str(found.run_id or ""), str(found.source))


def serve_command(
    model_uri: str, host: str = "127.0.0.1", port: int = 5001, workers: int = 1
) -> list[str]:
    """`mlflow models serve` in this environment (no virtualenv build, no internet needed)."""
    return [
        "mlflow",
        "models",
        "serve",
        "-m",
        model_uri,
        "--env-manager",
        "local",
        *_bind(host, port, workers),
    ]


def scoring_app_command(host: str = "127.0.0.1", port: int = 5001, workers: int = 1) -> list[str]:
    """MLflow's scoring app plus our two fixes (housing_core.scoring_app) under uvicorn."""
    return [
        "uvicorn",
        "--factory",
        "housing_core.scoring_app:create_app",
        *_bind(host, port, workers),
    ]


def _bind(host: str, port: int, workers: int) -> list[str]:
    """Where the server listens and with how many worker processes (uvicorn's own flags)."""
    return ["--host", host, "--port", str(port), "--workers", str(workers)]


def scoring_app_environment(
    base: Mapping[str, str], bin_dir: Path, served: ServedModel, local_model: Path
) -> dict[str, str]:
    """Where the app finds its model (MLflow's own variable) and what it reports serving."""
    env = serve_environment(base, bin_dir, None)
    env[MODEL_PATH_ENV] = str(local_model)
    env[MODEL_NAME_ENV] = served.name
    env[MODEL_VERSION_ENV] = served.version
    return env


def serve_environment(
    base: Mapping[str, str], bin_dir: Path, tracking_uri: str | None
) -> dict[str, str]:
    """The server runs `exec uvicorn` through bash: the venv's bin must lead PATH.

    One OpenMP thread unless told otherwise: HistGradientBoosting predicts with an OpenMP
    pool, and on a busy 2-core host waking it costs ~25 ms a row against ~2 ms single-threaded
    (a request is one row; throughput comes from workers, not threads).
    """
    env = dict(base)
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    return env


def serving_payload(rows: pd.DataFrame) -> dict[str, Any]:
    """A `dataframe_split` request body from raw rows: the input columns only, NaN as null."""
    frame = rows.loc[:, list(FEATURE_COLUMNS)]
    data = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    return {"dataframe_split": {"columns": list(FEATURE_COLUMNS), "data": data}}


@dataclass(frozen=True)
class ModelScore:
    metrics: dict[str, float]
    smoke_error: str | None


def score_registered_version(
    model_uri: str, test: pd.DataFrame, payload: dict[str, Any]
) -> ModelScore:
    """Metrics on the held-out rows through the pyfunc interface the server uses, plus a smoke
    test: the serving payload parsed and scored exactly as `/invocations` would.

    The model is downloaded once; scoring and smoke test both load it from that local copy.
    """
    with tempfile.TemporaryDirectory(prefix="housing-model-") as tmp:
        local = mlflow.artifacts.download_artifacts(model_uri, dst_path=tmp)  # network: raises
        try:
            model = mlflow.pyfunc.load_model(local)
            predicted = np.asarray(model.predict(test.loc[:, list(FEATURE_COLUMNS)]), dtype=float)
        except Exception as exc:  # an old version this code cannot load is refused, not fatal
            failed = {name: float("nan") for name in ("rmse", "mae", "r2", "mape")}
            return ModelScore(
                failed, f"cannot load or score: {type(exc).__name__}: {_first_line(exc)}"
            )
        metrics = regression_metrics(test[TARGET].to_numpy(), predicted.ravel())
        try:
            smoke_test(local, payload)
        except SmokeTestError as exc:
            return ModelScore(metrics, str(exc))
    return ModelScore(metrics, None)


def smoke_test(model_uri: str, payload: dict[str, Any]) -> np.ndarray:
    """Score `payload` as the scoring server would; prices must be finite and in range."""
    rows = len(payload["dataframe_split"]["data"])
    try:
        with warnings.catch_warnings():  # deprecated for mlflow.models.predict (builds an env)
            warnings.simplefilter("ignore")
            raw = mlflow.models.validate_serving_input(model_uri, payload)
    except Exception as exc:  # any failure to load or score is the finding itself
        raise SmokeTestError(f"{type(exc).__name__}: {_first_line(exc)}") from exc
    prices = np.asarray(raw, dtype=float).ravel()
    if prices.shape != (rows,):
        raise SmokeTestError(f"{rows} rows in, {prices.size} predictions out")
    if not np.all(np.isfinite(prices)) or prices.min() < 0 or prices.max() > PRICE_CAP:
        raise SmokeTestError(
            f"prices outside [0, {PRICE_CAP:,.0f}]: {prices.min():,.0f}..{prices.max():,.0f}"
        )
    return prices


def _first_line(exc: BaseException) -> str:
    """MLflow's schema errors echo the whole input first; the cause follows the last `Error: `."""
    text = str(exc).strip().rsplit("Error: ", 1)[-1].strip()
    return text.splitlines()[0][:300] if text else ""
