"""The local stack, run by supervisord: the servers, the `housing` pool, deployments, workers.

    python -m deployments.stack up [--profile dev|team] [--workers N]
    python -m deployments.stack serve       # housing-serve, restarted by supervisord if it dies
    python -m deployments.stack status
    python -m deployments.stack down        # stops all; checks no process is left

Profiles:
- dev: Prefect and MLflow on SQLite and local files, one worker.
- team: PostgreSQL for both servers, an S3 object store (s3rver) for MLflow's artifacts and
  Prefect's task results, Redis for cache locks and concurrency leases, MLflow basic auth
  (users admin, trainer, reader), a Prefect auth string, two workers with nothing local.

supervisord (a well-kept supervisor) owns the processes: it restarts one that dies, keeps
each log, stops each program's whole process group, and listens on a unix socket only. This
module writes its configuration, starts the programs in order, and runs the one-shot
bootstrap between them (databases, users, the result block, the pool, `prefect deploy`).

State lives in `.housing/stack/` (HOUSING_STACK_DIR): supervisord.conf, logs, data,
`secrets.json` (generated once, mode 0600) and `stack.env`: the shell
exports a client needs. None of it is in git.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployments import bootstrap, services
from deployments.services import BIN, REPO, Endpoints, MlflowAuth, ServiceSpec
from deployments.watchdog import install_watchdog

PROFILES = ("dev", "team")
DEFAULT_PORTS = {
    "prefect": 4200,
    "mlflow": 5000,
    "serve": 5001,
    "postgres": 15432,
    "redis": 16379,
    "s3": 14568,
}
SERVE = "housing-serve"


@dataclass(frozen=True)
class Layout:
    """Where one stack keeps its files."""

    state: Path

    @property
    def conf(self) -> Path:
        return self.state / "supervisord.conf"

    @property
    def socket(self) -> Path:
        """supervisord's control socket: in the state folder, unless that path is too long for
        a unix socket (108 bytes; a deep checkout), then a private folder of the temp dir,
        named after the state folder so each stack keeps its own."""
        here = self.state / "supervisor.sock"
        if len(str(here)) < 100:
            return here
        digest = hashlib.sha256(str(self.state).encode()).hexdigest()[:16]
        folder = Path(tempfile.gettempdir()) / f"housing-stack-{digest}"
        folder.mkdir(mode=0o700, exist_ok=True)
        return folder / "supervisor.sock"

    @property
    def pidfile(self) -> Path:
        return self.state / "supervisord.pid"

    @property
    def record(self) -> Path:
        return self.state / "stack.json"

    @property
    def env_file(self) -> Path:
        return self.state / "stack.env"

    @property
    def secrets(self) -> Path:
        return self.state / "secrets.json"

    @property
    def logs(self) -> Path:
        return self.state / "logs"


def ports_from_env(environ: Mapping[str, str] = os.environ) -> dict[str, int]:
    """HOUSING_<PART>_PORT overrides each default port."""
    return {
        part: int(environ.get(f"HOUSING_{part.upper()}_PORT", default))
        for part, default in DEFAULT_PORTS.items()
    }


# --- secrets: generated once, kept outside git, mode 0600 ----------------------------------


def load_secrets(layout: Layout) -> dict[str, str]:
    if layout.secrets.exists():
        return dict(json.loads(layout.secrets.read_text()))
    values = {
        "mlflow_admin": secrets.token_hex(16),
        "mlflow_trainer": secrets.token_hex(16),
        "mlflow_reader": secrets.token_hex(16),
        "mlflow_flask_key": secrets.token_hex(32),
        "prefect_auth": f"housing:{secrets.token_hex(16)}",
    }
    _write_private(layout.secrets, json.dumps(values, indent=2))
    return values


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


# --- what runs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """The programs of one profile, in start order, and what a client needs to reach them."""

    servers: list[ServiceSpec]
    workers: list[ServiceSpec]
    endpoints: Endpoints
    serving: ServiceSpec  # not started by `up`: by `serve`, once a version is in production
    databases: tuple[str, ...] = ()
    users: dict[str, str] | None = None  # MLflow users to create (name: password)
    auth: MlflowAuth | None = None


def plan(layout: Layout, profile: str, ports: Mapping[str, int], workers: int) -> Plan:
    state = layout.state
    prefect_url = f"http://127.0.0.1:{ports['prefect']}/api"
    if profile == "dev":
        mlflow = services.mlflow_server(state / "mlflow", ports["mlflow"])
        prefect = services.prefect_server(state / "prefect-home", ports["prefect"], ui=True)
        endpoints = Endpoints(prefect_url, mlflow.url)
        extra: dict[str, str] = {}
        return Plan(
            [prefect, mlflow],
            _workers(layout, endpoints, workers, extra, results_local=True),
            endpoints,
            _serving(layout, Endpoints(prefect_url, mlflow.url), ports["serve"]),
        )
    keys = load_secrets(layout)
    pg_root = state / "postgres"
    database = f"postgresql://postgres@127.0.0.1:{ports['postgres']}"
    pg = services.postgres(pg_root, ports["postgres"])
    redis = services.redis(state / "redis", ports["redis"])
    s3, store = services.s3rver(
        state / "s3", ports["s3"], (services.MLFLOW_BUCKET, services.RESULTS_BUCKET)
    )
    auth = MlflowAuth(
        admin_password=keys["mlflow_admin"],
        secret_key=keys["mlflow_flask_key"],
        database_uri=f"{database}/mlflow_auth",
        config_path=state / "mlflow" / "basic_auth.ini",
    )
    mlflow = services.mlflow_server(
        state / "mlflow",
        ports["mlflow"],
        backend=f"{database}/mlflow",
        artifacts=f"s3://{services.MLFLOW_BUCKET}/artifacts",
        store=store,
        auth=auth,
    )
    prefect = services.prefect_server(
        state / "prefect-home",
        ports["prefect"],
        ui=True,
        database=f"postgresql+asyncpg://postgres@127.0.0.1:{ports['postgres']}/prefect",
        auth_string=keys["prefect_auth"],
        redis_url=redis.url,
    )
    endpoints = Endpoints(
        prefect_api=prefect_url,
        tracking_uri=mlflow.url,
        prefect_auth=keys["prefect_auth"],
        mlflow_user="trainer",
        mlflow_password=keys["mlflow_trainer"],
        store=store,
        lock_url=redis.url,
        results_block=services.RESULTS_BLOCK,
    )
    reader = Endpoints(
        prefect_url, mlflow.url, mlflow_user="reader", mlflow_password=keys["mlflow_reader"]
    )
    return Plan(
        [pg, redis, s3, mlflow, prefect],
        _workers(layout, endpoints, workers, {}, results_local=False),
        endpoints,
        _serving(layout, reader, ports["serve"], store),
        databases=("prefect", "mlflow", "mlflow_auth"),
        users={"trainer": keys["mlflow_trainer"], "reader": keys["mlflow_reader"]},
        auth=auth,
    )


def _workers(
    layout: Layout, endpoints: Endpoints, count: int, extra: dict[str, str], results_local: bool
) -> list[ServiceSpec]:
    specs = []
    for i in range(1, count + 1):
        home = layout.state / f"worker-{i}"
        env = {**endpoints.client_env(), **extra, "PREFECT_HOME": str(home)}
        if services.HEARTBEAT_ENV in os.environ:  # the frequency the watchdog was checked with
            env[services.HEARTBEAT_ENV] = os.environ[services.HEARTBEAT_ENV]
        if results_local:  # one machine: the workers share this folder
            env["PREFECT_RESULTS_LOCAL_STORAGE_PATH"] = str(layout.state / "results")
        specs.append(services.worker(f"housing-worker-{i}", env, REPO))
    return specs


def _serving(
    layout: Layout, reader: Endpoints, port: int, store: services.S3Store | None = None
) -> ServiceSpec:
    """housing-serve with what it reads and nothing more: the registry and the artifacts."""
    env = {k: v for k, v in reader.client_env().items() if not k.startswith("PREFECT_")}
    if store is not None:
        env.update(store.client_env())
    return services.housing_serve(env, port, layout.state / "serving")


# --- supervisord -----------------------------------------------------------------------------


def supervisor_conf(layout: Layout, programs: list[ServiceSpec]) -> str:
    """supervisord's configuration: a unix socket (no TCP port), one section per program.

    Programs do not start with supervisord: `up` starts them in order, bootstrapping between.
    """
    lines = [
        "[unix_http_server]",
        f"file={layout.socket}",
        "chmod=0700",
        "",
        "[supervisord]",
        f"logfile={layout.logs / 'supervisord.log'}",
        f"pidfile={layout.pidfile}",
        f"directory={layout.state}",
        "nodaemon=false",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{layout.socket}",
        "",
    ]
    for order, spec in enumerate(programs, start=1):
        env = ",".join(f'{key}="{_escape(value)}"' for key, value in spec.env.items())
        lines += [
            f"[program:{spec.name}]",
            f"command={_escape(shlex.join(spec.command))}",
            f"directory={spec.cwd}",
            "autostart=false",
            "autorestart=true",
            "startsecs=1",
            # shutdown stops the highest first: workers, then servers in reverse start order
            f"priority={order * 10}",
            "stopasgroup=true",
            "killasgroup=true",
            f"stopwaitsecs={spec.stop_wait_s}",
            # postgres: SIGINT is its "fast" shutdown; the others stop on SIGTERM
            f"stopsignal={'INT' if spec.name == 'postgres' else 'TERM'}",
            "redirect_stderr=true",
            f"stdout_logfile={layout.logs / (spec.name + '.log')}",
            "stdout_logfile_maxbytes=20MB",
            "stdout_logfile_backups=3",
        ]
        if spec.user:
            lines.append(f"user={spec.user}")
        if env:
            lines.append(f"environment={env}")
        lines.append("")
    return "\n".join(lines)


def _escape(value: str) -> str:
    if '"' in value or "\n" in value:
        raise ValueError(f"cannot pass {value!r} through supervisord's configuration")
    return value.replace("%", "%%")


def supervisorctl(layout: Layout, *args: str, check: bool = True) -> str:
    done = subprocess.run(
        [str(BIN / "supervisorctl"), "-c", str(layout.conf), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"supervisorctl {' '.join(args)}: {done.stdout}{done.stderr}")
    return done.stdout


def supervisord_pid(layout: Layout) -> int | None:
    try:
        pid = int(layout.pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def wait_ready(layout: Layout, spec: ServiceSpec, timeout_s: float = 120.0) -> None:
    """Until the program's health check passes; names its log when it does not."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if services.ready(spec.health):
            return
        time.sleep(0.3)
    log = layout.logs / f"{spec.name}.log"
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log.exists() else ""
    raise RuntimeError(f"{spec.name} not ready after {timeout_s:.0f} s ({log}):\n{tail}")


