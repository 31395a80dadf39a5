"""The real servers the tests talk to, started the same way the operator's stack starts them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

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

__all__ = ["BIN", "Server", "free_port", "start", "start_mlflow", "start_prefect"]


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
