"""The watchdog on real servers and real workers: a lost host's run is CRASHED, a slow run that
keeps beating is not, a run stuck PENDING is CRASHED and frees its deployment's slot.

One test, its parts overlapped so the whole takes one heartbeat window and a re-run (about
2.5 minutes): the session's Prefect server (bootstrapped with the watchdog), its MLflow
server, process workers of a pool of this test's own, on loopback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deployments import services
from deployments.watchdog import WatchdogError, check_windows, install_watchdog
from housing_core.settings import WatchdogSettings
from housing_core.versioning import FLOW_RUN_TAG
from tests.conftest import REPO, FlowEnv, mlflow_client, task_states, watchdog_env
from tests.servers import BIN, Server, start_spec

pytestmark = [pytest.mark.servers, pytest.mark.system]

POOL = "housing-watchdog-test"
PULL = [{"flows.pull_steps.use_worker_directory": {}}]
WINDOW_S = 90  # the heartbeat window's default: 3 x the workers' 30 s heartbeats
PENDING_WINDOW_S = 20  # short, for this test only (the default is 600)
FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
REUSED_STEPS = {
    "load-housing-data",
    "validate-housing-data",
    "split-housing-data",
    "train-model",
    "evaluate-model",
}


@pytest.mark.parametrize(
    ("window_s", "heartbeat_s", "allowed"),
    [(90, 30, True), (89, 30, False), (180, 60, True), (120, 60, False), (600, 30, True)],
)
def test_the_heartbeat_window_must_hold_three_heartbeats(
    window_s: int, heartbeat_s: int, allowed: bool
) -> None:
    windows = WatchdogSettings(heartbeat_window_s=window_s)
    if allowed:
        check_windows(windows, heartbeat_s)
    else:
        with pytest.raises(WatchdogError, match="HOUSING_WATCHDOG__HEARTBEAT_WINDOW_S"):
            check_windows(windows, heartbeat_s)


def test_the_bootstrap_refuses_a_window_shorter_than_three_heartbeats_naming_the_setting() -> None:
    # no server is needed: the windows are checked before Prefect is asked anything
    env = {
        **watchdog_env(heartbeat_window_s="60"),
        "PREFECT_API_URL": "http://127.0.0.1:9/api",
    }
    done = subprocess.run(
        [str(BIN / "python"), "-m", "deployments.bootstrap", "watchdog"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "HOUSING_WATCHDOG__HEARTBEAT_WINDOW_S=60 is shorter than 3 x " in done.stderr
    assert "PREFECT_FLOWS_HEARTBEAT_FREQUENCY=30" in done.stderr
    assert "Traceback" not in done.stderr


class RetryingTransport(httpx.HTTPTransport):
    """Retries 502/503: the session's SQLite Prefect server answers 503 while its database is
    locked on a loaded host. Prefect's own client retries them too."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for attempt in range(6):
            response = super().handle_request(request)
            if response.status_code not in (502, 503) or attempt == 5:
                break
            response.close()
            time.sleep(1 + attempt)
        return response


