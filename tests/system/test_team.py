"""The team profile end to end: PostgreSQL, an S3 store, Redis, MLflow and Prefect with auth,
and two workers that share no disk, each in its own copy of the project.

One module-scoped stack (`tests/team.py`), the tests in order:
1. `housing-training/adhoc` on worker A: a version, its files in the bucket, rows in SQL.
2. Worker A stops; the same run on worker B reads every step's result from the bucket.
3. Two identical new runs start together on A and B: one trains, one version.
4. Two releases at once on A and B: one moves `production`, the other decides against;
   housing-serve as `reader` serves it; 401s and 403s.
   Then batch scoring, a drift check and a sweep run on the workers.
5. No secret is in a log, an artifact, a deployment, a flow run's parameters, MLflow (params,
   tags, text files of every experiment's runs) or the stack's log files.
6. A Prefect restart while a lease is held: the lease survives and frees its slot. Then
   PostgreSQL restarts, idle and during a training: both servers reconnect, nothing is lost.
   Five trainings at once on the two workers: all complete, five versions, no lock error.
7. Everything stops, and nothing of the stack is left running.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pandas as pd
import psycopg
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from deployments import bootstrap, services
from housing_core.data.contract import FEATURE_COLUMNS
from housing_core.serving.workers import WORKER
from tests.conftest import REPO, copy_checkout
from tests.servers import BIN, Server, start_housing_serve, start_spec
from tests.system.test_least_privilege import Watcher, assert_holds_no_credential
from tests.team import TeamStack, start_team_stack

pytestmark = [pytest.mark.servers, pytest.mark.system]

MODEL = "housing_price_predictor"
# geo and neighbour features make a forest of 60 trees take seconds, long enough for two runs
# started together to overlap in train-model
SLOW = {
    "family": "random_forest",
    "n_estimators": 60,
    "max_depth": 10,
    "features": {"geo": True, "neighbours": True},
}
SMALL = {"family": "random_forest", "n_estimators": 20, "max_depth": 12}
DATA_STEPS = ("load-housing-data", "validate-housing-data", "split-housing-data")
TRAINING_STEPS = (*DATA_STEPS, "train-model", "evaluate-model")


@dataclass
class Team:
    stack: TeamStack
    base: dict[str, str]
    workers: dict[str, Server] = field(default_factory=dict)
    folders: dict[str, Path] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    flow_runs: dict[str, str] = field(default_factory=dict)

    def client_env(self, user: str = "trainer") -> dict[str, str]:
        return {**self.base, **self.stack.endpoints(user).client_env()}

    def start_worker(self, name: str) -> Server:
        """Worker `name` in its own copy of the project, with its own PREFECT_HOME."""
        folder = self.folders[name]
        env = {**self.client_env(), "PREFECT_HOME": str(folder / "prefect-home")}
        spec = services.worker(f"worker-{name}", env, folder, queues=("default", name))
        self.workers[name] = start_spec(spec, folder / "worker.log", base={})
        return self.workers[name]

    def worker_log(self, name: str) -> str:
        return (self.folders[name] / "worker.log").read_text(errors="replace")


def prefect_api(team: Team, auth: bool = True) -> httpx.Client:
    headers = {}
    if auth:
        token = base64.b64encode(team.stack.prefect_auth.encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    return httpx.Client(base_url=team.stack.prefect_api, headers=headers, timeout=30)


def mlflow_as(team: Team, user: str | None) -> MlflowClient:
    """An MLflow client with `user`'s credentials (None: none at all)."""
    os.environ.pop("MLFLOW_TRACKING_USERNAME", None)
    os.environ.pop("MLFLOW_TRACKING_PASSWORD", None)
    if user is not None:
        os.environ["MLFLOW_TRACKING_USERNAME"] = user
        os.environ["MLFLOW_TRACKING_PASSWORD"] = team.stack.passwords[user]
    uri = team.stack.tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, data_source: str) -> Iterator[Team]:
    root = tmp_path_factory.mktemp("team")
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HOUSING_", "MLFLOW_", "PREFECT_", "AWS_"))
    }
    base.update(
        {
            "HOUSING_DATA__SOURCE": data_source,
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_LOGGING_LEVEL": "INFO",
        }
    )
    started = time.monotonic()
    stack = start_team_stack(root, base)
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}
    try:
        team = Team(stack, base)
        bootstrap.ensure_work_pool(team.client_env())
        bootstrap.deploy_all(team.client_env())
        for queue in ("a", "b"):  # a worker polling a missing queue finds nothing, silently
            subprocess.run(
                [str(BIN / "prefect"), "work-queue", "create", queue, "--pool", "housing"],
                env=team.client_env(),
                check=True,
                capture_output=True,
            )
        team.timings["stack up"] = time.monotonic() - started
        for name in ("a", "b"):
            team.folders[name] = copy_checkout(root / f"worker-{name}")
        yield team
    finally:
        for worker in team.workers.values():
            worker.stop()
        stack.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        print("team timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in team.timings.items()))


def run_deployment(team: Team, name: str, *params: str) -> tuple[str, float]:
    """`prefect deployment run NAME --param ... --watch` as the trainer; id and seconds."""
    started = time.monotonic()
    command = [str(BIN / "prefect"), "deployment", "run", name, "--watch", "--watch-timeout", "240"]
    for param in params:
        command += ["--param", param]
    done = subprocess.run(
        command, env=team.client_env(), cwd=REPO, capture_output=True, text=True, timeout=300
    )
    logs = {n: team.worker_log(n)[-3000:] for n in team.workers}
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}\nworkers:\n{logs}"
    match = re.search(r"UUID:\s*([0-9a-f-]{36})", done.stdout)
    assert match, done.stdout
    return match.group(1), time.monotonic() - started


