"""housing-sweep against the real servers and a real Dask cluster: trials spread over both
workers, a worker lost mid-sweep, a sweep stopped and resumed, a failing trial, a bad space.

Trials are tiny forests (a few trees): these tests are about the plumbing, not the search.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mlflow.entities import Run

from deployments import services
from tests import servers
from tests.conftest import REPO, DaskCluster, FlowEnv, mlflow_client, run_module

pytestmark = [pytest.mark.servers, pytest.mark.timeout(400)]

TINY_SPACE = """\
family: random_forest
params:
  n_estimators: {type: int, low: 3, high: 12}
  max_depth: {type: int, low: 3, high: 14}
"""


def sweep_env(flow_env: FlowEnv, tmp_path: Path, **extra: str) -> FlowEnv:
    """The test's own sweep experiment and study, and a tiny search space."""
    (tmp_path / "tiny.yaml").write_text(TINY_SPACE)
    suffix = uuid.uuid4().hex[:8]
    return flow_env.with_(
        HOUSING_SWEEP__EXPERIMENT_NAME=f"housing_sweeps_{suffix}",
        HOUSING_SWEEP__STUDY_NAME=f"sweep-{suffix}",
        **extra,
    )


def child_runs(env: FlowEnv, parent_run_id: str) -> list[Run]:
    client = mlflow_client(env.tracking_uri)
    experiment = client.get_experiment_by_name(env.env["HOUSING_SWEEP__EXPERIMENT_NAME"])
    assert experiment is not None
    return client.search_runs(
        [experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{parent_run_id}'"
    )


def trial_task_states(prefect_api: str, flow_run_id: str) -> dict[str, str]:
    """`sweep-trial-<number>` -> its final state's name, in one flow run."""
    response = httpx.post(
        f"{prefect_api}/task_runs/filter",
        json={"flow_runs": {"id": {"any_": [flow_run_id]}}, "limit": 200},
        timeout=30,
    )
    response.raise_for_status()
    return {
        run["name"]: run["state"]["name"]
        for run in response.json()
        if run["name"].startswith("sweep-trial-")
    }


def test_trials_spread_over_both_dask_workers_and_the_best_is_registered(
    flow_env: FlowEnv, tmp_path: Path, dask_cluster: DaskCluster
) -> None:
    env = sweep_env(flow_env, tmp_path, HOUSING_DASK__ADDRESS=dask_cluster.address)

    result = run_module(
        "flows.sweep",
        env,
        "--trials",
        "6",
        "--parallelism",
        "2",
        "--space",
        str(tmp_path / "tiny.yaml"),
    )

    summary = result.summary
    trials = summary["trials"]
    assert isinstance(trials, list) and len(trials) == 6
    assert {t["state"] for t in trials} == {"complete"}
    # where each trial ran, as the trial recorded it, in the summary and in MLflow
    assert {t["worker"] for t in trials} == {"dask-a", "dask-b"}
    children = child_runs(env, str(summary["parent_run_id"]))
    assert len(children) == 6
    assert {c.data.tags["housing.sweep.worker"] for c in children} == {"dask-a", "dask-b"}
    assert {c.info.status for c in children} == {"FINISHED"}
    assert all(
        "validation_rmse" in c.data.metrics and "n_estimators" in c.data.params for c in children
    )

    # the parent: the ranked table and the score against each parameter
    client = mlflow_client(env.tracking_uri)
    parent = client.get_run(str(summary["parent_run_id"]))
    assert parent.info.status == "FINISHED"
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "ranking")}
    assert artifacts == {"ranking/trials.csv", "ranking/trials.md"}
    assert [a.path for a in client.list_artifacts(parent.info.run_id, "plots")] == [
        "plots/score_vs_params.png"
    ]
    best = min((t for t in trials), key=lambda t: t["validation_rmse"])
    assert parent.data.tags["housing.sweep.best_trial"] == str(best["number"])

    # the best retrained on every training row, held out, registered through the gates
    assert summary["registered_version"] == "1"
    version = client.get_model_version(env.model_name, "1")
    trained = client.get_run(version.run_id)
    assert trained.data.params["model.n_estimators"] == str(best["params"]["n_estimators"])
    assert trained.data.params["n_train_rows"] == "14859"  # all of them, not the fitting rows
    assert parent.data.tags["housing.sweep.registered_version"] == "1"

    # Prefect: the progress artifact at 100 % and the ranking table
    response = httpx.post(
        f"{env.prefect_api}/artifacts/filter",
        json={"artifacts": {"flow_run_id": {"any_": [summary["flow_run_id"]]}}},
        timeout=30,
    )
    by_type = {a["type"]: a for a in response.json()}
    assert by_type["progress"]["data"] == 100.0
    assert "6 of 6 trials done" in by_type["progress"]["description"]
    assert by_type["table"]["key"] == "housing-sweep-ranking"


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    """A scheduler and two workers of this test's own: one of them gets killed."""
    root = tmp_path / "dask"
    root.mkdir()
    spec = services.dask_scheduler(root, servers.free_port())
    scheduler = servers.start_spec(spec, root / "scheduler.log", timeout=60)
    workers = {}
    try:
        for name in ("dask-a", "dask-b"):
            worker = services.dask_worker(name, spec.url, root)
            workers[name] = servers.start_spec(worker, root / f"{name}.log")
        cluster = DaskCluster(spec.url, scheduler, workers)
        deadline = time.monotonic() + 60
        while cluster.worker_names() != ["dask-a", "dask-b"] and time.monotonic() < deadline:
            time.sleep(0.5)
        yield cluster
    finally:
        for server in [*workers.values(), scheduler]:
            server.stop()