class Pool:
    """This test's pool on the session server: its deployments, workers and flow runs."""

    def __init__(self, api: str, flow_env: FlowEnv, root: Path) -> None:
        self.http = httpx.Client(base_url=api, timeout=30, transport=RetryingTransport())
        self.flow_env, self.root = flow_env, root
        self.workers: dict[str, Server] = {}
        answer = self.http.post("/work_pools/", json={"name": POOL, "type": "process"})
        assert answer.status_code in (201, 409), answer.text
        for queue in ("lost", "steady", "nobody"):
            answer = self.http.post(f"/work_pools/{POOL}/queues", json={"name": queue})
            assert answer.status_code in (201, 409), answer.text

    def deploy(self, flow: str, entrypoint: str, queue: str, **extra: Any) -> str:
        flow_id = self.http.post("/flows/", json={"name": flow}).json()["id"]
        answer = self.http.post(
            "/deployments/",
            json={
                "name": f"watchdog-{queue}",
                "flow_id": flow_id,
                "work_pool_name": POOL,
                "work_queue_name": queue,
                "entrypoint": entrypoint,
                "pull_steps": PULL,
                "enforce_parameter_schema": False,
                **extra,
            },
        )
        assert answer.status_code in (200, 201), answer.text
        return str(answer.json()["id"])

    def start_worker(self, name: str, queue: str) -> Server:
        env = {
            **self.flow_env.env,
            "PREFECT_HOME": str(self.root / name),
            "PREFECT_WORKER_QUERY_SECONDS": "1",
        }
        spec = services.worker(name, env, REPO, queues=(queue,), pool=POOL)
        self.workers[name] = start_spec(spec, self.root / f"{name}.log", base={})
        return self.workers[name]

    def run(self, deployment_id: str, **parameters: Any) -> str:
        answer = self.http.post(
            f"/deployments/{deployment_id}/create_flow_run", json={"parameters": parameters}
        )
        assert answer.status_code in (200, 201), answer.text
        return str(answer.json()["id"])

    def flow_run(self, flow_run_id: str) -> dict[str, Any]:
        return dict(self.http.get(f"/flow_runs/{flow_run_id}").json())

    def wait_for(self, flow_run_id: str, types: tuple[str, ...], timeout: float) -> float:
        """Seconds until the run's state is one of `types`; fails with the workers' logs."""
        started, state = time.monotonic(), self.flow_run(flow_run_id)["state"]
        while time.monotonic() - started < timeout:
            state = self.flow_run(flow_run_id)["state"]
            if state["type"] in types:
                return time.monotonic() - started
            if state["type"] in FINAL:
                break
            time.sleep(0.5)
        logs = {n: w.log_tail(30) for n, w in self.workers.items()}
        raise AssertionError(f"{flow_run_id} is {state} after {timeout:.0f} s, not {types}: {logs}")

    def deployment_slots(self, deployment_id: str) -> int:
        limit = self.http.get(f"/deployments/{deployment_id}").json()["global_concurrency_limit"]
        return int(limit["active_slots"])


@pytest.fixture
def pool(prefect_server: Server, flow_env: FlowEnv, tmp_path: Path) -> Iterator[Pool]:
    pool = Pool(prefect_server.url, flow_env, tmp_path)
    try:
        yield pool
    finally:
        for worker in pool.workers.values():
            worker.stop(timeout=5)
        # the session's watchdog as the fixture installed it, for the tests that follow
        install_watchdog({**watchdog_env(), "PREFECT_API_URL": prefect_server.url})
        pool.http.close()


def flow_run_process(flow_run_id: str) -> int:
    """The pid of the flow-run process a process worker started for `flow_run_id`."""
    marker = f"PREFECT__FLOW_RUN_ID={flow_run_id}".encode()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                return int(proc.name)
        except OSError:
            continue
    raise AssertionError(f"no process runs flow run {flow_run_id}")


def wait_for_mlflow_run(flow_env: FlowEnv, flow_run_id: str, timeout: float = 120) -> str:
    """The MLflow run the flow run opened (RUNNING), as soon as it exists."""
    client = mlflow_client(flow_env.tracking_uri)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        experiment = client.get_experiment_by_name(flow_env.experiment_name)
        if experiment is not None:
            runs = client.search_runs(
                [experiment.experiment_id], f"tags.`{FLOW_RUN_TAG}` = '{flow_run_id}'"
            )
            if runs:
                assert runs[0].info.status == "RUNNING", runs[0].info
                return str(runs[0].info.run_id)
        time.sleep(0.2)
    raise AssertionError(f"flow run {flow_run_id} opened no MLflow run in {timeout:.0f} s")