def run_time(team: Team, flow_run_id: str) -> float:
    """The flow run's own duration, Running to Completed, as Prefect measured it."""
    with prefect_api(team) as api:
        return float(api.get(f"/flow_runs/{flow_run_id}").json()["total_run_time"])


def task_states(team: Team, flow_run_id: str) -> dict[str, dict[str, Any]]:
    """Task name (without its suffix) -> the task run, read from the API."""
    with prefect_api(team) as api:
        runs = api.post(
            "/task_runs/filter", json={"flow_runs": {"id": {"any_": [flow_run_id]}}}
        ).json()
    return {run["name"].rsplit("-", 1)[0]: run for run in runs}


def state_names(team: Team, flow_run_id: str) -> dict[str, str]:
    return {name: run["state"]["name"] for name, run in task_states(team, flow_run_id).items()}


def sql(team: Team, database: str, query: str, *args: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(team.stack.database_url(database)) as connection:
        return connection.execute(query, args).fetchall()


def bucket_keys(team: Team, bucket: str) -> list[str]:
    store = team.stack.store
    s3 = boto3.client(
        "s3",
        endpoint_url=store.endpoint,
        aws_access_key_id=store.access_key,
        aws_secret_access_key=store.secret_key,
        region_name="us-east-1",
    )
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def registered_versions(team: Team, flow_run_id: str) -> list[str]:
    """Versions whose MLflow run carries this flow run's training (by the run's tag)."""
    client = mlflow_as(team, "reader")
    experiment = client.get_experiment_by_name("housing_price_prediction")
    runs = client.search_runs(
        [experiment.experiment_id], f"tags.`prefect.flow_run_id` = '{flow_run_id}'"
    )
    return [
        v.version
        for run in runs
        for v in client.search_model_versions(f"name = '{MODEL}' and run_id = '{run.info.run_id}'")
    ]


def test_1_training_on_worker_a_lands_in_postgres_and_the_bucket(team: Team) -> None:
    team.start_worker("a")

    # when the ad hoc training runs (only worker A is up)
    flow_run_id, seconds = run_deployment(
        team, "housing-training/adhoc", f"model={json.dumps(SMALL)}"
    )
    team.timings["training on A"] = seconds
    team.timings["its flow run"] = run_time(team, flow_run_id)
    team.flow_runs["first"] = flow_run_id

    # then worker A ran it, every step computed
    assert flow_run_id in team.worker_log("a")
    states = state_names(team, flow_run_id)
    assert all(states[step] == "Completed" for step in TRAINING_STEPS), states

    # and Prefect's rows are in PostgreSQL
    (row,) = sql(
        team, "prefect", "SELECT state_type, name FROM flow_run WHERE id = %s", flow_run_id
    )
    assert row[0] == "COMPLETED"
    assert row[1].startswith("random-forest-n20-d12-")

    # and MLflow's run and version rows are in PostgreSQL
    (version,) = registered_versions(team, flow_run_id)
    rows = sql(
        team,
        "mlflow",
        "SELECT v.version, v.run_id, r.status FROM model_versions v JOIN runs r"
        " ON r.run_uuid = v.run_id WHERE v.name = %s",
        MODEL,
    )
    assert [(str(v), status) for v, _, status in rows] == [(version, "FINISHED")]

    # and the model's files are in the bucket, listed through the S3 API
    source = mlflow_as(team, "reader").get_model_version(MODEL, version).source
    model_id = source.rsplit("/", 1)[-1]
    files = [k for k in bucket_keys(team, services.MLFLOW_BUCKET) if f"/{model_id}/" in k]
    assert any(k.endswith("/MLmodel") for k in files), files
    assert any(k.endswith(("model.pkl", "model.skops")) for k in files), files

    # and the task results are in the results bucket, none on worker A's disk
    assert len(bucket_keys(team, services.RESULTS_BUCKET)) >= len(TRAINING_STEPS)
    assert not result_folders(team.folders["a"]), "results written on worker A's disk"


def test_2_the_same_run_on_worker_b_reads_every_step_from_the_bucket(team: Team) -> None:
    # given worker A is gone and worker B, in its own folder, takes over
    team.workers.pop("a").stop()
    team.start_worker("b")
    versions_before = sql(team, "mlflow", "SELECT count(*) FROM model_versions")

    # when the same training runs again
    flow_run_id, seconds = run_deployment(
        team, "housing-training/adhoc", f"model={json.dumps(SMALL)}"
    )
    team.timings["cached re-run on B"] = seconds
    team.timings["its flow run "] = run_time(team, flow_run_id)

    # then B ran it, and every data and training step came from the cache
    assert flow_run_id in team.worker_log("b")
    states = state_names(team, flow_run_id)
    assert {step: states[step] for step in TRAINING_STEPS} == dict.fromkeys(
        TRAINING_STEPS, "Cached"
    )
    # and nothing new was registered: the run found the training it repeats
    assert sql(team, "mlflow", "SELECT count(*) FROM model_versions") == versions_before
    assert not result_folders(team.folders["b"]), "results written on worker B's disk"


def test_3_two_identical_runs_started_together_train_once(team: Team) -> None:
    team.start_worker("a")  # both workers up; each polls its own queue as well as default
    with prefect_api(team) as api:
        deployment = api.get("/deployments/name/housing-training/adhoc").json()
        ids = {
            queue: api.post(
                f"/deployments/{deployment['id']}/create_flow_run",
                json={"parameters": {"model": SLOW}, "work_queue_name": queue},
            ).json()["id"]
            for queue in ("a", "b")
        }
        final = wait_final(api, list(ids.values()), timeout_s=300)
    assert set(final.values()) == {"COMPLETED"}, final
    assert ids["a"] in team.worker_log("a") and ids["b"] in team.worker_log("b")

    # then the two runs were in train-model at the same time, and one of them trained
    train = {queue: task_states(team, ids[queue])["train-model"] for queue in ids}
    names = sorted(run["state"]["name"] for run in train.values())
    assert names == ["Cached", "Completed"], train
    trained = next(run for run in train.values() if run["state"]["name"] == "Completed")
    waited = next(run for run in train.values() if run["state"]["name"] == "Cached")
    assert waited["created"] < trained["end_time"], "the runs did not overlap in train-model"

    # and one version holds that training
    versions = registered_versions(team, ids["a"]) + registered_versions(team, ids["b"])
    assert len(versions) == 1, versions


def wait_final(api: httpx.Client, ids: list[str], timeout_s: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        states = {i: api.get(f"/flow_runs/{i}").json()["state"]["type"] for i in ids}
        if all(s in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"} for s in states.values()):
            return states
        time.sleep(2)
    raise AssertionError(f"flow runs not final after {timeout_s:.0f} s: {states}")


def test_4_release_then_serve_as_reader_and_what_auth_refuses(
    team: Team, data_source: str, tmp_path: Path
) -> None:
    # when two releases are started at the same moment, one on each worker
    with prefect_api(team) as api:
        deployment = api.get("/deployments/name/housing-promotion/release").json()
        ids = {
            queue: api.post(
                f"/deployments/{deployment['id']}/create_flow_run",
                json={"work_queue_name": queue},
            ).json()["id"]
            for queue in ("a", "b")
        }
        final = wait_final(api, list(ids.values()), timeout_s=300)
        headlines = {
            queue: " ".join(
                a["description"] or ""
                for a in api.post(
                    "/artifacts/filter",
                    json={"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}},
                ).json()
            )
            for queue, flow_run_id in ids.items()
        }
    production = mlflow_as(team, "reader").get_registered_model(MODEL).aliases["production"]

    # then both records complete, each on its own worker: exactly one moved the alias, the
    # other found the new production and decided against moving it
    assert set(final.values()) == {"COMPLETED"}, final
    assert ids["a"] in team.worker_log("a") and ids["b"] in team.worker_log("b")
    moved = [q for q, text in headlines.items() if "production moved" in text]
    stayed = [q for q, text in headlines.items() if f"production stays on v{production}" in text]
    assert len(moved) == 1 and len(stayed) == 1, headlines
    assert f"to v{production}" in headlines[moved[0]]

    # then housing-serve, with the reader's credentials only, serves that version
    env = {**team.base, "MLFLOW_TRACKING_URI": team.stack.tracking_uri}
    env["MLFLOW_TRACKING_USERNAME"] = "reader"
    env["MLFLOW_TRACKING_PASSWORD"] = team.stack.passwords["reader"]
    server = start_housing_serve(env, tmp_path / "serve.log", "--poll-interval", "0")
    try:
        # and its workers hold neither the reader's password nor any other credential
        watcher = Watcher(WORKER)
        watcher.sample()
        assert_holds_no_credential(watcher.seen, "serving worker")
        assert all(
            team.stack.passwords["reader"] not in "".join(e.values()) for e in watcher.seen.values()
        )
        rows = pd.read_csv(data_source).head(3)[list(FEATURE_COLUMNS)]
        response = httpx.post(
            f"{server.url}/invocations",
            json={"dataframe_records": rows.to_dict("records")},
            timeout=60,
        )
    finally:
        server.stop()
    assert response.status_code == 200, response.text
    assert response.headers["x-model-version"] == production
    assert len(response.json()["predictions"]) == 3

    # and MLflow refuses a client without credentials (401)
    anonymous = httpx.get(
        f"{team.stack.tracking_uri}/api/2.0/mlflow/registered-models/get", params={"name": MODEL}
    )
    assert anonymous.status_code == 401

    # and the reader may not move the alias (403), which stays where it was
    with pytest.raises(MlflowException, match="403") as refused:
        mlflow_as(team, "reader").set_registered_model_alias(MODEL, "production", "1")
    assert refused.value.error_code == "PERMISSION_DENIED"
    assert mlflow_as(team, "reader").get_registered_model(MODEL).aliases["production"] == production

    # nor register a version, nor tag a version or the model (403), and nothing changed
    reader = mlflow_as(team, "reader")
    before = reader.search_model_versions(f"name='{MODEL}'")
    source = reader.get_model_version(MODEL, production).source
    attempts = {
        "register": lambda: reader.create_model_version(MODEL, source),
        "tag a version": lambda: reader.set_model_version_tag(MODEL, production, "x", "y"),
        "tag the model": lambda: reader.set_registered_model_tag(MODEL, "x", "y"),
        "delete the alias": lambda: reader.delete_registered_model_alias(MODEL, "production"),
    }
    for what, attempt in attempts.items():
        with pytest.raises(MlflowException, match="403") as refused:
            attempt()
        assert refused.value.error_code == "PERMISSION_DENIED", what
    after = reader.search_model_versions(f"name='{MODEL}'")
    assert sorted((v.version, v.tags.get("x")) for v in after) == sorted(
        (v.version, v.tags.get("x")) for v in before
    )
    model = reader.get_registered_model(MODEL)
    assert "x" not in model.tags and model.aliases["production"] == production

    # and Prefect refuses a client without the auth string (401)
    with prefect_api(team, auth=False) as api:
        assert api.post("/flow_runs/filter", json={}).status_code == 401
    with prefect_api(team) as api:
        assert api.post("/flow_runs/filter", json={"limit": 1}).status_code == 200


def test_4b_batch_scoring_drift_and_a_sweep_run_on_the_workers(
    team: Team, data_source: str
) -> None:
    # the rest of the cycle on the team profile, so that test 5 finds what they leave behind
    destination = f"s3://{services.RESULTS_BUCKET}/team-scored/"
    scored, _ = run_deployment(
        team,
        "housing-scoring/batch",
        f"source={data_source}",
        f"destination={destination}",
    )
    drift, _ = run_deployment(team, "housing-drift/check", f"source={data_source}")
    sweep, _ = run_deployment(
        team,
        "housing-sweep/search",
        "trials=2",
        "parallelism=1",
        "space=random_forest",
        "register_best=false",
    )
    with prefect_api(team) as api:
        states = {
            i: api.get(f"/flow_runs/{i}").json()["state"]["type"] for i in (scored, drift, sweep)
        }
    assert set(states.values()) == {"COMPLETED"}, states
    assert any(k.startswith("team-scored/") for k in bucket_keys(team, services.RESULTS_BUCKET))
    reader = mlflow_as(team, "reader")
    for experiment in ("housing_batch_scoring", "housing_drift", "housing_sweeps"):
        found = reader.get_experiment_by_name(experiment)
        assert found is not None, experiment
        assert reader.search_runs([found.experiment_id]), experiment
    team.flow_runs.update({"scoring": scored, "drift": drift, "sweep": sweep})


def test_5_no_secret_is_in_logs_artifacts_deployments_or_mlflow(team: Team, tmp_path: Path) -> None:
    secret_values = [
        team.stack.passwords["trainer"],
        team.stack.passwords["reader"],
        team.stack.passwords["admin"],
        team.stack.prefect_auth.split(":", 1)[1],
        team.stack.auth.secret_key,
    ]
    # s3rver takes one fixed pair, S3RVER/S3RVER: its "secret" is also the public access key
    # id, which may be named anywhere; a real store's key is scanned for
    if team.stack.store.secret_key != team.stack.store.access_key:
        secret_values.append(team.stack.store.secret_key)
    # everything the cycle so far (train, release, serve, batch-score, drift, sweep) left in
    # Prefect: every log, artifact, flow run (its parameters) and deployment (its job variables)
    seen: list[str] = []
    with prefect_api(team) as api:
        for path in ("/logs/filter", "/artifacts/filter", "/flow_runs/filter"):
            offset = 0
            while True:
                page = api.post(path, json={"limit": 200, "offset": offset})
                page.raise_for_status()
                seen.append(page.text)
                if len(page.json()) < 200:
                    break
                offset += 200
        seen.append(api.post("/deployments/filter", json={}).text)
        seen.append(api.post("/automations/filter", json={}).text)
    # every MLflow experiment's runs: params, tags and their text files (reports, tables, the
    # model's MLmodel and requirements)
    client = mlflow_as(team, "reader")
    texts = 0
    for experiment in client.search_experiments():
        for run in client.search_runs([experiment.experiment_id]):
            seen.append(json.dumps({"params": run.data.params, "tags": run.data.tags}))
            for path in _text_artifacts(client, run.info.run_id):
                local = client.download_artifacts(run.info.run_id, path, str(tmp_path))
                seen.append(Path(local).read_text(errors="replace"))
                texts += 1
    # the workers' logs, the stack's own log files, and what the repository deploys
    seen += [team.worker_log(name) for name in team.folders]
    seen += [log.read_text(errors="replace") for log in team.stack.root.glob("*.log")]
    seen.append((REPO / "prefect.yaml").read_text())

    assert sum("log-and-register" in text for text in seen) > 0  # the logs were read
    assert sum("sweep-trial" in text for text in seen) > 0  # and the sweep's
    assert texts >= 10  # the runs' files were read
    leaked = [value[:4] + "..." for value in secret_values if any(value in t for t in seen)]
    assert leaked == []


def _text_artifacts(client: MlflowClient, run_id: str, path: str | None = None) -> list[str]:
    """The run's artifact files that are text (by their ending), at any depth."""
    found: list[str] = []
    for item in client.list_artifacts(run_id, path):
        if item.is_dir:
            found += _text_artifacts(client, run_id, item.path)
        elif item.path.endswith((".json", ".csv", ".md", ".txt", ".yaml", "MLmodel")):
            found.append(item.path)
    return found


def test_6_a_lease_outlives_a_prefect_restart(team: Team) -> None:
    # given a slot of a one-slot limit held under a lease
    with prefect_api(team) as api:
        api.post("/v2/concurrency_limits/", json={"name": "team-test-lock", "limit": 1})
        lease = api.post(
            "/v2/concurrency_limits/increment-with-lease",
            json={
                "names": ["team-test-lock"],
                "slots": 1,
                "mode": "concurrency",
                "lease_duration": 120,
            },
        )
        assert lease.status_code == 200, lease.text
        lease_id = lease.json()["lease_id"]

    # when the Prefect server restarts (same database, same port)
    team.stack.servers.pop("prefect").stop()
    team.stack.start_prefect(team.base)

    # then the holder can still renew and release its lease, and the slot is free again
    with prefect_api(team) as api:
        assert api.get("/v2/concurrency_limits/team-test-lock").json()["active_slots"] == 1
        renewed = api.post(
            f"/v2/concurrency_limits/leases/{lease_id}/renew", json={"lease_duration": 60}
        )
        assert renewed.status_code == 204, renewed.text
        api.post("/v2/concurrency_limits/decrement-with-lease", json={"lease_id": lease_id})
        assert api.get("/v2/concurrency_limits/team-test-lock").json()["active_slots"] == 0


def _answering(team: Team, timeout_s: float = 90) -> float:
    """Seconds until both servers answer reads again (each reconnects to PostgreSQL)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        try:
            with prefect_api(team) as api:
                prefect_ok = api.post("/flow_runs/filter", json={"limit": 1}).status_code == 200
            mlflow_as(team, "reader").search_registered_models()
            if prefect_ok:
                return time.monotonic() - started
        except (httpx.HTTPError, MlflowException):
            pass
        time.sleep(0.5)
    raise AssertionError(f"the servers did not answer within {timeout_s:.0f} s of the restart")


def _flow_run_state(team: Team, flow_run_id: str, timeout_s: float = 300) -> dict[str, Any]:
    """The run's final state, polling through the API's errors while the database is away."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with prefect_api(team) as api:
                state = api.get(f"/flow_runs/{flow_run_id}").json()["state"]
            if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                return dict(state)
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(1)
    raise AssertionError(f"flow run {flow_run_id} not final within {timeout_s:.0f} s")


def test_6b_postgresql_restarted_idle_then_mid_run_loses_nothing(team: Team) -> None:
    reader = mlflow_as(team, "reader")
    versions_before = {v.version for v in reader.search_model_versions(f"name = '{MODEL}'")}
    with prefect_api(team) as api:
        runs_before = {r["id"] for r in api.post("/flow_runs/filter", json={}).json()}
        adhoc = api.get("/deployments/name/housing-training/adhoc").json()

    # when PostgreSQL restarts while nothing runs
    down = team.stack.restart_postgres(team.base)
    back = _answering(team)

    # then both servers answer again, holding what they held
    reader = mlflow_as(team, "reader")
    assert {v.version for v in reader.search_model_versions(f"name = '{MODEL}'")} == versions_before
    with prefect_api(team) as api:
        assert {r["id"] for r in api.post("/flow_runs/filter", json={}).json()} >= runs_before

    # when it restarts again while a training runs on a worker
    model = {"family": "random_forest", "n_estimators": 25, "max_depth": 9}
    with prefect_api(team) as api:
        created = api.post(
            f"/deployments/{adhoc['id']}/create_flow_run", json={"parameters": {"model": model}}
        )
        assert created.status_code == 201, created.text
        flow_run_id = created.json()["id"]
        deadline = time.monotonic() + 120
        while api.get(f"/flow_runs/{flow_run_id}").json()["state"]["type"] != "RUNNING":
            assert time.monotonic() < deadline, "the training never started"
            time.sleep(0.5)
    mid_down = team.stack.restart_postgres(team.base)
    state = _flow_run_state(team, flow_run_id)
    if state["type"] != "COMPLETED":  # failed cleanly: the re-run must then complete
        flow_run_id, _ = run_deployment(
            team, "housing-training/adhoc", f"model={json.dumps(model)}"
        )
    team.timings["postgres down idle"], team.timings["postgres down mid-run"] = down, mid_down
    print(
        f"\npostgres down {down:.1f} s idle (servers back {back:.1f} s later), {mid_down:.1f} s "
        f"mid-run: the run ended {state['type']}"
    )

    # then the training's version is registered once, no MLflow run is left RUNNING, and
    # every version and flow run from before is still there
    reader = mlflow_as(team, "reader")
    versions = {v.version for v in reader.search_model_versions(f"name = '{MODEL}'")}
    assert versions_before < versions and len(registered_versions(team, flow_run_id)) == 1
    experiment = reader.get_experiment_by_name("housing_price_prediction")
    running = reader.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'")
    assert running == [], [r.info.run_id for r in running]
    with prefect_api(team) as api:
        assert {r["id"] for r in api.post("/flow_runs/filter", json={}).json()} >= runs_before


def test_6c_five_trainings_at_once_on_two_workers_all_register(team: Team) -> None:
    # given both workers up, and five configurations never trained before
    for name in ("a", "b"):
        if name not in team.workers or not team.workers[name].alive():
            team.start_worker(name)
    configurations = [
        {"family": "random_forest", "n_estimators": n, "max_depth": 8} for n in range(11, 16)
    ]
    logs_before = {name: len(team.worker_log(name)) for name in ("a", "b")}

    # when all five are asked for at once
    started = time.monotonic()
    with prefect_api(team) as api:
        deployment = api.get("/deployments/name/housing-training/adhoc").json()
        ids = [
            api.post(
                f"/deployments/{deployment['id']}/create_flow_run",
                json={"parameters": {"model": model}},
            ).json()["id"]
            for model in configurations
        ]
        final = wait_final(api, ids, timeout_s=300)
    seconds = time.monotonic() - started

    # then all complete, each with a version of its own, and no lock error anywhere
    assert set(final.values()) == {"COMPLETED"}, final
    versions = [registered_versions(team, flow_run_id) for flow_run_id in ids]
    assert all(len(v) == 1 for v in versions), versions
    assert len({v[0] for v in versions}) == 5
    new_logs = {n: team.worker_log(n)[logs_before[n] :] for n in ("a", "b")}
    # (a run's "View at .../flow-run/<id>" line is in the log of the worker that ran it; the
    # other may have tried to take it too, and been told it was taken)
    ran_on = {i: [n for n, text in new_logs.items() if f"flow-run/{i}" in text] for i in ids}
    assert all(len(workers) == 1 for workers in ran_on.values()), ran_on
    by_worker = {n: sum(workers == [n] for workers in ran_on.values()) for n in new_logs}
    lock_errors = ("LockError", "still held by another worker", "acquire lock", "LockTimeout")
    for text in new_logs.values():
        assert not [e for e in lock_errors if e in text], text[-3000:]
    team.timings["five trainings at once"] = seconds
    print(f"\nfive trainings at once: {seconds:.0f} s, runs per worker {by_worker}")


def test_7_everything_stops_and_nothing_is_left(team: Team) -> None:
    pids = [s.pid for s in [*team.workers.values(), *team.stack.servers.values()]]
    ports = [int(s.url.rsplit(":", 1)[1].split("/")[0]) for s in team.stack.servers.values()]
    for worker in team.workers.values():
        worker.stop()
    team.workers.clear()
    team.stack.stop()
    left = [pid for pid in pids if Path(f"/proc/{pid}").exists() and _not_zombie(pid)]
    assert left == []
    listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    assert [p for p in ports if f":{p} " in listening] == []


def _not_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def result_folders(root: Path) -> list[Path]:
    """Prefect's local result folders (`storage/`) under a worker's folder: not the
    checkout's own code or tests that share the name (housing_core/storage)."""
    return [
        p
        for p in root.rglob("storage")
        if p.is_dir() and not {"housing_core", "tests"} & set(p.relative_to(root).parts)
    ]
