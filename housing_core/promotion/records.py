"""What moving the alias leaves on the versions, as values: one tag, and the serving records.

The one tag is where a later rollback goes: a promotion sets it to the version it replaced; a
rollback leaves the target's own, so a second rollback goes one step further back. Everything
else about a move (when, why, over what, the scores it won with) is written as the serving
section of each version's description (see pages), where a person reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from housing_core.promotion.decision import Decision

ROLLBACK_TO_TAG = "rollback_to"  # `rollback_to: v1`, a chip the registry shows whole
OLD_ROLLBACK_TO_TAG = "housing.promotion.rollback_to"  # what versions promoted before carry
DRIFT_ACCEPTED_TAG = "drift_accepted"
NOWHERE = "none"  # the first version to serve: `rollback_to: none`


@dataclass(frozen=True)
class Release:
    """A decision that moves the alias, and the moment and run that carry it out."""

    decision: Decision
    alias: str
    at: str  # ISO 8601, UTC, to the millisecond
    flow_run_url: str = ""
    n_rows: int = 0  # shared rows every version was scored on

    def __post_init__(self) -> None:
        if self.decision.target is None:
            raise ValueError("a decision without a target moves nothing")

    @property
    def target(self) -> str:
        return str(self.decision.target)


def move_tags(decision: Decision) -> dict[str, str]:
    """The tags written on the version that now carries the alias."""
    if decision.target is None:
        raise ValueError("a decision without a target moves nothing")
    tags = {}
    if decision.action == "promote":
        tags[ROLLBACK_TO_TAG] = f"v{decision.previous}" if decision.previous else NOWHERE
    if decision.accepted_drift:
        tags[DRIFT_ACCEPTED_TAG] = "yes"  # `drift_accepted: yes`; what and why: the description
    return tags


def rollback_point(tags: Mapping[str, str]) -> str | None:
    """The version number a rollback from this version goes to, as its tags say (any age)."""
    value = tags.get(ROLLBACK_TO_TAG, tags.get(OLD_ROLLBACK_TO_TAG, ""))
    return None if value in ("", NOWHERE) else value.removeprefix("v")
