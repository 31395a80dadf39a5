"""What each server of the stack runs: its command, its environment, where it answers.

One definition per server, used twice: `deployments.stack` writes them into supervisord's
configuration for an operator, and the tests' own fixtures (`tests/servers.py`) start them
as plain child processes. So the tests prove the commands an operator runs. Every server
binds 127.0.0.1 only, side ports included. Nothing here imports Prefect or MLflow.

The team profile's servers: PostgreSQL (both servers' databases), an S3-compatible object
store (MLflow artifacts, Prefect task results), Redis (cache locks, concurrency leases),
MLflow with basic auth, Prefect with an auth string. The dev profile: SQLite and local files.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG_BIN = Path(os.environ.get("HOUSING_PG_BIN", "/usr/lib/postgresql/15/bin"))
LOOPBACK = "127.0.0.1"
WORK_POOL = "housing"
# s3rver accepts exactly this key pair; a real store gets its keys from the environment
S3RVER_KEY = "S3RVER"
MLFLOW_BUCKET = "mlflow"
RESULTS_BUCKET = "prefect-results"
RESULTS_BLOCK = "s3-bucket/housing-results"
# Prefect's minimum: a flow run of a worker tells the server it is alive this often, so the
# watchdog automation (deployments/watchdog.py) can tell a lost host from a slow step
HEARTBEAT_ENV = "PREFECT_FLOWS_HEARTBEAT_FREQUENCY"
HEARTBEAT_SECONDS = 30


@dataclass(frozen=True)
class ServiceSpec:
    """One long-running process: how to start it and how to tell it is ready."""

    name: str
    command: list[str]
    url: str
    health: str  # an http(s) URL that answers 200 when ready, or tcp://host:port
    env: dict[str, str] = field(default_factory=dict)  # added to the base environment
    user: str | None = None  # run as this user (PostgreSQL refuses root)
    cwd: Path = REPO
    unset: tuple[str, ...] = ()  # names removed from the base environment
    stop_wait_s: int = 20  # after SIGTERM, how long before its process group is SIGKILLed


@dataclass(frozen=True)
class S3Store:
    """An S3-compatible endpoint and the keys that open it."""

    endpoint: str
    access_key: str
    secret_key: str

    def client_env(self) -> dict[str, str]:
        """The standard variables boto3 (and so MLflow and prefect-aws) read."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint,
        }


@dataclass(frozen=True)
class MlflowAuth:
    """Basic auth on the tracking server: the admin's password and Flask's secret key."""

    admin_password: str
    secret_key: str
    database_uri: str  # where users and permissions live
    config_path: Path  # the ini MLflow reads (written by `write_auth_config`)
    default_permission: str = "READ"


def ready(health: str) -> bool:
    """Whether a health check passes: an http(s) URL answers 200, or tcp://host:port accepts."""
    if health.startswith("tcp://"):
        host, _, port = health.removeprefix("tcp://").partition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=1):
                return True
        except OSError:
            return False
    try:
        return httpx.get(health, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# --- PostgreSQL, Redis, the object store -------------------------------------------------------


def init_postgres(root: Path) -> Path:
    """A new cluster in `root/data`, owned by `postgres` (initdb refuses root). Idempotent."""
    data = root / "data"
    if (data / "PG_VERSION").exists():
        return data
    root.mkdir(parents=True, exist_ok=True)
    shutil.chown(root, "postgres", "postgres")
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ],
        check=True,
        capture_output=True,
    )
    return data


def postgres(root: Path, port: int, durable: bool = True) -> ServiceSpec:
    """`postgres` in the foreground on loopback; its socket in `root`, not /var/run."""
    command = [
        str(PG_BIN / "postgres"),
        "-D",
        str(root / "data"),
        "-p",
        str(port),
        "-c",
        f"listen_addresses={LOOPBACK}",
        "-c",
        f"unix_socket_directories={root}",
    ]
    if not durable:  # throw-away clusters of the tests: no fsync
        command += ["-c", "fsync=off", "-c", "synchronous_commit=off"]
    return ServiceSpec(
        "postgres",
        command,
        url=f"postgresql://postgres@{LOOPBACK}:{port}",
        health=f"tcp://{LOOPBACK}:{port}",
        user="postgres",
        cwd=root,
    )


