"""Session-wide test set-up: the shared data set and the real servers, started on loopback.

Servers start only when a test asks for them, so `pytest tests/core` needs none.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow
import pytest
from mlflow import MlflowClient

from deployments import services
from deployments.services import S3Store
from deployments.watchdog import install_watchdog
from housing_core.storage import S3Connection
from tests import servers

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "housing.csv"


# The slowest modules first (measured by CI's --durations): xdist hands whole files out in
# collection order (`make test` passes --no-loadscope-reorder; by default it orders them by
# their number of tests), so the long ones start at once and the short ones fill in around
# them, instead of a nine-minute walkthrough starting last.
SLOW_FIRST = (
    "tests/system/test_readme.py",
    "tests/system/test_team.py",
    "tests/system/test_release_chain.py",
    "tests/system/test_deployments.py",
    "tests/flows/test_scoring_cluster.py",
    "tests/flows/test_promotion_flow.py",
    "tests/flows/test_training_faults.py",
    "tests/flows/test_sweep_flow.py",
    "tests/system/test_serving_swaps.py",
    "tests/system/test_watchdog.py",
    "tests/system/test_version_isolation.py",
    "tests/system/test_serving.py",
    "tests/system/test_least_privilege.py",
    "tests/model/test_self_contained.py",
    "tests/flows/test_scoring_flow.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest modules first, every module's tests in their own order (a stable sort)."""
    rank = {module: i for i, module in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


@pytest.fixture(scope="session")
def data_source() -> str:
    """The shared real data set, through the project's own data-source setting."""
    source = os.environ.get("HOUSING_DATA__SOURCE") or str(DEFAULT_DATA)
    if not source.startswith("http"):
        source = str(Path(source).resolve())
        assert Path(source).is_file(), f"test data missing: {source} (see ../shared/data)"
    return source


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Server]:
    server = servers.start_mlflow(tmp_path_factory.mktemp("mlflow"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Server]:
    server = servers.start_prefect(tmp_path_factory.mktemp("prefect-home"))
    # as the stack's bootstrap does: zombie and stuck-PENDING runs are marked CRASHED
    install_watchdog({**watchdog_env(), "PREFECT_API_URL": server.url})
    yield server
    server.stop()


def watchdog_env(**settings: str) -> dict[str, str]:
    """The environment the watchdog's bootstrap step reads its windows from: HOUSING_WATCHDOG__*
    from `settings` only, not from whatever the session was started with."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HOUSING_", "PREFECT_"))}
    return {**base, **{f"HOUSING_WATCHDOG__{k.upper()}": v for k, v in settings.items()}}


BUCKET = "housing"  # the tests' object-store bucket


@pytest.fixture(scope="session")
def s3_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Store]:
    """The stack's own object store (s3rver) on loopback, once for the session."""
    root = tmp_path_factory.mktemp("s3rver")
    spec, store = services.s3rver(root / "objects", servers.free_port(), (BUCKET,))
    server = servers.start_spec(spec, root / "s3rver.log", timeout=60)
    yield store
    server.stop()


@pytest.fixture(scope="session")
def s3(s3_store: S3Store) -> S3Connection:
    """A connection built from exactly the variables a worker gets (`client_env`)."""
    return S3Connection.from_environment(s3_store.client_env())


@dataclass
class FlowEnv:
    """The environment of one test's flow runs: its own experiment, model name and cache."""

    env: dict[str, str]
    model_name: str
    experiment_name: str
    tracking_uri: str
    prefect_api: str

    def with_(self, **changes: str) -> FlowEnv:
        return FlowEnv(
            {**self.env, **changes},
            self.model_name,
            self.experiment_name,
            self.tracking_uri,
            self.prefect_api,
        )


def make_flow_env(
    tmp: Path, data_source: str, mlflow_server: servers.Server, prefect_server: servers.Server
) -> FlowEnv:
    """An environment with its own experiment, model name, cache and state folder."""
    suffix = uuid.uuid4().hex[:8]
    model_name = f"housing_price_predictor_{suffix}"
    experiment = f"housing_price_prediction_{suffix}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOUSING_", "MLFLOW_"))}
    env.update(
        {
            "PREFECT_API_URL": prefect_server.url,
            "PREFECT_HOME": str(tmp / "prefect-home"),
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(tmp / "results"),
            "PREFECT_LOGGING_LEVEL": "INFO",
            "MLFLOW_TRACKING_URI": mlflow_server.url,
            "HOUSING_DATA__SOURCE": data_source,
            "HOUSING_MLFLOW__REGISTERED_MODEL_NAME": model_name,
            "HOUSING_MLFLOW__EXPERIMENT_NAME": experiment,
            "HOUSING_STATE_DIR": str(tmp / "state"),
            # small and quick: these tests are about the plumbing, not the model's quality
            "HOUSING_MODEL__FAMILY": "random_forest",
            "HOUSING_MODEL__N_ESTIMATORS": "20",
            "HOUSING_MODEL__MAX_DEPTH": "12",
        }
    )
    return FlowEnv(env, model_name, experiment, mlflow_server.url, prefect_server.url)


