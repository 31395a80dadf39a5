"""A release reaches a running `housing-serve`: clients that never stop see no failed request.

One module registry (a weak v1, a strong v2), served by `housing-serve --workers 2` following
`production` every second, while eight client threads keep posting one row each on keep-alive
connections. A promotion then a rollback move the alias; later a version that cannot load is
put on the alias by hand, and is never served.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import psutil
import pytest

from housing_core.isolation.payloads import serving_payload
from housing_core.serving.workers import WORKER
from tests import servers
from tests.clients import Client
from tests.conftest import FlowEnv, make_flow_env, mlflow_client, run_training
from tests.flows.conftest import LOOSE_GATES, WEAK, run_promotion

pytestmark = pytest.mark.servers
POLL_S = 1.0
CLIENTS = 8  # keep-alive clients posting one row every 50 ms, through every release
BROKEN_MODEL_WING = 'raise ImportError("this version cannot be loaded")\n'


@pytest.fixture(scope="module")
def registry(
    tmp_path_factory: pytest.TempPathFactory,
    data_source: str,
    mlflow_server: servers.Server,
    prefect_server: servers.Server,
) -> FlowEnv:
    """v1 (weak) in production, v2 (strong) registered beside it."""
    env = make_flow_env(
        tmp_path_factory.mktemp("swaps"), data_source, mlflow_server, prefect_server
    )
    assert run_training(env.with_(**WEAK)).summary["registered_version"] == "1"
    assert run_training(env).summary["registered_version"] == "2"
    assert run_promotion(env.with_(**LOOSE_GATES), "--version", "1").summary["after"] == "1"
    return env


@pytest.fixture(scope="module")
def server(registry: FlowEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Server]:
    running = servers.start_housing_serve(
        {**registry.env, "HOUSING_SERVING__POLL_INTERVAL_S": str(POLL_S)},
        tmp_path_factory.mktemp("swaps-server") / "server.log",
        "--workers",
        "2",
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def payload(data_source: str) -> dict[str, object]:
    return serving_payload(pd.read_csv(data_source).head(1))


@pytest.fixture
def clients(server: servers.Server, payload: dict[str, object]) -> Iterator[list[Client]]:
    started = [Client(server.url, payload) for _ in range(CLIENTS)]
    for client in started:
        client.start()
    _wait(lambda: all(len(c.answers) >= 5 for c in started), "the clients' first answers")
    yield started
    for client in started:
        client.stopping.set()
    for client in started:
        client.join(timeout=30)


def test_a_promotion_then_a_rollback_reach_every_client_with_no_failed_request(
    registry: FlowEnv, server: servers.Server, clients: list[Client]
) -> None:
    # when a promotion moves `production` from v1 to v2
    promoted = run_promotion(registry).summary
    assert promoted["after"] == "2"
    promoted_at = datetime.fromisoformat(str(promoted["moved_at"])).timestamp()
    _wait(lambda: all(c.versions()[-1:] == ["2"] for c in clients), "every client on v2")
    load_seconds = httpx.get(f"{server.url}/model", timeout=30).json()["load_seconds"]

    # and a rollback moves it back to v1
    assert run_promotion(registry, "--rollback").summary["after"] == "1"
    _wait(lambda: all(c.versions()[-1:] == ["1"] for c in clients), "every client back on v1")
    for client in clients:
        client.stopping.set()

    # then every request succeeded, and each client saw the version change exactly twice
    for client in clients:
        assert client.failures == []
        assert {status for _, status, _ in client.answers} == {200}
        assert client.versions() == ["1", "2", "1"]
    # and v2 was served within the poll interval plus its load time of the alias moving
    lag = max(c.first_answer_from("2", promoted_at - 1) or 0 for c in clients) - promoted_at
    print(f"swap lag: {lag:.1f} s (poll {POLL_S:g} s, v2 loaded in {load_seconds:.1f} s)")
    # (`at` is recorded just before the move; the download of v2 comes on top of its load)
    assert lag <= POLL_S + load_seconds + 3.0

    # and the server reports both swaps
    model = httpx.get(f"{server.url}/model", timeout=30).json()
    assert (model["version"], model["swaps"], model["last_swap_error"]) == ("1", 2, None)
    metrics = servers.read_metrics(server.url)
    assert metrics["housing_serving_swaps_total"] == 2
    assert metrics[f'housing_serving_model_version{{name="{registry.model_name}"}}'] == 1


def test_a_version_that_cannot_load_is_never_served(
    registry: FlowEnv, server: servers.Server, clients: list[Client], tmp_path: Path
) -> None:
    # given a registered v3 whose code raises on import, put on the alias by hand
    broken = _register_broken_version(registry, tmp_path)
    client = mlflow_client(registry.tracking_uri)
    client.set_registered_model_alias(registry.model_name, "production", broken)
    try:
        # when the server next reads the alias
        _wait(
            lambda: httpx.get(f"{server.url}/model", timeout=30).json()["failed_swaps"] == 1,
            "the failed swap",
        )
        time.sleep(2 * POLL_S)  # and it does not try again and again
    finally:
        client.set_registered_model_alias(registry.model_name, "production", "1")

    # then v1 kept answering every request
    for c in clients:
        c.stopping.set()
    for c in clients:
        c.join(timeout=30)
        assert c.failures == []
        assert {(status, version) for _, status, version in c.answers} == {(200, "1")}
    # and the failure is in the model endpoint, the metrics and the log
    model = httpx.get(f"{server.url}/model", timeout=30).json()
    assert model["version"] == "1"
    assert f"v{broken} refused" in model["last_swap_error"]
    assert "ImportError: this version cannot be loaded" in model["last_swap_error"]
    assert model["refused"].keys() == {broken}
    assert servers.read_metrics(server.url)["housing_serving_swap_failures_total"] == 1
    assert f"not swapping to v{broken}, v1 serves on" in server.log.read_text()


def _register_broken_version(env: FlowEnv, tmp: Path) -> str:
    """v2's files with a model wing that raises on import, registered as a new version."""
    client = mlflow_client(env.tracking_uri)
    source = client.get_model_version(env.model_name, "2")
    location = client.get_model_version_download_uri(env.model_name, "2")
    local = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=location, dst_path=str(tmp), tracking_uri=env.tracking_uri
        )
    )
    (local / "code" / "housing_core" / "model" / "__init__.py").write_text(BROKEN_MODEL_WING)
    experiment_id = client.get_run(str(source.run_id)).info.experiment_id
    logged = client.create_logged_model(experiment_id, name="broken", source_run_id=source.run_id)
    client.log_model_artifacts(logged.model_id, str(local))
    client.finalize_logged_model(logged.model_id, "READY")
    version = client.create_model_version(
        env.model_name,
        source=f"models:/{logged.model_id}",
        run_id=source.run_id,
        model_id=logged.model_id,
    )
    return str(version.version)