def create_databases(port: int, *names: str) -> None:
    """CREATE DATABASE each name that does not exist yet."""
    for name in names:
        exists = subprocess.run(
            [
                str(PG_BIN / "psql"),
                "-h",
                LOOPBACK,
                "-p",
                str(port),
                "-U",
                "postgres",
                "-tAc",
                f"SELECT 1 FROM pg_database WHERE datname = '{name}'",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        if not exists:
            subprocess.run(
                [str(PG_BIN / "createdb"), "-h", LOOPBACK, "-p", str(port), "-U", "postgres", name],
                check=True,
                capture_output=True,
            )


def redis(root: Path, port: int, durable: bool = True) -> ServiceSpec:
    """Redis on loopback. Durable (append-only file in `root`) so leases outlive a restart."""
    root.mkdir(parents=True, exist_ok=True)
    command = [
        shutil.which("redis-server") or "redis-server",
        "--bind",
        LOOPBACK,
        "--port",
        str(port),
        "--dir",
        str(root),
        "--save",
        "",
        "--appendonly",
        "yes" if durable else "no",
        "--protected-mode",
        "yes",
    ]
    return ServiceSpec(
        "redis",
        command,
        url=f"redis://{LOOPBACK}:{port}/0",
        health=f"tcp://{LOOPBACK}:{port}",
        cwd=root,
    )


def s3rver(root: Path, port: int, buckets: tuple[str, ...]) -> tuple[ServiceSpec, S3Store]:
    """npm's s3rver: an S3 API that keeps its objects in `root` and checks the keys."""
    root.mkdir(parents=True, exist_ok=True)
    command = [shutil.which("s3rver") or "s3rver", "-d", str(root), "-a", LOOPBACK, "-p", str(port)]
    for bucket in buckets:
        command += ["--configure-bucket", bucket]
    endpoint = f"http://{LOOPBACK}:{port}"
    # s3rver signs listing continuation tokens with DES, which Node 17+ keeps in OpenSSL's
    # legacy provider: without it every truncated listing (more keys than a page) answers 500
    env = {"NODE_OPTIONS": "--openssl-legacy-provider"}
    health = f"tcp://{LOOPBACK}:{port}"
    spec = ServiceSpec("s3", command, url=endpoint, health=health, env=env, cwd=root)
    return spec, S3Store(endpoint, S3RVER_KEY, S3RVER_KEY)


# --- Dask: a scheduler and its workers, for sweeps and large scoring --------------------------


def dask_scheduler(root: Path, port: int) -> ServiceSpec:
    """`dask scheduler` on loopback. Dask binds its dashboards to every interface unless told,
    even with --no-dashboard, and moves a dashboard whose port is taken: pinned here."""
    command = [
        str(BIN / "dask"),
        "scheduler",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--dashboard-address",
        f"{LOOPBACK}:0",
    ]
    url = f"tcp://{LOOPBACK}:{port}"
    return ServiceSpec(
        "dask-scheduler", command, url=url, health=f"tcp://{LOOPBACK}:{port}", cwd=root
    )


def dask_worker(
    name: str, scheduler: str, root: Path, nthreads: int = 1, memory_limit: str = "4GB"
) -> ServiceSpec:
    """A `dask worker` (with its nanny) on loopback, running tasks from this checkout: the
    project must be importable on every worker, as Prefect's Dask runner needs it."""
    command = [
        str(BIN / "dask"),
        "worker",
        scheduler,
        "--name",
        name,
        "--host",
        LOOPBACK,
        "--dashboard-address",
        f"{LOOPBACK}:0",
        "--nthreads",
        str(nthreads),
        "--nworkers",
        "1",
        "--memory-limit",
        memory_limit,
        "--local-directory",
        str(root / name),
    ]
    env = {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return ServiceSpec(name, command, url=scheduler, health="", env=env, cwd=REPO)


# --- MLflow and Prefect ------------------------------------------------------------------------


def write_auth_config(auth: MlflowAuth) -> Path:
    """The basic-auth ini. The admin password stays in the environment, not in this file."""
    auth.config_path.parent.mkdir(parents=True, exist_ok=True)
    auth.config_path.write_text(
        "[mlflow]\n"
        f"default_permission = {auth.default_permission}\n"
        f"database_uri = {auth.database_uri}\n"
        "admin_username = admin\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    return auth.config_path


def mlflow_server(
    root: Path,
    port: int,
    backend: str | None = None,
    artifacts: str | None = None,
    store: S3Store | None = None,
    auth: MlflowAuth | None = None,
) -> ServiceSpec:
    """One worker and no GenAI job runner: 0.5 GB and ~10 s to healthy instead of 1.9 GB/32 s.

    With `store`, artifacts go to the bucket through this server (clients need no keys);
    with `auth`, every call but /health needs a user.
    """
    root.mkdir(parents=True, exist_ok=True)
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    command = [
        str(BIN / "mlflow"),
        "server",
        "--backend-store-uri",
        backend or f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination",
        artifacts or str(root / "mlartifacts"),
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    if store is not None:
        env.update(store.client_env())
    if auth is not None:
        command += ["--app-name", "basic-auth"]
        env.update(
            {
                "MLFLOW_AUTH_CONFIG_PATH": str(auth.config_path),
                "MLFLOW_AUTH_ADMIN_PASSWORD": auth.admin_password,
                "MLFLOW_FLASK_SERVER_SECRET_KEY": auth.secret_key,
            }
        )
    url = f"http://{LOOPBACK}:{port}"
    return ServiceSpec("mlflow", command, url=url, health=f"{url}/health", env=env, cwd=root)


def prefect_server(
    home: Path,
    port: int,
    ui: bool = False,
    database: str | None = None,
    auth_string: str | None = None,
    redis_url: str | None = None,
) -> ServiceSpec:
    """The Prefect API (and UI). With `redis_url`, concurrency leases live in Redis."""
    home.mkdir(parents=True, exist_ok=True)
    url = f"http://{LOOPBACK}:{port}/api"
    env = {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": str(ui).lower(),
        # without these the UI calls the API on the default port 4200, whatever --port says
        "PREFECT_SERVER_API_HOST": LOOPBACK,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_UI_API_URL": url,
    }
    if database:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = database
    if auth_string:
        env["PREFECT_SERVER_API_AUTH_STRING"] = auth_string
    if redis_url:
        # a lease in server memory is lost on restart and its slot stays taken for good
        env["PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE"] = "prefect_redis.lease_storage"
        env["PREFECT_REDIS_MESSAGING_URL"] = redis_url
    command = [
        str(BIN / "prefect"),
        "server",
        "start",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--analytics-off",
        "--ui" if ui else "--no-ui",
    ]
    return ServiceSpec(
        "prefect",
        command,
        url=url,
        health=f"{url}/health",
        env=env,
        cwd=home,
        unset=("PREFECT_API_URL", "PREFECT_API_AUTH_STRING"),
    )


def worker(
    name: str,
    env: Mapping[str, str],
    cwd: Path,
    queues: tuple[str, ...] = (),
    pool: str = WORK_POOL,
) -> ServiceSpec:
    """A process worker of the `housing` pool, started in (and running flows from) `cwd`.

    `env` is the whole client environment of `client_env`, plus the worker's own state. Its
    flow runs inherit it, heartbeats included (every HEARTBEAT_SECONDS unless `env` says).
    """
    command = [
        str(BIN / "prefect"),
        "worker",
        "start",
        "--pool",
        pool,
        "--name",
        name,
        "--type",
        "process",
    ]
    for queue in queues:
        command += ["--work-queue", queue]
    merged = {
        HEARTBEAT_ENV: str(HEARTBEAT_SECONDS),
        **env,
        "PWD": str(cwd),
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    }
    return ServiceSpec(name, command, url=env["PREFECT_API_URL"], health="", env=merged, cwd=cwd)


def housing_serve(env: Mapping[str, str], port: int, state: Path, workers: int = 1) -> ServiceSpec:
    """`housing-serve` following `production` on 127.0.0.1:`port`.

    `env` reaches MLflow's registry and artifact store with read-only credentials (the team
    profile's `reader`); nothing of Prefect. Its SIGTERM drains for up to the drain timeout
    (30 s by default), so it is given longer than that before it is killed.
    """
    url = f"http://127.0.0.1:{port}"
    command = [str(BIN / "housing-serve"), "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers)]
    merged = {**env, "HOUSING_STATE_DIR": str(state)}
    return ServiceSpec(
        "housing-serve", command, url=url, health=f"{url}/ping", env=merged, stop_wait_s=45
    )


@dataclass(frozen=True)
class Endpoints:
    """What a client (a person's shell, a worker, a test) needs to reach the stack."""

    prefect_api: str
    tracking_uri: str
    prefect_auth: str | None = None
    mlflow_user: str | None = None
    mlflow_password: str | None = None
    store: S3Store | None = None
    lock_url: str | None = None
    results_block: str | None = None

    def client_env(self) -> dict[str, str]:
        env = {
            "PREFECT_API_URL": self.prefect_api,
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "MLFLOW_REGISTRY_URI": self.tracking_uri,
        }
        if self.prefect_auth:
            env["PREFECT_API_AUTH_STRING"] = self.prefect_auth
        if self.mlflow_user and self.mlflow_password:
            env["MLFLOW_TRACKING_USERNAME"] = self.mlflow_user
            env["MLFLOW_TRACKING_PASSWORD"] = self.mlflow_password
        if self.store is not None:
            env.update(self.store.client_env())
        if self.lock_url:
            env["HOUSING_CACHE__LOCK_URL"] = self.lock_url
        if self.results_block:
            env["PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK"] = self.results_block
        return env
