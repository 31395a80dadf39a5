"""Bad data and a dead tracking server: clear failures, nothing half-done, then recovery."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from mlflow import MlflowClient

from tests import servers
from tests.conftest import REPO, FlowEnv, mlflow_client, run_training, task_states

BAD_DATA = {
    "missing-column": (
        lambda f: f.drop(columns=["median_income"]),
        "missing column 'median_income'",
    ),
    "wrong-dtype": (
        lambda f: f.assign(households=f["households"].astype(object).where(f.index % 7 != 0, "x")),
        "column 'households': dtype",
    ),
    "unknown-category": (
        lambda f: f.assign(ocean_proximity=f["ocean_proximity"].replace("ISLAND", "MOON")),
        "unknown categories 'MOON'",
    ),
    "out-of-range": (
        lambda f: f.assign(latitude=f["latitude"].where(f.index >= 3, 99.0)),
        "column 'latitude': 3 row(s) outside [32, 42.5]",
    ),
    "too-few-rows": (lambda f: f.head(50), "too few rows: 50 < the minimum of 1000"),
    "empty-file": (None, "the file is empty"),
}


@pytest.mark.parametrize("case", list(BAD_DATA))
def test_bad_data_fails_naming_the_problem_and_registers_nothing(
    flow_env: FlowEnv, tmp_path: Path, case: str
) -> None:
    # given a broken copy of the data set
    change, expected = BAD_DATA[case]
    path = tmp_path / f"{case}.csv"
    if change is None:
        path.write_text("")
    else:
        change(pd.read_csv(flow_env.env["HOUSING_DATA__SOURCE"])).to_csv(path, index=False)

    # when the flow runs on it
    result = run_training(flow_env.with_(HOUSING_DATA__SOURCE=str(path)))

    # then it fails at validation, says what is wrong, and MLflow has no run and no version
    assert result.returncode == 1
    assert "DataValidationError" in result.stderr and expected in result.stderr
    client = mlflow_client(flow_env.tracking_uri)
    assert client.search_model_versions(f"name = '{flow_env.model_name}'") == []
    experiment = client.get_experiment_by_name(flow_env.experiment_name)
    assert experiment is None or client.search_runs([experiment.experiment_id]) == []


def test_unreachable_mlflow_fails_fast_naming_the_uri_then_a_rerun_reuses_the_data_steps(
    flow_env: FlowEnv,
) -> None:
    dead = f"http://127.0.0.1:{servers.free_port()}"

    started = time.monotonic()
    result = run_training(flow_env.with_(MLFLOW_TRACKING_URI=dead))
    elapsed = time.monotonic() - started

    assert result.returncode == 1
    assert f"MLflow tracking server at {dead} is unreachable" in result.stderr
    assert elapsed < 120, f"took {elapsed:.0f} s"

    rerun = run_training(flow_env).summary

    states = task_states(flow_env.prefect_api, str(rerun["flow_run_id"]))
    assert {t for t, s in states.items() if s == "Cached"} == {
        "load-housing-data",
        "validate-housing-data",
        "split-housing-data",
    }
    assert rerun["registered_version"] == "1"


def test_server_dying_mid_run_leaves_no_run_running_after_the_rerun(
    flow_env: FlowEnv, tmp_path: Path
) -> None:
    # given a tracking server of this test's own, killed while the run is being logged
    root = tmp_path / "own-mlflow"
    port = servers.free_port()
    server = servers.start_mlflow(root, port)
    env = flow_env.with_(MLFLOW_TRACKING_URI=server.url)
    client = mlflow_client(server.url)
    process = _start_training(env)
    try:
        running = _wait_for_running_run(client, flow_env.experiment_name, process)
        server.stop(timeout=5)
        started = time.monotonic()
        _, stderr = process.communicate(timeout=300)
        elapsed = time.monotonic() - started
    finally:
        process.kill()
        server.stop()

    # then the flow fails within bounds, naming the server
    assert process.returncode == 1
    assert server.url in stderr
    assert elapsed < 180, f"took {elapsed:.0f} s to give up"

    # when the server is back and the flow re-runs
    server = servers.start_mlflow(root, port)
    try:
        rerun = run_training(env).summary
        runs = client.search_runs(
            [client.get_experiment_by_name(flow_env.experiment_name).experiment_id]
        )
        versions = client.search_model_versions(f"name = '{flow_env.model_name}'")
    finally:
        server.stop()

    # then exactly one version is registered, the re-run's: none half-done, none twice
    assert [v.run_id for v in versions] == [rerun["run_id"]]

    # then the stale run is FAILED, the new one FINISHED, and the upstream steps were reused
    statuses = {r.info.run_id: r.info.status for r in runs}
    assert statuses[running] == "FAILED"
    assert statuses[str(rerun["run_id"])] == "FINISHED"
    assert "RUNNING" not in statuses.values()
    states = task_states(flow_env.prefect_api, str(rerun["flow_run_id"]))
    assert states["train-model"] == "Cached" and states["split-housing-data"] == "Cached"


def _start_training(env: FlowEnv) -> subprocess.Popen[str]:
    """`python -m flows.training` in the background, its output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "flows.training"],
        cwd=REPO,
        env=env.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_running_run(
    client: MlflowClient, experiment: str, process: subprocess.Popen[str]
) -> str:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert process.poll() is None, "flow ended before its run was seen RUNNING"
        found = client.get_experiment_by_name(experiment)
        if found is not None:
            runs = client.search_runs([found.experiment_id], "attributes.status = 'RUNNING'")
            if runs:
                return runs[0].info.run_id
        time.sleep(0.1)
    raise AssertionError("no RUNNING run appeared")


