"""Reading production and releasing a version: the registry side of a promotion.

A release moves the alias (re-read after the move: MLflow has no compare-and-set, so the
promotion flow holds a lock around read-decide-move), sets the rollback tag on the version
that now serves, and writes the serving records into both versions' descriptions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from housing_core.promotion import pages
from housing_core.promotion.records import Release, move_tags, rollback_point
from housing_core.tracking import registry
from housing_core.tracking.connection import Tracking

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Production:
    """The version the alias points to now, and where a rollback from it would go."""

    version: str | None
    rollback_to: str | None


def read_production(tracking: Tracking, name: str, alias: str) -> Production:
    version = registry.version_for_alias(tracking, name, alias)
    rollback_to = None
    if version is not None:
        rollback_to = rollback_point(registry.get_version(tracking, name, version).tags)
    log.info("'%s' of %s: %s", alias, name, f"v{version}" if version else "unset")
    return Production(version, rollback_to)


def candidates(tracking: Tracking, name: str, only: str | None, limit: int) -> list[str]:
    """The newest registered versions (at most `limit`), or the one asked for."""
    if only is not None:
        registry.get_version(tracking, name, only)  # fails loudly on an unknown one
        return [only]
    return registry.newest_versions(tracking, name, limit)


def release(tracking: Tracking, name: str, move: Release) -> None:
    """Move the alias, then record the move on the version that serves and the one replaced."""
    decision = move.decision
    registry.move_alias(tracking, name, move.alias, move.target)
    target = registry.get_version(tracking, name, move.target)
    tags = move_tags(decision)
    registry.set_version_tags(tracking, name, move.target, tags)
    rollback_to = rollback_point({**target.tags, **tags})
    promoted = pages.promoted_record(
        alias=move.alias,
        action=decision.action,
        at=move.at,
        replaced=decision.previous,
        rollback_to=rollback_to,
        reason=decision.reason,
        scores=decision.scores_of(move.target),
        n_rows=move.n_rows,
        flow_run_url=move.flow_run_url,
        accepted_drift=decision.accepted_drift,
    )
    registry.set_description(
        tracking, name, move.target, pages.with_serving_record(target.description, promoted)
    )
    if decision.previous:
        previous = registry.get_version(tracking, name, decision.previous)
        replaced = pages.replaced_record(
            alias=move.alias, at=move.at, by=move.target, flow_run_url=move.flow_run_url
        )
        registry.set_description(
            tracking,
            name,
            decision.previous,
            pages.with_serving_record(previous.description, replaced),
        )
    log.info(
        "'%s' of %s moved from %s to v%s (%s)",
        move.alias,
        name,
        f"v{decision.previous}" if decision.previous else "(unset)",
        move.target,
        decision.action,
    )
