"""What a flow run tells the Prefect UI about itself, and how it ends when it cannot go on."""

from __future__ import annotations

import functools
import inspect
import logging
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from prefect.client.schemas.objects import State
from prefect.events import emit_event
from prefect.logging import get_run_logger
from prefect.runtime import flow_run
from prefect.states import Failed

from housing_core.settings import SettingsError

P = ParamSpec("P")
R = TypeVar("R")
CORE_LOGGER = "housing_core"


def flow_run_url() -> str:
    """This flow run's page in the Prefect UI, or '' without a UI (a temporary server)."""
    url = flow_run.ui_url or ""
    return url if url.startswith(("http://", "https://")) else ""


def describe_flow_run(name: str, *tags: str) -> None:
    """Rename the running flow run and add tags (say `model:random_forest`) for the UI's filters.

    Deployment tags (adhoc, schedule, release) are already there; these say what ran.
    """
    if not flow_run.get_id():
        return
    run_id = UUID(str(flow_run.get_id()))
    with get_client(sync_client=True) as client:
        current = client.read_flow_run(run_id)
        wanted = sorted({*(current.tags or []), *tags})
        if current.name != name or wanted != sorted(current.tags or []):
            client.update_flow_run(run_id, name=name, tags=wanted)
    get_run_logger().info("flow run %s, tags: %s", name, ", ".join(wanted))


def flow_body(
    *expected: type[BaseException],
) -> Callable[[Callable[P, R]], Callable[P, R | State[Any]]]:
    """What a flow's body runs inside: housing_core's INFO lines in the run's logs, and an
    expected error ending the run Failed with the error as its message, logged once, without
    a second traceback (a task that raised it has logged its own).

    housing_core logs with the standard library; PREFECT_LOGGING_EXTRA_LOGGERS (pyproject.toml,
    prefect.yaml) gives its loggers Prefect's handler, and here they get their level.
    """

    def decorate(body: Callable[P, R]) -> Callable[P, R | State[Any]]:
        @functools.wraps(body)
        def run(*args: P.args, **kwargs: P.kwargs) -> R | State[Any]:
            logging.getLogger(CORE_LOGGER).setLevel(logging.INFO)
            try:
                return body(*args, **kwargs)
            except expected as exc:
                message = f"{type(exc).__name__}: {exc}"
                get_run_logger().error(message)
                return Failed(message=message)

        # annotations resolved in the body's module, where Prefect validates parameters by them
        run.__signature__ = inspect.signature(body, eval_str=True)  # type: ignore[attr-defined]
        return run

    return decorate


def earlier_claim(key: str) -> str | None:
    """The name of another flow run that claimed `key` (a tag) and did not fail; else None,
    and this run claims it. Run it where only one run at a time can (under a lock)."""
    run_id = flow_run.get_id()
    if not run_id:
        return None
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[key]))
        )
        for other in runs:
            state = other.state.type.value if other.state else ""
            if str(other.id) != str(run_id) and state not in ("FAILED", "CRASHED", "CANCELLED"):
                return other.name
        current = client.read_flow_run(UUID(str(run_id)))
        client.update_flow_run(UUID(str(run_id)), tags=sorted({*(current.tags or []), key}))
    return None


def announce(event: str, resource: dict[str, str], payload: dict[str, Any]) -> None:
    """An event for automations to act on (the release alerts), related to this flow run."""
    related = []
    if flow_run.get_id():
        related.append(
            {
                "prefect.resource.id": f"prefect.flow-run.{flow_run.get_id()}",
                "prefect.resource.role": "flow-run",
                "prefect.resource.name": flow_run.get_name() or "",
            }
        )
    emit_event(event=event, resource=resource, related=related, payload=payload)


def named_after_source(prefix: str, params: dict[str, Any], at: datetime | None = None) -> str:
    """`score-housing.csv-20261201-031500`: what a run reads, and when (UTC)."""
    stem = PurePosixPath(str(params.get("source", "input")).rstrip("/")).name or "input"
    return f"{prefix}-{stem}-{(at or datetime.now(UTC)):%Y%m%d-%H%M%S}"


def kept_or_named_after_source(prefix: str) -> str:
    """A name `housing-run` gave at submission, kept; else one after the source, now."""
    given = flow_run.get_name() or ""
    params = flow_run.get_parameters() or {}
    return given if given.startswith(f"{prefix}-") else named_after_source(prefix, params)


def this_run_id() -> str:
    """This flow run's id; a local stand-in when there is none (a direct call)."""
    return str(flow_run.get_id() or f"local-{datetime.now(UTC):%Y%m%d%H%M%S%f}")


def version_number(version: int | str | None) -> str | None:
    """A `version` parameter as the registry's number, refused by name when it is not one."""
    if version is None:
        return None
    number = str(version)
    if not number.isdigit():
        raise SettingsError([f"version = {version!r} (flow parameters): must be a number, e.g. 7"])
    return number


def worker_name() -> str:
    """The Dask worker's name (`--name`) when on one, else this host's name."""
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return f"{socket.gethostname()} (local)"