def _wait(condition: object, what: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _workers(server: servers.Server) -> list[int]:
    """The pids of housing-serve's worker processes (children running the worker script)."""
    found = []
    for process in psutil.Process(server.pid).children(recursive=True):
        try:  # a killed worker stays a zombie until the supervisor reaps it: not a worker
            if process.status() != psutil.STATUS_ZOMBIE and str(WORKER) in process.cmdline():
                found.append(process.pid)
        except psutil.Error:
            continue
    return sorted(found)


def test_a_worker_killed_under_load_is_replaced_and_no_answer_is_wrong(
    server: servers.Server, clients: list[Client]
) -> None:
    # given two workers serving eight clients that never stop
    before = _workers(server)
    assert len(before) == 2, before
    answered = sum(len(c.answers) for c in clients)

    # when one worker is SIGKILLed mid-load (a crash, the OOM killer)
    killed = time.monotonic()
    os.kill(before[0], signal.SIGKILL)
    _wait(lambda: len(_workers(server)) == 2 and before[0] not in _workers(server), "a new worker")
    replaced = time.monotonic() - killed
    _wait(lambda: sum(len(c.answers) for c in clients) > answered + 50, "50 more answers")
    for c in clients:
        c.stopping.set()
    for c in clients:
        c.join(timeout=30)

    # then the supervisor replaced it, at most the requests in flight on it failed (one per
    # client), no answer was a 5xx, and every answer of a version is that version's price
    failures = [f for c in clients for f in c.failures]
    statuses = {status for c in clients for _, status, _ in c.answers}
    print(f"\nworker killed: replaced in {replaced:.1f} s, {len(failures)} failed requests")
    assert len(failures) <= len(clients), failures
    assert statuses == {200}, statuses
    for c in clients:
        assert all(len(prices) == 1 for prices in c.prices.values()), c.prices
    assert httpx.get(f"{server.url}/ping", timeout=30).status_code == 200
    assert "exited (-9): replacing it" in server.log.read_text()
