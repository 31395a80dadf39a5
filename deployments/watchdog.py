"""The watchdog: two Prefect automations that mark CRASHED a flow run nobody runs any more.

A self-hosted Prefect server has no zombie detection of its own: a run whose worker and flow
process both die (a lost host) stays RUNNING forever, and a run a worker took (PENDING) but
never started holds its deployment's concurrency slot. Prefect's own mechanism closes both:

- `housing-zombie-runs`: after a flow run's heartbeat (`prefect.flow-run.heartbeat`, sent
  every PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds by the workers' runs, see
  `services.worker`), expect another event of that run (a heartbeat, its end) within
  `watchdog.heartbeat_window_s`; none: CRASHED.
- `housing-stuck-pending`: after `prefect.flow-run.Pending`, expect another event of that run
  (RUNNING, or any end) within `watchdog.pending_window_s`; none: CRASHED.

Both expect `prefect.flow-run.*` rather than a list of state names: state events are named
after the state's name (a completed run can send `prefect.flow-run.Cached`), and Prefect does
not count the event that opened the window (it matches `after`) towards `expect`. The
change to CRASHED goes through the server's orchestration (not forced), whose last rule
releases the run's deployment concurrency slot.

    python -m deployments.bootstrap watchdog     # installs both; idempotent
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from deployments.services import HEARTBEAT_ENV, HEARTBEAT_SECONDS, REPO
from housing_core.settings import WatchdogSettings

ZOMBIE = "housing-zombie-runs"
STUCK_PENDING = "housing-stuck-pending"
WINDOW_SETTING = "HOUSING_WATCHDOG__HEARTBEAT_WINDOW_S"
BEATS_PER_WINDOW = 3  # a window holds three beats: one late or lost beat is no crash


class WatchdogError(ValueError):
    """The windows do not fit the heartbeat frequency: healthy runs would be crashed."""


def check_windows(windows: WatchdogSettings, heartbeat_s: int) -> None:
    """Refuse a heartbeat window shorter than three beats, naming both settings."""
    needed = BEATS_PER_WINDOW * heartbeat_s
    if windows.heartbeat_window_s < needed:
        raise WatchdogError(
            f"{WINDOW_SETTING}={windows.heartbeat_window_s} is shorter than "
            f"{BEATS_PER_WINDOW} x {HEARTBEAT_ENV}={heartbeat_s} (= {needed} s): healthy "
            f"runs would be marked CRASHED between two heartbeats. Set {WINDOW_SETTING} to "
            f"{needed} or more, or lower {HEARTBEAT_ENV} (Prefect's minimum is 30)."
        )


def automations(windows: WatchdogSettings) -> dict[str, dict[str, Any]]:
    """Name -> description, trigger and the CRASHED state's message, as plain values."""

    def silent_after(event: str, within: int) -> dict[str, Any]:
        return {
            "type": "event",
            "posture": "Proactive",
            "after": [event],
            "expect": ["prefect.flow-run.*"],
            "match": {"prefect.resource.id": "prefect.flow-run.*"},
            "for_each": ["prefect.resource.id"],
            "threshold": 1,
            "within": within,
        }

    beat, pending = windows.heartbeat_window_s, windows.pending_window_s
    return {
        ZOMBIE: {
            "description": f"A RUNNING flow run silent for {beat} s (its host is lost) is CRASHED.",
            "trigger": silent_after("prefect.flow-run.heartbeat", beat),
            "message": f"Heartbeats stopped: no sign of the flow run for {beat} s "
            "(its worker or host is gone); marked CRASHED by housing-zombie-runs.",
        },
        STUCK_PENDING: {
            "description": f"A flow run PENDING for {pending} s without starting is CRASHED.",
            "trigger": silent_after("prefect.flow-run.Pending", pending),
            "message": f"PENDING for {pending} s and never started RUNNING (its worker took it "
            "and went away); marked CRASHED by housing-stuck-pending, which frees its "
            "deployment's concurrency slot.",
        },
    }


def install_watchdog(env: Mapping[str, str]) -> None:
    """Install (or update) both automations, through a subprocess with `env`."""
    command = [sys.executable, "-m", "deployments.bootstrap", "watchdog"]
    done = subprocess.run(command, env=dict(env), cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )


def install() -> list[str]:
    """In this process: check the windows, then create each automation missing or changed.

    An automation that already says the same is left as it is (its id stays); one that
    differs is replaced. Returns what was created.
    """
    from prefect import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger

    from housing_core.settings import load_settings

    windows = load_settings().watchdog
    check_windows(windows, int(os.environ.get(HEARTBEAT_ENV) or HEARTBEAT_SECONDS))
    created = []
    with get_client(sync_client=True) as client:
        for name, spec in automations(windows).items():
            wanted = AutomationCore(
                name=name,
                description=str(spec["description"]),
                enabled=True,
                trigger=EventTrigger.model_validate(spec["trigger"]),
                actions=[ChangeFlowRunState(state=StateType.CRASHED, message=spec["message"])],
            )
            existing = client.read_automations_by_name(name)
            if len(existing) == 1 and _same(existing[0], wanted):
                continue
            for old in existing:
                client.delete_automation(old.id)
            client.create_automation(wanted)
            created.append(name)
    return created


def _same(existing: Any, wanted: Any) -> bool:
    fields = {"description", "enabled", "trigger", "actions"}
    exclude = {"trigger": {"id"}}
    return bool(
        existing.model_dump(mode="json", include=fields, exclude=exclude)
        == wanted.model_dump(mode="json", include=fields, exclude=exclude)
    )