@pytest.fixture
def flow_env(
    tmp_path: Path,
    data_source: str,
    mlflow_server: servers.Server,
    prefect_server: servers.Server,
) -> FlowEnv:
    return make_flow_env(tmp_path, data_source, mlflow_server, prefect_server)


@dataclass
class FlowResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict[str, object]:
        assert self.returncode == 0, f"flow failed:\n{self.stderr[-4000:]}"
        return dict(json.loads(self.stdout.strip().splitlines()[-1]))


@pytest.fixture
def fluent_mlflow(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Point MLflow's process-wide (fluent) API at one server, for this test only.

    `mlflow.set_*_uri` would also write MLFLOW_*_URI into os.environ and leak into later tests.
    """

    def point(uri: str) -> None:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
        mlflow.set_registry_uri(None)  # type: ignore[arg-type]
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)

    yield point
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    mlflow.set_registry_uri(None)  # type: ignore[arg-type]


def mlflow_client(uri: str) -> MlflowClient:
    """A client on one server for both tracking and registry, whatever MLflow's globals say."""
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def run_module(
    module: str, flow_env: FlowEnv, *args: str, timeout: float = 300, cwd: Path = REPO
) -> FlowResult:
    """`python -m MODULE ARGS` in a fresh process from the project root, as a user runs it."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=flow_env.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return FlowResult(done.returncode, done.stdout, done.stderr)


def run_training(flow_env: FlowEnv, timeout: float = 300, cwd: Path = REPO) -> FlowResult:
    """`python -m flows.training`, settings from the environment."""
    return run_module("flows.training", flow_env, timeout=timeout, cwd=cwd)


def copy_checkout(destination: Path) -> Path:
    """This checkout's files as they are on disk (tracked and new, not ignored), elsewhere.

    A test that must change the code (break it, reword it) works on the copy; `python -m`
    run from the copy imports the copy, ahead of the editable install.
    """
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        source = REPO / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def task_states(prefect_api: str, flow_run_id: str) -> dict[str, str]:
    """Task name (without the run suffix) -> final state name, read from the Prefect API."""
    response = httpx.post(
        f"{prefect_api}/task_runs/filter",
        json={"flow_runs": {"id": {"any_": [flow_run_id]}}},
        timeout=30,
    )
    response.raise_for_status()
    return {run["name"].rsplit("-", 1)[0]: run["state"]["name"] for run in response.json()}


def call_flow(
    flow_env: FlowEnv, module: str, flow: str, parameters: dict[str, object]
) -> dict[str, str]:
    """Call a flow with parameters in a fresh process, as a deployment run would: its final
    state's type, message and flow-run id."""
    script = (
        "import importlib, json, sys\n"
        "flow = getattr(importlib.import_module(sys.argv[1]), sys.argv[2])\n"
        "state = flow(**json.loads(sys.argv[3]), return_state=True)\n"
        "print(json.dumps({'type': state.type.value, 'message': state.message or '',"
        " 'flow_run_id': str(state.state_details.flow_run_id)}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, module, flow, json.dumps(parameters)],
        cwd=REPO,
        env=flow_env.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@dataclass
class DaskCluster:
    """A real scheduler and two workers on loopback: their address and their processes."""

    address: str
    scheduler: servers.Server
    workers: dict[str, servers.Server]

    def worker_names(self) -> list[str]:
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            return sorted(w["name"] for w in client.scheduler_info()["workers"].values())

    def wait_for_workers(self, timeout: float = 120) -> None:
        """Until every worker has registered with the scheduler (a busy CI host can take a
        while to import the project on each); otherwise fail with their logs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.worker_names() == sorted(self.workers):
                return
            time.sleep(0.5)
        logs = {name: w.log.read_text()[-1500:] for name, w in self.workers.items()}
        raise AssertionError(f"workers {self.worker_names()} of {sorted(self.workers)}: {logs}")


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    root = tmp_path_factory.mktemp("dask")
    scheduler_spec = services.dask_scheduler(root, servers.free_port())
    scheduler = servers.start_spec(scheduler_spec, root / "scheduler.log", timeout=60)
    workers = {}
    try:
        for name in ("dask-a", "dask-b"):
            spec = services.dask_worker(name, scheduler_spec.url, root)
            workers[name] = servers.start_spec(spec, root / f"{name}.log")
        cluster = DaskCluster(scheduler_spec.url, scheduler, workers)
        cluster.wait_for_workers()
        yield cluster
    finally:
        for server in [*workers.values(), scheduler]:
            server.stop()