def test_an_artifact_store_that_cannot_be_written_fails_the_run_and_registers_nothing(
    flow_env: FlowEnv, tmp_path: Path
) -> None:
    # given a tracking server of this test's own whose artifact store stops taking writes
    # once the run is being logged (its folder replaced by a file: even root cannot write)
    root = tmp_path / "own-mlflow"
    server = servers.start_mlflow(root)
    env = flow_env.with_(MLFLOW_TRACKING_URI=server.url)
    client = mlflow_client(server.url)
    store = root / "mlartifacts"
    process = _start_training(env)
    try:
        running = _wait_for_running_run(client, flow_env.experiment_name, process)
        shutil.rmtree(store, ignore_errors=True)
        store.write_text("not a folder")
        _, stderr = process.communicate(timeout=300)

        # then the run fails with an error that says the artifacts could not be written
        assert process.returncode == 1, stderr[-3000:]
        assert f"ArtifactStoreError: the artifact store of MLflow at {server.url}" in stderr
        assert f"did not take run {running}'s files" in stderr, stderr[-3000:]
        # and no version was registered, and the MLflow run is not left RUNNING
        assert client.search_model_versions(f"name = '{flow_env.model_name}'") == []
        assert client.get_run(running).info.status == "FAILED"

        # when the store takes writes again, the re-run registers exactly one version
        store.unlink()
        store.mkdir()
        rerun = run_training(env).summary
        versions = client.search_model_versions(f"name = '{flow_env.model_name}'")
    finally:
        process.kill()
        server.stop()
    assert [v.run_id for v in versions] == [rerun["run_id"]]


def test_a_prefect_server_restarted_mid_run_leaves_one_version_and_nothing_running(
    flow_env: FlowEnv, tmp_path: Path
) -> None:
    # given a Prefect server of this test's own, restarted (same port, same database) while
    # the training is being logged to MLflow
    home, port = tmp_path / "own-prefect", servers.free_port()
    prefect = servers.start_prefect(home, port)
    env = flow_env.with_(PREFECT_API_URL=prefect.url)
    client = mlflow_client(flow_env.tracking_uri)
    process = _start_training(env)
    try:
        running = _wait_for_running_run(client, flow_env.experiment_name, process)
        stopped = time.monotonic()
        prefect.stop(timeout=10)
        prefect = servers.start_prefect(home, port)
        down = time.monotonic() - stopped
        _, stderr = process.communicate(timeout=300)

        # then the run ended, completed (the client retried through the gap) or failed
        # cleanly; its MLflow run is not left RUNNING
        assert process.returncode in (0, 1), stderr[-3000:]
        assert client.get_run(running).info.status in ("FINISHED", "FAILED")

        # and a re-run completes, leaving exactly one registered version and no RUNNING run
        rerun = run_training(env).summary
        experiment = client.get_experiment_by_name(flow_env.experiment_name)
        statuses = [r.info.status for r in client.search_runs([experiment.experiment_id])]
        versions = client.search_model_versions(f"name = '{flow_env.model_name}'")
        final = httpx.get(f"{prefect.url}/flow_runs/{rerun['flow_run_id']}", timeout=30).json()
    finally:
        process.kill()
        prefect.stop()
    assert "RUNNING" not in statuses
    assert len(versions) == 1
    assert final["state"]["type"] == "COMPLETED"
    outcome = "completed" if process.returncode == 0 else "failed cleanly"
    print(f"\nPrefect down {down:.1f} s mid-logging: the run {outcome}; one version after re-run")


def test_an_mlflow_server_restarted_briefly_mid_logging_lets_the_run_complete_with_one_version(
    flow_env: FlowEnv, tmp_path: Path
) -> None:
    # given a tracking server of this test's own, stopped while the run is being logged and
    # started again at once (same port, same store): a deploy, or a crash its supervisor undoes
    root, port = tmp_path / "own-mlflow", servers.free_port()
    server = servers.start_mlflow(root, port)
    env = flow_env.with_(MLFLOW_TRACKING_URI=server.url)
    client = mlflow_client(server.url)
    process = _start_training(env)
    try:
        running = _wait_for_running_run(client, flow_env.experiment_name, process)
        stopped = time.monotonic()
        server.stop(timeout=5)
        server = servers.start_mlflow(root, port)
        down = time.monotonic() - stopped
        stdout, stderr = process.communicate(timeout=300)

        # then the run completes through the retries, with exactly one version, and no run
        # of its attempts is left RUNNING
        assert process.returncode == 0, stderr[-3000:]
        experiment = client.get_experiment_by_name(flow_env.experiment_name)
        runs = client.search_runs([experiment.experiment_id])
        versions = client.search_model_versions(f"name = '{flow_env.model_name}'")
    finally:
        process.kill()
        server.stop()
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert [v.version for v in versions] == [summary["registered_version"]]
    assert [v.run_id for v in versions] == [summary["run_id"]]
    statuses = {r.info.run_id: r.info.status for r in runs}
    assert statuses[summary["run_id"]] == "FINISHED"
    assert "RUNNING" not in statuses.values(), statuses
    if running != summary["run_id"]:  # an attempt cut off by the restart
        assert statuses[running] == "FAILED"
    print(f"\nMLflow down {down:.1f} s mid-logging: the run completed, one version")