# --- the commands ----------------------------------------------------------------------------


def up(
    state: Path,
    profile: str = "dev",
    ports: Mapping[str, int] | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """Start the stack; on any failure take down what was started. Returns what runs where."""
    if profile not in PROFILES:
        raise SystemExit(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    layout = Layout(state.resolve())
    missing = missing_programs(profile)
    if missing:
        raise SystemExit(
            f"the {profile} profile needs {', '.join(missing)}, not found on this machine: "
            "`make system-deps` installs them (needs root or sudo)"
        )
    if supervisord_pid(layout):
        raise SystemExit(f"a stack is already up in {layout.state}; run `down` first")
    layout.logs.mkdir(parents=True, exist_ok=True)
    count = workers if workers is not None else (2 if profile == "team" else 1)
    todo = plan(layout, profile, ports or ports_from_env(), count)
    if todo.auth is not None:
        _check_postgres_can_reach(layout.state)
        services.init_postgres(layout.state / "postgres")
        services.write_auth_config(todo.auth)
    programs = [*todo.servers, *todo.workers, todo.serving]
    _write_private(layout.conf, supervisor_conf(layout, programs))
    started = time.monotonic()
    subprocess.run(
        [str(BIN / "supervisord"), "-c", str(layout.conf)],
        check=True,
        env=_supervisor_env(),
        cwd=layout.state,
    )
    try:
        client = {**os.environ, **todo.endpoints.client_env()}
        for spec in todo.servers:
            supervisorctl(layout, "start", spec.name)
            wait_ready(layout, spec)
            if spec.name == "postgres":
                services.create_databases(_port(todo, "postgres"), *todo.databases)
        if todo.users is not None and todo.auth is not None:
            bootstrap.mlflow_users(
                todo.endpoints.tracking_uri, todo.auth.admin_password, todo.users
            )
        if todo.endpoints.results_block:
            bootstrap.results_block(client)
        bootstrap.ensure_work_pool(client)
        bootstrap.deploy_all(client)
        install_watchdog(client)
        for spec in todo.workers:
            supervisorctl(layout, "start", spec.name)
    except BaseException:
        down(layout.state)
        raise
    record = {
        "profile": profile,
        "seconds": round(time.monotonic() - started, 1),
        "prefect_ui": todo.endpoints.prefect_api.removesuffix("/api"),
        "prefect_api": todo.endpoints.prefect_api,
        "mlflow": todo.endpoints.tracking_uri,
        "programs": [s.name for s in todo.servers + todo.workers],
        "workers": [s.name for s in todo.workers],
        "serving": todo.serving.url,
        "logs": str(layout.logs),
    }
    layout.record.write_text(json.dumps(record, indent=2))
    _write_private(layout.env_file, stack_env(todo.endpoints))
    record["env_file"] = str(layout.env_file)
    return record


def serve(state: Path, timeout_s: float = 300.0) -> str:
    """Start housing-serve under the stack's supervisord, which restarts it if it dies (a crash,
    the OOM killer, `kill -9`); returns its URL once `/ping` answers.

    A version must be in production first: if the server says it cannot serve, it is stopped
    again (no restart loop) and that line is the error.
    """
    layout = Layout(state.resolve())
    if supervisord_pid(layout) is None or not layout.record.exists():
        raise SystemExit(f"no stack is up in {layout.state}: run `up` first")
    url = str(json.loads(layout.record.read_text())["serving"])
    log = layout.logs / f"{SERVE}.log"
    seen = log.stat().st_size if log.exists() else 0
    supervisorctl(layout, "start", SERVE, check=False)  # "already started" is fine
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if services.ready(f"{url}/ping"):
            return url
        refused = _cannot_serve(log, seen)
        if refused:
            supervisorctl(layout, "stop", SERVE, check=False)
            raise SystemExit(f"{SERVE} did not start: {refused} (log: {log})")
        time.sleep(0.5)
    supervisorctl(layout, "stop", SERVE, check=False)
    raise SystemExit(f"{SERVE} did not answer on {url}/ping in {timeout_s:.0f} s (log: {log})")


def stop_serving(state: Path) -> None:
    """Stop housing-serve (it drains first); the rest of the stack runs on."""
    layout = Layout(state.resolve())
    if supervisord_pid(layout) is not None:
        supervisorctl(layout, "stop", SERVE, check=False)


def _cannot_serve(log: Path, offset: int) -> str | None:
    if not log.exists():
        return None
    with log.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode(errors="replace")
    return next((line for line in text.splitlines() if "cannot serve:" in line), None)


def missing_programs(profile: str) -> list[str]:
    """The programs a profile's servers run that this machine lacks, named as installed."""
    needed = {"supervisord": str(BIN / "supervisord")}
    if profile == "team":
        needed.update(
            {
                "PostgreSQL 15": str(services.PG_BIN / "postgres"),
                "redis-server": "redis-server",
                "s3rver (npm)": "s3rver",
            }
        )
    return [name for name, program in needed.items() if shutil.which(program) is None]


def _port(todo: Plan, name: str) -> int:
    spec = next(s for s in todo.servers if s.name == name)
    return int(spec.health.rsplit(":", 1)[1])


def _supervisor_env() -> dict[str, str]:
    """The caller's environment, less what a client of another stack may have exported."""
    blocked = ("PREFECT_API_", "MLFLOW_TRACKING_", "MLFLOW_REGISTRY_", "AWS_", "HOUSING_CACHE__")
    return {k: v for k, v in os.environ.items() if not k.startswith(blocked)}


def _check_postgres_can_reach(state: Path) -> None:
    """PostgreSQL runs as `postgres`: every folder above its data must let others through."""
    for folder in [state, *state.parents]:
        if folder.exists() and not folder.stat().st_mode & stat.S_IXOTH:
            raise SystemExit(
                f"the postgres user cannot enter {folder} (mode {oct(folder.stat().st_mode)[-3:]}):"
                " set HOUSING_STACK_DIR to a folder it can reach, or chmod o+x it"
            )


def stack_env(endpoints: Endpoints) -> str:
    """Shell exports for a client of the stack: `source .housing/stack/stack.env`."""
    lines = ["# housing-flows stack: `source` this file in a client's shell. Secret: 0600."]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in endpoints.client_env().items()]
    return "\n".join(lines) + "\n"


def down(state: Path) -> list[str]:
    """Stop every program and supervisord; then any flow run a worker left behind.

    Fails loudly if a process of the stack survives. Returns what was stopped.
    """
    layout = Layout(state.resolve())
    stopped: list[str] = []
    pid = supervisord_pid(layout)
    if pid:
        status = supervisorctl(layout, "status", check=False)
        stopped = [line.split()[0] for line in status.splitlines() if "RUNNING" in line]
        supervisorctl(layout, "shutdown", check=False)  # stops programs, then itself
        _wait_gone(pid, 60)
    leftovers = stack_processes(layout.state)
    for proc in leftovers:
        _kill(proc)
    alive = stack_processes(layout.state)
    if alive:
        raise SystemExit(f"still running after SIGKILL: pids {alive}")
    if leftovers:
        stopped.append(f"{len(leftovers)} orphaned process(es)")
    layout.record.unlink(missing_ok=True)
    return stopped


def stack_processes(state: Path) -> list[int]:
    """Pids of the stack's processes: the stack's folder in their command line, or a
    PREFECT_HOME inside it (flow runs inherit their worker's). Never this process's ancestors.
    """
    in_cmdline = str(state).encode()
    in_environ = f"PREFECT_HOME={state}/".encode()
    spared = _ancestors()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        if int(proc.name) in spared:
            continue
        try:
            if in_cmdline in (proc / "cmdline").read_bytes() or any(
                entry.startswith(in_environ)
                for entry in (proc / "environ").read_bytes().split(b"\0")
            ):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    return pids


def _wait_gone(pid: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)


def _kill(pid: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def _state_dir() -> Path:
    return Path(os.environ.get("HOUSING_STACK_DIR", REPO / ".housing" / "stack")).resolve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deployments.stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("up", help="start servers, bootstrap, deploy, start workers")
    start.add_argument("--profile", choices=PROFILES, default="dev")
    start.add_argument("--workers", type=int, default=None, help="default: dev 1, team 2")
    serving = sub.add_parser(
        "serve", help="serve production under supervisord (restarted if it dies)"
    )
    serving.add_argument("--stop", action="store_true", help="stop serving; the stack runs on")
    sub.add_parser("down", help="stop every process of the stack")
    sub.add_parser("status", help="what runs, and where")
    args = parser.parse_args(argv)
    state = _state_dir()
    layout = Layout(state)
    if args.command == "up":
        record = up(state, args.profile, workers=args.workers)
        print(f"{args.profile} stack up in {record['seconds']:.0f} s")
        print(f"Prefect UI:  {record['prefect_ui']}")
        print(f"MLflow UI:   {record['mlflow']}")
        print(f"workers:     {', '.join(record['workers'])}")
        print(f"logs:        {record['logs']}")
        print(f"\nUse it from a shell:  source {record['env_file']}")
        if args.profile == "team":
            print("(it holds the trainer's MLflow password and the Prefect auth string)")
    elif args.command == "serve" and args.stop:
        stop_serving(state)
        print(f"{SERVE} stopped")
    elif args.command == "serve":
        print(f"serving production on {serve(state)} (log: {layout.logs / (SERVE + '.log')})")
    elif args.command == "down":
        stopped = down(state)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    elif supervisord_pid(layout) is None:
        print("no stack is up")
    else:
        print(supervisorctl(layout, "status", check=False), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
