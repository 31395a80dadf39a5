"""The real servers the tests talk to, started the same way the operator's stack starts them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx

from deployments.stack import (
    BIN,
    REPO,
    Service,
    free_port,
    launch,
    start_mlflow,
    start_prefect,
    wait_healthy,
)

Server = Service

__all__ = [
    "BIN",
    "Server",
    "free_port",
    "read_metrics",
    "start",
    "start_housing_serve",
    "start_mlflow",
    "start_prefect",
]


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
