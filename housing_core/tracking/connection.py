"""The one entry point to MLflow: a client on one server, its URIs, and MLflow's HTTP bounds.

MLflow reads its retry, timeout and credential settings from process environment variables
only, and parts of MLflow itself read the process-wide tracking URI (its SQL registry store
resolves a `models:/<id>` source through it). So nothing else in the project calls
`mlflow.set_tracking_uri` or writes `MLFLOW_*` variables: `open_tracking` gives the client both
URIs explicitly and, for the duration of its block only, points MLFLOW_TRACKING_URI and
MLFLOW_REGISTRY_URI at the same server and applies the HTTP bounds and credentials (those the
operator set win), restoring the environment afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import mlflow
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from housing_core.settings import MlflowSettings


class TrackingUnavailableError(RuntimeError):
    """The tracking server did not answer: names the URI so the operator knows where to look."""


class ArtifactStoreError(RuntimeError):
    """The tracking server's artifact store did not take a run's files (a full or read-only
    disk, a missing bucket, a store that is down): names the server, the run and the cause."""


def is_artifact_store_failure(exc: BaseException) -> bool:
    """Whether `exc` came from storing artifacts: through the server's proxy
    (`mlflow-artifacts`), or straight to object storage (boto3)."""
    package = type(exc).__module__.split(".", 1)[0]
    return "mlflow-artifacts" in str(exc) or package in ("botocore", "boto3", "s3transfer")


@dataclass(frozen=True)
class Tracking:
    """A client on one tracking server, for both runs and the registry."""

    uri: str
    client: MlflowClient

    def probe(self) -> None:
        """Fail in seconds, naming the URI, when the server does not answer."""
        try:
            self.client.search_experiments(max_results=1)
        except (MlflowException, requests.RequestException, OSError) as exc:
            raise TrackingUnavailableError(
                f"MLflow tracking server at {self.uri} is unreachable: {type(exc).__name__}: "
                f"{first_line(exc)}"
            ) from exc

    def download(self, artifact_uri: str, destination: Path) -> Path:
        """Artifacts at a storage URI (`mlflow-artifacts:/...`, `file:///...`), from this server.

        Not `models:/` URIs: MLflow resolves those through the process-wide registry URI.
        """
        destination.mkdir(parents=True, exist_ok=True)
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=artifact_uri,
            dst_path=str(destination),
            tracking_uri=self.uri,
            registry_uri=self.uri,
        )
        return Path(local)


@contextmanager
def open_tracking(settings: MlflowSettings) -> Iterator[Tracking]:
    """A client on the tracking server in force, MLflow's process state scoped to the block.

    It does not call the server: a task that must fail fast calls `probe()` first, once.
    """
    uri = settings.uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    forced = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri}
    with _scoped_environment(_mlflow_environment(settings), forced):
        yield Tracking(uri, MlflowClient(tracking_uri=uri, registry_uri=uri))


def _mlflow_environment(mlflow_settings: MlflowSettings) -> dict[str, str]:
    """Bounded HTTP calls (the client's defaults retry for ~4 minutes a call), credentials."""
    values = {
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(mlflow_settings.request_timeout_s),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(mlflow_settings.request_max_retries),
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": str(mlflow_settings.request_backoff_factor),
    }
    if mlflow_settings.username and mlflow_settings.password:
        values["MLFLOW_TRACKING_USERNAME"] = mlflow_settings.username
        values["MLFLOW_TRACKING_PASSWORD"] = mlflow_settings.password.get_secret_value()
    return values


@contextmanager
def _scoped_environment(defaults: Mapping[str, str], forced: Mapping[str, str]) -> Iterator[None]:
    """For this block only: `defaults` where the environment has no value, `forced` always."""
    values = {name: value for name, value in defaults.items() if name not in os.environ}
    values.update(forced)
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, before in saved.items():
            if before is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = before


def first_line(exc: BaseException) -> str:
    """MLflow's schema errors echo the whole input first; the cause follows the last `Error: `."""
    text = str(exc).strip().rsplit("Error: ", 1)[-1].strip()
    return text.splitlines()[0][:300] if text else ""
