"""housing-scoring on a real Dask cluster (a scheduler and two workers on loopback) against the
real MLflow and Prefect servers: partitions spread over both workers, the same output as the
single machine's, a worker lost mid-scoring, the scheduler lost mid-scoring.

One module-scoped registry: v1, a small forest; scored by number. Inputs are a few thousand
rows in partitions of a few hundred: these tests are about the plumbing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from deployments import services
from housing_core import storage
from tests import servers
from tests.conftest import (
    REPO,
    DaskCluster,
    FlowEnv,
    make_flow_env,
    mlflow_client,
    run_module,
    run_training,
)
from tests.flows.conftest import WEAK

pytestmark = [pytest.mark.servers, pytest.mark.timeout(300)]
PARTITION_ROWS = "400"


@dataclass(frozen=True)
class Registry:
    env: FlowEnv
    data: pd.DataFrame


@pytest.fixture(scope="module")
def registry(
    tmp_path_factory: pytest.TempPathFactory,
    data_source: str,
    mlflow_server: servers.Server,
    prefect_server: servers.Server,
) -> Iterator[Registry]:
    folder = tmp_path_factory.mktemp("cluster-scoring")
    env = make_flow_env(folder, data_source, mlflow_server, prefect_server).with_(**WEAK)
    assert run_training(env).summary["registered_version"] == "1"
    yield Registry(env, pd.read_csv(data_source))


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    """A scheduler and two workers of this test's own: one of them, or the scheduler, dies."""
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
        cluster.wait_for_workers()
        yield cluster
    finally:
        for server in [*workers.values(), scheduler]:
            server.stop()


def sample(registry: Registry, rows: int, folder: Path) -> Path:
    """A random sample (the file is sorted by place: its head alone would drift), with two
    rows that break the contract."""
    frame = registry.data.sample(rows, random_state=3).reset_index(drop=True)
    frame.loc[7, "median_income"] = -1.0
    frame.loc[rows - 5, "ocean_proximity"] = "MARS"
    path = folder / "in.csv"
    frame.to_csv(path, index=False)
    return path


def on_cluster(env: FlowEnv, address: str, **extra: str) -> FlowEnv:
    return env.with_(
        HOUSING_DASK__ADDRESS=address, HOUSING_SCORING__PARTITION_ROWS=PARTITION_ROWS, **extra
    )


def score(env: FlowEnv, source: Path, destination: str) -> tuple[int, dict, str]:
    args = ("--source", str(source), "--destination", destination, "--version", "1")
    done = run_module("flows.scoring", env, *args)
    summary = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {}
    return done.returncode, summary, done.stderr


def start_scoring(env: FlowEnv, source: Path, destination: str, log: Path) -> subprocess.Popen:
    args = ("--source", str(source), "--destination", destination, "--version", "1")
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flows.scoring", *args],
            cwd=REPO,
            env=env.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_processing_on(
    cluster: DaskCluster, name: str, process: subprocess.Popen, log: Path, timeout: float = 120
) -> None:
    """Until the scheduler has a task processing on the worker called `name`."""
    from distributed import Client

    deadline = time.monotonic() + timeout
    with Client(cluster.address, timeout=30) as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()[-3000:]
            workers = client.scheduler_info()["workers"]
            address = next((a for a, w in workers.items() if w["name"] == name), None)
            if address is not None and client.processing().get(address):
                return
            time.sleep(0.02)
    raise AssertionError(f"no partition ran on {name} within {timeout:.0f} s")


def scoring_runs(env: FlowEnv) -> list:
    client = mlflow_client(env.tracking_uri)
    experiment = client.get_experiment_by_name("housing_batch_scoring")
    return [] if experiment is None else client.search_runs([experiment.experiment_id])


