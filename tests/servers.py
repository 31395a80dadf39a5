"""The tests' own server fixtures: each server of `deployments.services`, as a child process.

The operator's stack runs the same commands under supervisord; tests start them directly, on
free loopback ports, each in its own session so one signal stops it and all it spawned.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deployments import services
from deployments.services import BIN, REPO, ServiceSpec

__all__ = [
    "BIN",
    "Server",
    "free_port",
    "launch",
    "read_metrics",
    "start",
    "start_housing_serve",
    "start_mlflow",
    "start_prefect",
    "start_spec",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A started process group and where it answers."""

    name: str
    url: str
    pid: int
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    def alive(self) -> bool:
        return group_alive(self.pid)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the group (PostgreSQL: SIGINT, its fast shutdown; on SIGTERM it waits for
        every client to leave); SIGKILL what is left after `timeout` seconds."""
        stop_group(self.pid, timeout, signal.SIGINT if self.name == "postgres" else signal.SIGTERM)
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
    user: str | None = None,
) -> Server:
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
            user=user,
        )
    return Server(name, url, process.pid, log, process)


def wait_healthy(server: Server, health: str, timeout_s: float = 120.0) -> Server:
    """Until `health` (an http URL answering 200, or tcp://host:port accepting) is ready."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(f"{server.name} exited:\n{server.log_tail()}")
        if services.ready(health):
            return server
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"{server.name} not healthy after {timeout_s:.0f} s:\n{server.log_tail()}")


def start_spec(
    spec: ServiceSpec,
    log: Path,
    base: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> Server:
    """Start one service of `deployments.services` and wait until it is ready."""
    env = {k: v for k, v in (base if base is not None else os.environ).items()}
    for name in spec.unset:
        env.pop(name, None)
    env.update(spec.env)
    server = launch(spec.name, spec.command, env, log, spec.url, spec.cwd, spec.user)
    if not spec.health:  # a worker: alive after a second is as good as it gets
        time.sleep(1)
        if not server.alive():
            raise RuntimeError(f"{spec.name} exited:\n{server.log_tail()}")
        return server
    return wait_healthy(server, spec.health, timeout)


def start(
    name: str,
    command: list[str],
    env: Mapping[str, str],
    health_url: str,
    log: Path,
    base_url: str,
    timeout: float = 120.0,
    cwd: Path = REPO,
) -> Server:
    """Launch a process group (in `cwd`) and wait until `health_url` answers 200."""
    return wait_healthy(launch(name, command, env, log, base_url, cwd), health_url, timeout)


def start_mlflow(root: Path, port: int | None = None) -> Server:
    """The dev-profile tracking server: SQLite and local artifacts under `root`."""
    spec = services.mlflow_server(root, port or free_port())
    return start_spec(spec, root / "mlflow-server.log")


def start_prefect(home: Path, port: int | None = None, ui: bool = False) -> Server:
    """The dev-profile Prefect server: SQLite in `home`."""
    spec = services.prefect_server(home, port or free_port(), ui=ui)
    return start_spec(spec, home / "prefect-server.log")


def start_housing_serve(
    env: Mapping[str, str],
    log: Path,
    *args: str,
    command: list[str] | None = None,
    cwd: Path = REPO,
) -> Server:
    """`housing-serve ARGS` (or `command`) on a free loopback port, once `/ping` answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    launched = [*(command or [str(BIN / "housing-serve")]), "--port", str(port), *args]
    return start("housing-serve", launched, env, f"{url}/ping", log, url, cwd=cwd)


def read_metrics(url: str) -> dict[str, float]:
    """`GET /metrics` as {sample with its labels: value}."""
    lines = httpx.get(f"{url}/metrics", timeout=30).text.splitlines()
    samples = (line.rpartition(" ") for line in lines if line and not line.startswith("#"))
    return {name: float(value) for name, _, value in samples}


def stop_group(pgid: int, grace_s: float = 20.0, first: int = signal.SIGTERM) -> None:
    for sig, wait in ((first, grace_s), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not group_alive(pgid):
                return
            time.sleep(0.2)


def group_alive(pgid: int) -> bool:
    """A group whose only members are zombies (exited, not yet reaped) counts as stopped."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False
