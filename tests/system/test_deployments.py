"""End to end, as an operator runs it: the stack, `prefect deploy`, a worker, deployment runs.

One module-scoped dev stack (its own Prefect server, MLflow server, pool and worker, under
supervisord) brought up with `deployments.stack.up` and taken down with `.down`; then the
team profile's `up`, its stack.env, and its `down`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from deployments import stack
from housing_core.data.contract import FEATURE_COLUMNS
from tests.conftest import REPO, mlflow_client
from tests.servers import BIN, free_port, start_housing_serve

MODEL = "housing_price_predictor"


@pytest.fixture(scope="module")
def running_stack(
    tmp_path_factory: pytest.TempPathFactory, data_source: str
) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("stack")
    saved = dict(os.environ)
    os.environ.update({"HOUSING_DATA__SOURCE": data_source, "PREFECT_WORKER_QUERY_SECONDS": "2"})
    for name in [n for n in os.environ if n.startswith(("HOUSING_MLFLOW__", "HOUSING_MODEL__"))]:
        del os.environ[name]
    try:
        ports = {**stack.DEFAULT_PORTS, "prefect": free_port(), "mlflow": free_port()}
        record = stack.up(state, "dev", ports, workers=1)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    record["state"] = state
    try:
        yield record
    finally:
        stack.down(state)


def cli_env(running_stack: dict[str, Any]) -> dict[str, str]:
    return {
        **os.environ,
        "PREFECT_API_URL": running_stack["prefect_api"],
        "MLFLOW_TRACKING_URI": running_stack["mlflow"],
    }


def run_deployment(running_stack: dict[str, Any], name: str, *args: str) -> tuple[str, float]:
    """`prefect deployment run NAME ... --watch`; returns the flow-run id and seconds taken."""
    started = time.monotonic()
    done = subprocess.run(
        [
            str(BIN / "prefect"),
            "deployment",
            "run",
            name,
            *args,
            "--watch",
            "--watch-timeout",
            "600",
        ],
        env=cli_env(running_stack),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=700,
    )
    elapsed = time.monotonic() - started
    worker_log = (Path(running_stack["logs"]) / "housing-worker-1.log").read_text()[-3000:]
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\nworker:\n{worker_log}"
    match = re.search(r"UUID:\s*([0-9a-f-]{36})", done.stdout)
    assert match, done.stdout
    return match.group(1), elapsed


def test_deployments_are_registered_with_their_schedule_and_pool(
    running_stack: dict[str, Any],
) -> None:
    api = running_stack["prefect_api"]

    nightly = httpx.get(f"{api}/deployments/name/housing-training/nightly", timeout=30).json()
    adhoc = httpx.get(f"{api}/deployments/name/housing-training/adhoc", timeout=30).json()
    release = httpx.get(f"{api}/deployments/name/housing-promotion/release", timeout=30).json()

    (schedule,) = nightly["schedules"]
    assert schedule["schedule"]["cron"] == "0 3 * * *"
    assert schedule["schedule"]["timezone"] == "America/Los_Angeles"
    assert schedule["active"] is True
    assert adhoc["schedules"] == []
    assert {d["work_pool_name"] for d in (nightly, adhoc, release)} == {"housing"}
    assert "schedule" in nightly["tags"] and "adhoc" in adhoc["tags"]
    assert "release" in release["tags"]
    assert release["concurrency_limit"] == 1 or release["global_concurrency_limit"]["limit"] == 1
    # nothing machine-specific was baked in: the pull step resolves on the worker
    for deployment in (nightly, adhoc, release):
        assert deployment["pull_steps"] == [{"flows.pull_steps.use_worker_directory": {}}]


def test_adhoc_training_with_an_override_then_release_then_serve(
    running_stack: dict[str, Any], data_source: str, tmp_path: Path
) -> None:
    tracking = running_stack["mlflow"]
    client = mlflow_client(tracking)

    # when an ad hoc training runs with nested parameter overrides
    model = {"family": "random_forest", "n_estimators": 20, "max_depth": 12}
    flow_run_id, seconds = run_deployment(
        running_stack, "housing-training/adhoc", "--param", f"model={json.dumps(model)}"
    )
    print(f"housing-training/adhoc: request to Completed in {seconds:.1f} s")

    # then MLflow has its run, with the overridden parameter, and a registered version
    experiment = client.get_experiment_by_name("housing_price_prediction")
    (run,) = client.search_runs(
        [experiment.experiment_id], f"tags.`prefect.flow_run_id` = '{flow_run_id}'"
    )
    assert run.data.params["model.n_estimators"] == "20"
    assert run.data.params["model.family"] == "random_forest"
    (version,) = client.search_model_versions(f"name = '{MODEL}' and run_id = '{run.info.run_id}'")

    # and the flow run carries what ran, for the UI
    api = running_stack["prefect_api"]
    flow_run = httpx.get(f"{api}/flow_runs/{flow_run_id}", timeout=30).json()
    assert {"adhoc", "model:random_forest"} <= set(flow_run["tags"])
    assert flow_run["name"].startswith("random-forest-n20-d12-")
    artifacts = httpx.post(
        f"{api}/artifacts/filter",
        timeout=30,
        json={"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}},
    ).json()
    assert any(a["key"] == "housing-training-report" for a in artifacts)

    # when the release deployment runs
    release_id, seconds = run_deployment(running_stack, "housing-promotion/release")
    print(f"housing-promotion/release: request to Completed in {seconds:.1f} s")

    # then production points at the new version, and the run says so in an artifact
    assert client.get_registered_model(MODEL).aliases["production"] == version.version
    release_artifacts = httpx.post(
        f"{api}/artifacts/filter",
        timeout=30,
        json={"artifacts": {"flow_run_id": {"any_": [release_id]}}},
    ).json()
    assert any(version.version in (a["data"] or "") for a in release_artifacts)

    # and the production model is served and scores a request
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking}
    server = start_housing_serve(env, tmp_path / "serve.log")
    try:
        rows = pd.read_csv(data_source).head(3)[list(FEATURE_COLUMNS)]
        response = httpx.post(
            f"{server.url}/invocations",
            timeout=30,
            json={"dataframe_records": rows.to_dict("records")},
        )
    finally:
        server.stop()
    assert response.status_code == 200, response.text
    prices = response.json()["predictions"]
    assert len(prices) == 3 and all(10_000 < p <= 500_001 for p in prices)


def test_stack_down_leaves_no_process(running_stack: dict[str, Any]) -> None:
    # given the running stack's supervisord
    layout = stack.Layout(running_stack["state"])
    supervisord = stack.supervisord_pid(layout)
    assert supervisord and stack.stack_processes(running_stack["state"])

    # when it is taken down
    stopped = stack.down(running_stack["state"])

    # then every program stopped, supervisord too, and nothing runs from the stack's folder
    assert set(stopped) == {"prefect", "mlflow", "housing-worker-1"}
    assert not Path(f"/proc/{supervisord}").exists()
    assert stack.stack_processes(running_stack["state"]) == []
    assert stack.supervisord_pid(layout) is None


def test_team_profile_up_writes_a_client_env_and_down_leaves_nothing(data_source: str) -> None:
    """`python -m deployments.stack up --profile team` (what `make stack-up PROFILE=team` runs)."""
    # postgres runs as its own user: its folder's parents must let it through (pytest's do not)
    state = Path(tempfile.mkdtemp(prefix="housing-team-stack-"))
    state.chmod(0o755)
    ports = {f"HOUSING_{part.upper()}_PORT": str(free_port()) for part in stack.DEFAULT_PORTS}
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PREFECT_"))},
        **ports,
        "HOUSING_STACK_DIR": str(state),
        "HOUSING_DATA__SOURCE": data_source,
    }
    command = [str(BIN / "python"), "-m", "deployments.stack"]
    try:
        started = time.monotonic()
        up = subprocess.run(
            [*command, "up", "--profile", "team", "--workers", "1"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=400,
        )
        print(f"team stack up in {time.monotonic() - started:.1f} s")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "source " in up.stdout and "MLflow UI:" in up.stdout

        # then stack.env holds a client's exports, readable by its owner only
        env_file = state / "stack.env"
        assert env_file.stat().st_mode & 0o077 == 0
        exports = dict(
            re.findall(r"^export ([A-Z0-9_]+)=(.*)$", env_file.read_text(), flags=re.MULTILINE)
        )
        needed = {
            "PREFECT_API_URL",
            "PREFECT_API_AUTH_STRING",
            "MLFLOW_TRACKING_URI",
            "MLFLOW_TRACKING_USERNAME",
            "MLFLOW_TRACKING_PASSWORD",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ENDPOINT_URL_S3",
        }
        assert needed <= set(exports), exports.keys()
        assert exports["MLFLOW_TRACKING_USERNAME"] == "trainer"

        # and a shell that sources it gets them, and reaches both servers as the trainer
        shell = subprocess.run(
            ["bash", "-c", f"source {env_file} && env -0"],
            env={"PATH": os.environ["PATH"]},
            capture_output=True,
            text=True,
            timeout=30,
        )
        client = dict(line.split("=", 1) for line in shell.stdout.split("\0") if "=" in line)
        assert {k: client[k] for k in needed} == {k: shlex.split(exports[k])[0] for k in needed}
        mlflow_api = f"{client['MLFLOW_TRACKING_URI']}/api/2.0/mlflow/experiments/get-by-name"
        params = {"experiment_name": "housing_price_prediction"}
        trainer = (client["MLFLOW_TRACKING_USERNAME"], client["MLFLOW_TRACKING_PASSWORD"])
        assert httpx.get(mlflow_api, params=params, auth=trainer).status_code == 200
        assert httpx.get(mlflow_api, params=params).status_code == 401
        inspect = subprocess.run(
            [str(BIN / "prefect"), "work-pool", "inspect", "housing"],
            env={**os.environ, **client},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert inspect.returncode == 0, inspect.stderr

        # and every port the stack's processes listen on is loopback
        pids = set(stack.stack_processes(state))
        sockets = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
        ours = [
            line.split()[3]
            for line in sockets.splitlines()
            if {int(p) for p in re.findall(r"pid=(\d+)", line)} & pids
        ]
        assert ours and all(address.startswith("127.0.0.1:") for address in ours), ours
    finally:
        down = subprocess.run(
            [*command, "down"], env=env, cwd=REPO, capture_output=True, text=True, timeout=200
        )
        left = stack.stack_processes(state)
        shutil.rmtree(state, ignore_errors=True)
    assert down.returncode == 0, down.stdout + down.stderr
    assert left == []
