"""Running a flow from the command line: with PREFECT_API_URL on that server, without it on a
temporary Prefect server of the run's own, which must have time to start on a busy machine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect.client.schemas.objects import State
from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

TIMEOUT_SETTING = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"


class EmbeddedServerError(RuntimeError):
    """The temporary Prefect server did not start in time: names the setting that raises it."""


def run_embedded(flow: Callable[..., Any], **parameters: Any) -> State[Any]:
    """Call `flow` for its final state; a temporary server that does not start in time is
    reported with what to do about it (pyproject.toml's [tool.prefect] sets 120 s)."""
    try:
        state: State[Any] = flow(**parameters, return_state=True)
    except RuntimeError as exc:
        if PREFECT_API_URL.value() or "ephemeral Prefect API server" not in str(exc):
            raise
        timeout = PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
        raise EmbeddedServerError(
            f"the temporary Prefect server of this run did not answer within {timeout} s "
            f"(a busy machine?): raise {TIMEOUT_SETTING} (e.g. {TIMEOUT_SETTING}=300), or "
            "start a Prefect server (`make stack-up`) and set PREFECT_API_URL"
        ) from exc
    return state