def test_a_lost_hosts_run_is_crashed_a_beating_slow_run_is_not_and_a_stuck_pending_run_frees_its_slot(  # noqa: E501
    pool: Pool, prefect_server: Server, flow_env: FlowEnv
) -> None:
    started = time.monotonic()
    training = pool.deploy("housing-training", "flows/training.py:training_flow", "lost")
    steady = pool.deploy(
        "watchdog-test-steady", "tests/fixtures/steady_flow.py:steady_flow", "steady"
    )
    pending = pool.deploy(
        "watchdog-test-pending",
        "tests/fixtures/steady_flow.py:steady_flow",
        "nobody",  # no worker polls it: its run stays where the test puts it
        concurrency_limit=1,
    )
    host = pool.start_worker("worker-lost", "lost")
    pool.start_worker("worker-steady", "steady")

    # given a training run on one host and, on another, a run whose one step outlasts the window
    killed_run = pool.run(training)
    slow_run = pool.run(steady, seconds=WINDOW_S + 10)
    pool.wait_for(slow_run, ("RUNNING",), timeout=90)

    # when the training's host is lost (its worker and its flow-run process, SIGKILLed) while
    # the run is writing to MLflow
    mlflow_run = wait_for_mlflow_run(flow_env, killed_run)
    flow_process = flow_run_process(killed_run)
    os.killpg(host.pid, signal.SIGKILL)
    os.killpg(os.getpgid(flow_process), signal.SIGKILL)
    killed_at = time.monotonic()
    assert pool.flow_run(killed_run)["state"]["type"] == "RUNNING"

    # and, meanwhile, a run is left PENDING (a worker took it and went) on a deployment
    # whose concurrency limit is 1, with the stuck-PENDING window made short
    install_watchdog(
        {
            **watchdog_env(pending_window_s=str(PENDING_WINDOW_S)),
            "PREFECT_API_URL": prefect_server.url,
        }
    )
    stuck_run = pool.run(pending, seconds=1)
    answer = pool.http.post(
        f"/flow_runs/{stuck_run}/set_state", json={"state": {"type": "PENDING"}}
    )
    assert answer.json()["status"] == "ACCEPT", answer.text
    assert pool.deployment_slots(pending) == 1
    pending_at = time.monotonic()

    # then the PENDING run is CRASHED within its window (and a proactive evaluation), and its
    # deployment's slot is free again
    pool.wait_for(stuck_run, ("CRASHED",), timeout=PENDING_WINDOW_S + 40)
    pending_s = time.monotonic() - pending_at
    assert "never started RUNNING" in pool.flow_run(stuck_run)["state"]["message"]
    assert pool.deployment_slots(pending) == 0
    install_watchdog({**watchdog_env(), "PREFECT_API_URL": prefect_server.url})

    # and the lost host's run goes RUNNING -> CRASHED within one window of its last heartbeat
    pool.wait_for(killed_run, ("CRASHED",), timeout=WINDOW_S + 40 - (time.monotonic() - killed_at))
    crashed_s = time.monotonic() - killed_at
    assert "Heartbeats stopped" in pool.flow_run(killed_run)["state"]["message"]
    # (MLflow knows nothing of it yet: the next training of the experiment will tell it)
    assert mlflow_client(flow_env.tracking_uri).get_run(mlflow_run).info.status == "RUNNING"

    # and the slow run, silent but beating through a step longer than the window, completes
    pool.wait_for(slow_run, ("COMPLETED",), timeout=120)
    slow = pool.flow_run(slow_run)
    assert slow["total_run_time"] > WINDOW_S, slow["total_run_time"]

    # when the training runs again on a new worker
    pool.start_worker("worker-again", "lost")
    rerun = pool.run(training)
    pool.wait_for(rerun, ("COMPLETED",), timeout=180)

    # then it reused the steps the lost run finished, registered one version, and the lost
    # run's MLflow run is FAILED, not left RUNNING
    states = task_states(prefect_server.url, rerun)
    cached = {name for name, state in states.items() if state == "Cached"}
    assert cached >= REUSED_STEPS, states
    client = mlflow_client(flow_env.tracking_uri)
    versions = client.search_model_versions(f"name = '{flow_env.model_name}'")
    assert len(versions) == 1, [(v.version, v.run_id) for v in versions]
    assert versions[0].run_id != mlflow_run
    assert client.get_run(mlflow_run).info.status == "FAILED"
    print(
        f"\nkill -> CRASHED {crashed_s:.1f} s (window {WINDOW_S} s); "
        f"PENDING -> CRASHED {pending_s:.1f} s (window {PENDING_WINDOW_S} s); "
        f"slow run {slow['total_run_time']:.1f} s COMPLETED; "
        f"cached on re-run: {', '.join(sorted(cached))}; "
        f"test {time.monotonic() - started:.0f} s"
    )