def nothing_but(folder: Path, *names: str) -> list[str]:
    """Every file and folder under `folder` (hidden ones too) but `names`."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name not in names)


def test_partitions_spread_over_both_workers_and_price_every_row_as_the_single_machine(
    registry: Registry, dask_cluster: DaskCluster, tmp_path: Path
) -> None:
    # given 4,000 rows (ten partitions of 400), two of them breaking the contract
    source = sample(registry, 4000, tmp_path)

    # when they are scored on one machine, then on the cluster (a file, then a folder output)
    code, single, stderr = score(registry.env, source, str(tmp_path / "single.parquet"))
    assert code == 0, stderr[-3000:]
    cluster_env = on_cluster(registry.env, dask_cluster.address)
    code, spread, stderr = score(cluster_env, source, str(tmp_path / "cluster.parquet"))
    assert code == 0, stderr[-3000:]
    code, folder, stderr = score(cluster_env, source, f"{tmp_path / 'parts'}/")
    assert code == 0, stderr[-3000:]

    # then every partition ran as its own task, and both workers took some (as recorded)
    assert single["partitions"] is None
    for summary in (spread, folder):
        partitions = summary["partitions"]
        assert [p["index"] for p in partitions] == list(range(10))
        assert sum(p["rows"] for p in partitions) == 4000
        assert {p["worker"] for p in partitions} == {"dask-a", "dask-b"}

    # and the outputs are the single machine's, row for row, prices identical
    expected = pd.read_parquet(tmp_path / "single.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "cluster.parquet"), expected)
    manifest = storage.read_manifest(f"{tmp_path / 'parts'}/")
    assert manifest.rows == 4000 and len(manifest.parts) == 10
    parts = pd.concat(list(storage.read_chunks(f"{tmp_path / 'parts'}/", 4000)))
    pd.testing.assert_frame_equal(parts.reset_index(drop=True), expected)
    assert nothing_but(tmp_path, "in.csv", "single.parquet", "cluster.parquet") == sorted(
        ["parts", "parts/_manifest.json", "parts/_runs", f"parts/_runs/{manifest.run_id}"]
        + [f"parts/{p.path}" for p in manifest.parts]
    )  # no staging left beside the file, no stray part in the folder

    # and the counts, the drift check and the MLflow run are those of the single machine
    for key in ("rows", "priced", "refused", "flagged", "contract", "quantiles", "drifted"):
        assert spread[key] == single[key] == folder[key], key
    assert spread["flagged"] == 2
    assert spread["metrics"] == pytest.approx(single["metrics"], rel=1e-9)
    runs = {r.info.run_id: r for r in scoring_runs(registry.env)}
    one, other = runs[single["mlflow_run_id"]], runs[spread["mlflow_run_id"]]
    assert one.info.status == other.info.status == "FINISHED"
    assert set(one.data.metrics) == set(other.data.metrics)
    for name, value in one.data.metrics.items():
        if name not in ("seconds", "rows_per_second"):
            assert other.data.metrics[name] == pytest.approx(value, rel=1e-9), name


def test_a_worker_killed_mid_scoring_leaves_the_other_completing_the_whole_output(
    registry: Registry, own_cluster: DaskCluster, tmp_path: Path
) -> None:
    source = sample(registry, 6000, tmp_path)
    destination = tmp_path / "out"
    log = tmp_path / "scoring.log"
    process = start_scoring(
        on_cluster(registry.env, own_cluster.address), source, f"{destination}/", log
    )
    try:
        wait_until_processing_on(own_cluster, "dask-b", process, log)
        os.killpg(own_cluster.workers["dask-b"].pid, signal.SIGKILL)  # a lost host, mid-partition
        assert process.wait(timeout=240) == 0, log.read_text()[-4000:]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert own_cluster.worker_names() == ["dask-a"]

    # the scoring completed on the survivor: the whole output, once, and no stray part
    summary = json.loads(log.read_text().strip().splitlines()[-1])
    assert summary["rows"] == summary["priced"] == 6000
    assert summary["partitions"][-1]["worker"] == "dask-a"
    manifest = storage.read_manifest(f"{destination}/")
    assert manifest.rows == 6000 and len(manifest.parts) == 15
    out = pd.concat(list(storage.read_chunks(f"{destination}/", 6000)))
    assert len(out) == 6000 and out["predicted_median_house_value"].notna().all()
    written = sorted(p.name for p in (destination / "_runs" / manifest.run_id).iterdir())
    assert written == sorted(Path(p.path).name for p in manifest.parts)
    assert [p.name for p in (destination / "_runs").iterdir()] == [manifest.run_id]


def test_the_scheduler_lost_mid_scoring_leaves_nothing_and_a_clear_error_and_no_run_running(
    registry: Registry, own_cluster: DaskCluster, tmp_path: Path
) -> None:
    source = sample(registry, 6000, tmp_path)
    log = tmp_path / "scoring.log"
    landing = tmp_path / "landing"
    landing.mkdir()
    runs_before = {r.info.run_id for r in scoring_runs(registry.env)}
    process = start_scoring(
        on_cluster(registry.env, own_cluster.address), source, str(landing / "out.parquet"), log
    )
    try:
        wait_until_processing_on(own_cluster, "dask-a", process, log)
        os.killpg(own_cluster.scheduler.pid, signal.SIGKILL)
        assert process.wait(timeout=240) == 1, log.read_text()[-4000:]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)

    text = log.read_text()
    assert "failed on the Dask cluster at " + own_cluster.address in text, text[-4000:]
    assert "nothing written" in text
    assert nothing_but(landing) == [], "an output or a part was left"
    new = [r for r in scoring_runs(registry.env) if r.info.run_id not in runs_before]
    assert [r.info.status for r in new if r.info.status == "RUNNING"] == []


def test_with_refusal_set_the_workers_refuse_the_rows_that_break_the_contract_as_one_machine(
    registry: Registry, dask_cluster: DaskCluster, tmp_path: Path
) -> None:
    # given 4,000 rows whose first and last partitions each hold a row breaking the contract,
    # and the setting that refuses such rows rather than flagging them
    source = sample(registry, 4000, tmp_path)
    refusing = registry.env.with_(HOUSING_SCORING__INVALID_ROWS="refuse")

    # when they are scored on one machine, then on the cluster
    code, single, stderr = score(refusing, source, str(tmp_path / "single.parquet"))
    assert code == 0, stderr[-3000:]
    env = on_cluster(refusing, dask_cluster.address)
    code, spread, stderr = score(env, source, str(tmp_path / "cluster.parquet"))
    assert code == 0, stderr[-3000:]

    # then the workers applied the setting: the two rows refused, named by rule, not priced
    assert spread["refused"] == single["refused"] == 2
    assert spread["flagged"] == single["flagged"] == 0
    assert spread["priced"] == 3998
    assert spread["contract"] == single["contract"]
    assert any("median_income" in rule for rule in spread["contract"]), spread["contract"]
    assert any("ocean_proximity" in rule for rule in spread["contract"]), spread["contract"]
    expected = pd.read_parquet(tmp_path / "single.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "cluster.parquet"), expected)
