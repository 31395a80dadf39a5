"""The one entry point to MLflow: URIs and HTTP bounds for its block only, a clear refusal."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from housing_core.settings import load_settings
from housing_core.tracking.connection import TrackingUnavailableError, open_tracking
from tests.servers import free_port


@pytest.fixture(autouse=True)
def no_mlflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("MLFLOW_", "HOUSING_")):
            monkeypatch.delenv(name)


def test_the_block_points_mlflow_at_one_server_and_leaves_the_environment_as_it_found_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an operator's own retry bound, and a local store
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "7")
    before = dict(os.environ)
    uri = f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}"
    settings = load_settings({"mlflow": {"tracking_uri": uri, "request_timeout_s": 9}})

    # when a block talks to MLflow
    with open_tracking(settings.mlflow) as tracking:
        inside = dict(os.environ)
        assert tracking.client.search_experiments(max_results=1) is not None

    # then inside, both URIs point at that store, the settings bound what the operator did not
    assert inside["MLFLOW_TRACKING_URI"] == inside["MLFLOW_REGISTRY_URI"] == uri == tracking.uri
    assert inside["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "9"
    assert inside["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "7"
    # and afterwards the process environment is exactly what it was
    assert dict(os.environ) == before


def test_an_unreachable_server_is_named_within_seconds() -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    settings = load_settings({"mlflow": {"tracking_uri": uri, "request_max_retries": 0}})

    started = time.monotonic()
    with (
        pytest.raises(TrackingUnavailableError, match=f"MLflow tracking server at {uri}"),
        open_tracking(settings.mlflow) as tracking,
    ):
        tracking.probe()

    assert time.monotonic() - started < 30
    assert "MLFLOW_TRACKING_URI" not in os.environ
