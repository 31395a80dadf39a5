"""Least privilege: every process that unpickles a registered version holds no credential.

The three kinds are started for real, from an environment full of credentials: housing-serve's
workers, promotion's score jobs (`python -m flows.promotion`) and batch scoring's version
processes (`python -m flows.scoring`). A watcher reads `/proc/<pid>/environ` of each such
process among this test's descendants while it lives: no credential's name or value is there,
only the allow-listed basics (`housing_core.isolation.environments.child_environment`).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd
import pytest

from housing_core.data.contract import FEATURE_COLUMNS
from housing_core.isolation.environments import INHERITED
from housing_core.isolation.jobs import SCORE_JOB
from housing_core.isolation.streaming import BATCH_JOB
from housing_core.serving.workers import WORKER
from tests import servers
from tests.conftest import FlowEnv, make_flow_env, run_module, run_training
from tests.flows.conftest import run_promotion

pytestmark = [pytest.mark.servers, pytest.mark.timeout(420)]

# credentials a flow's or server's environment holds on a team, each with a value that cannot
# occur by chance; all harmless against the tests' servers (no auth, local artifacts)
SECRETS = {
    "MLFLOW_TRACKING_USERNAME": "trainer-lp-5e1f",
    "MLFLOW_TRACKING_PASSWORD": "mlflow-pw-9c2a71d0",
    "MLFLOW_TRACKING_TOKEN": "mlflow-token-41b7e2",
    "AWS_ACCESS_KEY_ID": "AKIALEASTPRIV0001",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-3f0d9b6e",
    "AWS_SESSION_TOKEN": "aws-session-77c1",
    "PREFECT_API_AUTH_STRING": "admin:prefect-auth-c0ffee12",
    "PREFECT_API_KEY": "pnu_leastpriv0b5e",
    "HOUSING_SWEEP__STORAGE": "postgresql://optuna:sweep-pw-a4e9@127.0.0.1:1/optuna",
    "HOUSING_SERVICE_API_KEY": "api-key-6d8e0f13",
}
# the lock URL is read by cached steps, so only housing-serve (which has none) is given one
LOCK_URL = {"HOUSING_CACHE__LOCK_URL": "redis://locker:redis-pw-be71@127.0.0.1:1/0"}
ALLOWED = {*INHERITED, "PROMETHEUS_MULTIPROC_DIR"}


def _ppid(pid: str) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[1]


def _descendants(root: int) -> list[str]:
    pids = [entry.name for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    parents = {pid: _ppid(pid) for pid in pids}
    found: list[str] = []
    frontier = {str(root)}
    while frontier:
        children = {pid for pid, parent in parents.items() if parent in frontier}
        found += children
        frontier = children
    return found


class Watcher:
    """Reads, every 20 ms, the environment of each descendant whose command runs `script`."""

    def __init__(self, *scripts: Path) -> None:
        self.scripts = [str(script) for script in scripts]
        self.seen: dict[str, dict[str, str]] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self.stop.wait(0.02):
            self.sample()

    def sample(self) -> None:
        for pid in _descendants(os.getpid()):
            if pid in self.seen:
                continue
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if not any(s.encode() in command for s in self.scripts):
                    continue
                raw = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:  # it ended meanwhile
                continue
            pairs = (item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)
            self.seen[pid] = dict(pairs)

    @contextmanager
    def running(self) -> Iterator[Watcher]:
        self.thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            self.thread.join()


def assert_holds_no_credential(seen: dict[str, dict[str, str]], kind: str) -> None:
    assert seen, f"no {kind} process was seen"
    for pid, environ in seen.items():
        assert "PATH" in environ, f"{kind} {pid}: its environment was not read: {environ}"
        extra = sorted(set(environ) - ALLOWED)
        assert extra == [], f"{kind} {pid} holds variables beyond the allow-list: {extra}"
        text = "\0".join(f"{k}={v}" for k, v in environ.items())
        leaked = [name for name, value in {**SECRETS, **LOCK_URL}.items() if value in text]
        assert leaked == [], f"{kind} {pid} holds {leaked}"


@pytest.fixture(scope="module")
def registered(
    tmp_path_factory: pytest.TempPathFactory,
    data_source: str,
    mlflow_server: servers.Server,
    prefect_server: servers.Server,
) -> FlowEnv:
    env = make_flow_env(
        tmp_path_factory.mktemp("least-privilege"), data_source, mlflow_server, prefect_server
    )
    assert run_training(env).summary["registered_version"] == "1"
    return env.with_(**SECRETS)


def test_promotions_score_jobs_hold_no_credential(registered: FlowEnv) -> None:
    # when a promotion scores the candidate in its own process, from an environment of secrets
    with Watcher(SCORE_JOB).running() as watcher:
        done = run_promotion(registered)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.summary["after"] == "1"

    # then the score job saw none of them
    assert_holds_no_credential(watcher.seen, "score job")


def test_housing_serves_workers_hold_no_credential(
    registered: FlowEnv, tmp_path: Path, data_source: str
) -> None:
    # given housing-serve started with every credential and a lock URL in its environment
    env = {**registered.env, **LOCK_URL}
    server = servers.start_housing_serve(
        env, tmp_path / "serve.log", "--pin", "1", "--workers", "2"
    )
    try:
        # when it serves
        watcher = Watcher(WORKER)
        watcher.sample()
        rows = pd.read_csv(data_source).head(2)[list(FEATURE_COLUMNS)]
        answer = httpx.post(
            f"{server.url}/invocations",
            json={"dataframe_records": rows.to_dict("records")},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
    finally:
        server.stop()

    # then its workers hold none of them, and there are as many as it was asked for
    assert len(watcher.seen) == 2, watcher.seen.keys()
    assert_holds_no_credential(watcher.seen, "serving worker")


def test_batch_scorings_version_processes_hold_no_credential(
    registered: FlowEnv, tmp_path: Path, data_source: str
) -> None:
    # given a file to score and every credential in the scorer's environment
    source = tmp_path / "rows.csv"
    pd.read_csv(data_source).head(3000).to_csv(source, index=False)
    destination = tmp_path / "scored.parquet"

    # when batch scoring prices it with the production version's own processes
    with Watcher(BATCH_JOB).running() as watcher:
        done = run_module(
            "flows.scoring",
            registered,
            *("--source", str(source), "--destination", str(destination), "--version", "1"),
        )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["rows"] == 3000

    # then those processes held none of them
    assert_holds_no_credential(watcher.seen, "batch scoring process")
