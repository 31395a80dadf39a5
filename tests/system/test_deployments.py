"""End to end, as an operator runs it: the stack, `prefect deploy`, a worker, deployment runs.

One module-scoped stack (its own Prefect server, MLflow server, pool and worker) brought up
with `deployments.stack.up` and taken down with `deployments.stack.down`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from deployments import stack
from housing_core.data.contract import FEATURE_COLUMNS
from tests.conftest import mlflow_client
from tests.servers import BIN, free_port, start_housing_serve

REPO = Path(__file__).resolve().parents[2]
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
        record = stack.up(state, free_port(), free_port(), workers=1)
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
        "PREFECT_API_URL": running_stack["prefect"]["url"],
        "MLFLOW_TRACKING_URI": running_stack["mlflow"]["url"],
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
    worker_log = Path(running_stack["housing-worker-1"]["log"]).read_text()[-3000:]
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\nworker:\n{worker_log}"
    match = re.search(r"UUID:\s*([0-9a-f-]{36})", done.stdout)
    assert match, done.stdout
    return match.group(1), elapsed


def test_deployments_are_registered_with_their_schedule_and_pool(
    running_stack: dict[str, Any],
) -> None:
    api = running_stack["prefect"]["url"]

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
    tracking = running_stack["mlflow"]["url"]
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
    api = running_stack["prefect"]["url"]
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
    # given the running stack's process groups
    pids = [
        int(entry["pid"])
        for name, entry in running_stack.items()
        if isinstance(entry, dict) and "pid" in entry
    ]

    # when it is taken down
    stopped = stack.down(running_stack["state"])

    # then every group is gone and nothing else runs from the stack's folder
    assert set(stopped) == {"prefect", "mlflow", "housing-worker-1"}
    assert not [pid for pid in pids if stack._group_alive(pid)]
    marker = str(running_stack["state"])
    leftovers = [proc.name for proc in Path("/proc").glob("[0-9]*") if _mentions(proc, marker)]
    assert leftovers == []


def _mentions(proc: Path, marker: str) -> bool:
    """Whether a process was started with the stack's folder in its command line or env."""
    for name in ("cmdline", "environ"):
        try:
            if marker in (proc / name).read_bytes().decode(errors="replace"):
                return True
        except OSError:
            continue
    return False
