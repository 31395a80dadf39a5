"""The local stack: Prefect server, MLflow tracking server, the `housing` work pool, workers.

    python -m deployments.stack up [--workers N]   # start all, deploy, print the URLs
    python -m deployments.stack status
    python -m deployments.stack down               # stop all; checks no process is left

Each service runs in its own process group (its own session), so one SIGTERM to the group stops
it and everything it spawned; `down` escalates to SIGKILL after a grace period. State lives in
`.housing/stack/` (override with HOUSING_STACK_DIR): databases, artifacts, logs, results, pids.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WORK_POOL = "housing"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    """A started process group and where it answers."""

    name: str
    url: str
    pid: int
    log: Path
    # the leader's handle, when this process started it: kept so the leader is reaped
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    def alive(self) -> bool:
        return _group_alive(self.pid)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the group; SIGKILL what is left after `timeout` seconds."""
        stop_group(self.pid, timeout)
        if self.process is not None:
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def launch(
    name: str,
    command: list[str],
    env: Mapping[str, str],
    log: Path,
    url: str = "",
    cwd: Path = REPO,
) -> Service:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            env=dict(env),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Service(name, url, process.pid, log, process)


def wait_healthy(service: Service, health_url: str, timeout_s: float = 120.0) -> Service:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not service.alive():
            raise RuntimeError(f"{service.name} exited:\n{service.log_tail()}")
        try:
            if httpx.get(health_url, timeout=2).status_code == 200:
                return service
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    service.stop()
    raise RuntimeError(f"{service.name} not healthy after {timeout_s:.0f} s:\n{service.log_tail()}")


def start_mlflow(root: Path, port: int | None = None, host: str = "127.0.0.1") -> Service:
    """One worker and no GenAI job runner: 0.5 GB and ~10 s to healthy instead of 1.9 GB/32 s."""
    port = port or free_port()
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    backend = os.environ.get("HOUSING_MLFLOW_BACKEND_URI") or f"sqlite:///{root / 'mlflow.db'}"
    artifacts = os.environ.get("HOUSING_MLFLOW_ARTIFACTS") or str(root / "mlartifacts")
    command = [
        str(BIN / "mlflow"),
        "server",
        "--backend-store-uri",
        backend,
        "--artifacts-destination",
        artifacts,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    url = f"http://127.0.0.1:{port}"
    service = launch("mlflow", command, env, root / "mlflow-server.log", url)
    return wait_healthy(service, f"{url}/health")


def start_prefect(home: Path, port: int | None = None, ui: bool = False) -> Service:
    port = port or free_port()
    home.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": str(ui).lower(),
        # without these the UI calls the API on the default port 4200, whatever --port says
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_UI_API_URL": url,
    }
    env.pop("PREFECT_API_URL", None)
    command = [
        str(BIN / "prefect"),
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--analytics-off",
        "--ui" if ui else "--no-ui",
    ]
    service = launch("prefect", command, env, home / "prefect-server.log", url)
    return wait_healthy(service, f"{url}/health")