def optuna_trials(state_dir: Path) -> list[tuple[int, str]]:
    """(number, state) of the trials in the default SQLite study storage."""
    path = state_dir / "sweeps" / "optuna.db"
    if not path.exists():
        return []
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return list(db.execute("select number, state from trials order by number"))
    except sqlite3.OperationalError:  # tables not created yet
        return []


def start_sweep(env: FlowEnv, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flows.sweep", *args],
            cwd=REPO,
            env=env.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_complete_trials(
    state_dir: Path, count: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 240
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        complete = [n for n, state in optuna_trials(state_dir) if state == "COMPLETE"]
        if len(complete) >= count:
            return
        assert process.poll() is None, log.read_text()[-3000:]
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} trials completed:\n{log.read_text()[-3000:]}")


def wait_until_running_a_trial(cluster: DaskCluster, name: str, timeout: float = 60) -> None:
    """Until the scheduler has a task processing on the worker called `name`."""
    from distributed import Client

    deadline = time.monotonic() + timeout
    with Client(cluster.address, timeout=30) as client:
        while time.monotonic() < deadline:
            workers = client.scheduler_info()["workers"]
            address = next(a for a, w in workers.items() if w["name"] == name)
            if client.processing().get(address):
                return
            time.sleep(0.02)
    raise AssertionError(f"no trial ran on {name} within {timeout:.0f} s")


def test_killing_one_dask_worker_mid_sweep_leaves_the_sweep_completing_on_the_other(
    flow_env: FlowEnv, tmp_path: Path, own_cluster: DaskCluster
) -> None:
    env = sweep_env(flow_env, tmp_path, HOUSING_DASK__ADDRESS=own_cluster.address)
    state_dir = Path(env.env["HOUSING_STATE_DIR"])
    log = tmp_path / "sweep.log"
    args = ("--trials", "8", "--parallelism", "2", "--space", str(tmp_path / "tiny.yaml"))
    process = start_sweep(env, log, *args, "--no-register")
    try:
        wait_for_complete_trials(state_dir, 2, process, log)
        wait_until_running_a_trial(own_cluster, "dask-b")
        os.killpg(own_cluster.workers["dask-b"].pid, signal.SIGKILL)  # a lost host, mid-trial
        assert process.wait(timeout=300) == 0, log.read_text()[-4000:]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert own_cluster.worker_names() == ["dask-a"]

    states = optuna_trials(state_dir)
    assert [s for _, s in states] == ["COMPLETE"] * 8
    lines = log.read_text().splitlines()
    summary = json.loads(lines[-1])
    workers = [t["worker"] for t in summary["trials"]]
    assert set(workers[:2]) <= {"dask-a", "dask-b"}
    assert workers[-3:] == ["dask-a"] * 3  # after the kill, the survivor ran them


def test_a_sweep_stopped_and_started_again_recomputes_no_finished_trial(
    flow_env: FlowEnv, tmp_path: Path
) -> None:
    env = sweep_env(flow_env, tmp_path)  # local threads: the stop kills every trial in flight
    state_dir = Path(env.env["HOUSING_STATE_DIR"])
    args = ("--trials", "6", "--parallelism", "1", "--space", str(tmp_path / "tiny.yaml"))
    log = tmp_path / "first.log"
    process = start_sweep(env, log, *args, "--no-register")
    try:
        wait_for_complete_trials(state_dir, 3, process, log)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    before = optuna_trials(state_dir)
    done_before = [n for n, s in before if s == "COMPLETE"]
    assert 3 <= len(done_before) < 6

    result = run_module("flows.sweep", env, *args, "--no-register")

    summary = result.summary
    trials = summary["trials"]
    complete = [t for t in trials if t["state"] == "complete"]
    assert len(complete) == 6
    assert [t["number"] for t in complete[: len(done_before)]] == done_before  # kept as they were
    # the second run ran only the missing trials; one cut off by the stop is proposed again
    # and, if it had finished computing, read from the cache
    states = trial_task_states(env.prefect_api, str(summary["flow_run_id"]))
    assert len(states) == 6 - len(done_before)
    assert not {f"sweep-trial-{n}" for n in done_before} & set(states)
    assert set(states.values()) <= {"Completed", "Cached"}
    # one child run per configuration: none recorded twice
    children = child_runs(env, str(summary["parent_run_id"]))
    keys = [c.data.tags["housing.sweep.trial_key"] for c in children]
    assert len(keys) == len(set(keys)) == len({str(t["params"]) for t in complete})

    # and a repeated sweep with nothing left computes nothing and records nothing new
    again = run_module("flows.sweep", env, *args, "--no-register").summary
    assert trial_task_states(env.prefect_api, str(again["flow_run_id"])) == {}
    assert len(child_runs(env, str(summary["parent_run_id"]))) == len(children)


def test_a_trial_told_to_the_study_but_never_recorded_is_recorded_when_the_sweep_resumes(
    flow_env: FlowEnv, tmp_path: Path
) -> None:
    # the state a sweep killed between telling a trial and logging its child run leaves: the
    # study holds the trial, MLflow has no run for it (here its run is deleted afterwards)
    env = sweep_env(flow_env, tmp_path)
    args = ("--trials", "2", "--parallelism", "1", "--space", str(tmp_path / "tiny.yaml"))
    first = run_module("flows.sweep", env, *args, "--no-register").summary
    parent = str(first["parent_run_id"])
    children = child_runs(env, parent)
    assert len(children) == 2
    lost = children[0]
    mlflow_client(env.tracking_uri).delete_run(lost.info.run_id)
    assert len(child_runs(env, parent)) == 1

    again = run_module("flows.sweep", env, *args, "--no-register").summary

    assert again["parent_run_id"] == parent
    assert trial_task_states(env.prefect_api, str(again["flow_run_id"])) == {}  # nothing rerun
    recorded = child_runs(env, parent)
    assert len(recorded) == 2
    keys = {c.data.tags["housing.sweep.trial_key"] for c in recorded}
    assert lost.data.tags["housing.sweep.trial_key"] in keys
    back = next(
        c
        for c in recorded
        if c.info.run_id != lost.info.run_id
        and c.data.tags["housing.sweep.trial_key"] == lost.data.tags["housing.sweep.trial_key"]
    )
    assert back.data.params == lost.data.params
    assert back.data.metrics["validation_rmse"] == lost.data.metrics["validation_rmse"]
    assert back.info.status == "FINISHED"


def test_a_failing_trial_is_recorded_and_the_sweep_goes_on(
    flow_env: FlowEnv, tmp_path: Path
) -> None:
    # a grid of two: 3 trees, and 3000 unlimited-depth trees that outlast the trial time limit
    (tmp_path / "slow.yaml").write_text(
        "family: random_forest\n"
        "params:\n"
        "  n_estimators: {type: categorical, choices: [3000, 3]}\n"
        "fixed: {max_depth: null}\n"
    )
    env = sweep_env(flow_env, tmp_path, HOUSING_SWEEP__TRIAL_TIMEOUT_S="8")
    result = run_module(
        "flows.sweep",
        env,
        *("--trials", "2", "--parallelism", "1", "--sampler", "grid"),
        *("--space", str(tmp_path / "slow.yaml"), "--no-register"),
    )

    trials = {t["params"]["n_estimators"]: t for t in result.summary["trials"]}
    assert trials[3]["state"] == "complete"
    assert trials[3000]["state"] == "failed"
    assert "TimedOut" in trials[3000]["error"]
    assert [s for _, s in optuna_trials(Path(env.env["HOUSING_STATE_DIR"]))].count("FAIL") == 1
    children = {
        c.data.params["n_estimators"]: c
        for c in child_runs(env, str(result.summary["parent_run_id"]))
    }
    assert children["3000"].info.status == "FAILED"
    assert "TimedOut" in children["3000"].data.tags["housing.sweep.error"]
    assert children["3"].info.status == "FINISHED"


def test_a_bad_space_file_is_refused_by_its_key_before_anything_starts(
    flow_env: FlowEnv, tmp_path: Path
) -> None:
    env = sweep_env(flow_env, tmp_path)
    (tmp_path / "bad.yaml").write_text(
        "family: random_forest\nparams:\n  n_estimators: {type: int, low: 300, high: 100}\n"
    )
    result = run_module("flows.sweep", env, "--trials", "2", "--space", str(tmp_path / "bad.yaml"))

    assert result.returncode == 1
    assert "params.n_estimators: low (300) must be below high (100)" in result.stderr
    assert "bad.yaml" in result.stderr
    client = mlflow_client(env.tracking_uri)
    assert client.get_experiment_by_name(env.env["HOUSING_SWEEP__EXPERIMENT_NAME"]) is None
    assert not (Path(env.env["HOUSING_STATE_DIR"]) / "sweeps").exists()


def test_an_unreachable_dask_scheduler_is_named_before_any_run_is_opened(
    flow_env: FlowEnv, tmp_path: Path
) -> None:
    address = f"tcp://127.0.0.1:{servers.free_port()}"
    env = sweep_env(flow_env, tmp_path, HOUSING_DASK__ADDRESS=address)
    result = run_module("flows.sweep", env, "--trials", "2", "--space", str(tmp_path / "tiny.yaml"))

    assert result.returncode == 1
    assert f"Dask scheduler at {address} (dask.address) did not answer" in result.stderr
    client = mlflow_client(env.tracking_uri)
    assert client.get_experiment_by_name(env.env["HOUSING_SWEEP__EXPERIMENT_NAME"]) is None