def worker_env(
    prefect_api: str, tracking_uri: str, results: Path, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """What every worker needs: the API, the tracking server, shared result storage, data."""
    env = dict(base if base is not None else os.environ)
    env.update(
        {
            "PREFECT_API_URL": prefect_api,
            "MLFLOW_TRACKING_URI": tracking_uri,
            "MLFLOW_REGISTRY_URI": tracking_uri,
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(results),
            "PWD": str(REPO),  # prefect.yaml's pull step resolves {{ $PWD }} on the worker
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    return env


def ensure_work_pool(env: Mapping[str, str]) -> None:
    """Create the process pool once; an existing pool is left as it is."""
    inspect = subprocess.run(
        [str(BIN / "prefect"), "work-pool", "inspect", WORK_POOL],
        env=dict(env),
        capture_output=True,
        text=True,
    )
    if inspect.returncode == 0:
        return
    _run([str(BIN / "prefect"), "work-pool", "create", WORK_POOL, "--type", "process"], env)


def deploy_all(env: Mapping[str, str]) -> None:
    _run([str(BIN / "prefect"), "--no-prompt", "deploy", "--all"], env)


def start_worker(name: str, env: Mapping[str, str], log: Path) -> Service:
    command = [
        str(BIN / "prefect"),
        "worker",
        "start",
        "--pool",
        WORK_POOL,
        "--name",
        name,
        "--type",
        "process",
    ]
    service = launch(name, command, env, log, url=env["PREFECT_API_URL"])
    time.sleep(1)
    if not service.alive():
        raise RuntimeError(f"worker {name} exited:\n{service.log_tail()}")
    return service


def stop_group(pgid: int, grace_s: float = 20.0) -> None:
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _group_alive(pgid):
                return
            time.sleep(0.2)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _has_live_member(pgid)


def _has_live_member(pgid: int) -> bool:
    """A group whose only members are zombies (exited, not yet reaped) counts as stopped."""
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _run(command: list[str], env: Mapping[str, str]) -> None:
    done = subprocess.run(command, env=dict(env), cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )


# --- the command line -------------------------------------------------------------------------


def _state_dir() -> Path:
    return Path(os.environ.get("HOUSING_STACK_DIR", REPO / ".housing" / "stack")).resolve()


def up(state: Path, prefect_port: int, mlflow_port: int, workers: int = 1) -> dict[str, Any]:
    """Start everything; on any failure stop what was started. Returns what runs where."""
    pids = state / "pids.json"
    if pids.exists():
        raise SystemExit(f"a stack is already up ({pids}); run `down` first")
    started: list[Service] = []
    try:
        started.append(start_prefect(state / "prefect-home", prefect_port, ui=True))
        started.append(start_mlflow(state / "mlflow", mlflow_port))
        env = worker_env(started[0].url, started[1].url, state / "results")
        ensure_work_pool(env)
        deploy_all(env)
        for i in range(1, workers + 1):
            started.append(start_worker(f"housing-worker-{i}", env, state / f"worker-{i}.log"))
    except BaseException:
        for service in reversed(started):
            service.stop()
        raise
    record = {s.name: {"pid": s.pid, "url": s.url, "log": str(s.log)} for s in started}
    pids.write_text(json.dumps(record, indent=2))
    return record


def down(state: Path) -> list[str]:
    """Stop workers first, servers last; fails loudly if any process group survives."""
    pids = state / "pids.json"
    if not pids.exists():
        return []
    record = json.loads(pids.read_text())
    for name in reversed(list(record)):  # workers first, servers last
        stop_group(int(record[name]["pid"]))
    left = [n for n, r in record.items() if _group_alive(int(r["pid"]))]
    if left:
        raise SystemExit(f"still running after SIGKILL: {', '.join(left)}")
    pids.unlink()
    return list(record)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deployments.stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("up", help="start servers, create the pool, deploy, start workers")
    start.add_argument("--workers", type=int, default=1)
    sub.add_parser("down", help="stop every process of the stack")
    sub.add_parser("status", help="what runs, and where")
    args = parser.parse_args(argv)
    state = _state_dir()
    if args.command == "up":
        ports = (
            int(os.environ.get("HOUSING_PREFECT_PORT", "4200")),
            int(os.environ.get("HOUSING_MLFLOW_PORT", "5000")),
        )
        record = up(state, *ports, workers=args.workers)
        print(f"Prefect UI:  {str(record['prefect']['url']).removesuffix('/api')}")
        print(f"MLflow UI:   {record['mlflow']['url']}")
        print(f"workers:     {', '.join(n for n in record if n.startswith('housing-worker'))}")
        print("\nUse it from this shell:")
        print(f"  export PREFECT_API_URL={record['prefect']['url']}")
        print(f"  export MLFLOW_TRACKING_URI={record['mlflow']['url']}")
    elif args.command == "down":
        stopped = down(state)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    else:
        pids = state / "pids.json"
        if not pids.exists():
            print("no stack is up")
            return 0
        for name, entry in json.loads(pids.read_text()).items():
            alive = "running" if _group_alive(int(entry["pid"])) else "STOPPED"
            print(f"{name:20} {alive:8} {entry['url']}  log: {entry['log']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
