"""The version a scoring prices with: resolved once (an alias, or a number), downloaded once,
with what made it (its run's lineage) and the reference profile it ships, if it is recent
enough to ship one."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from housing_core.drift import Profile, shipped_profile
from housing_core.isolation.environments import Interpreter, interpreter_for
from housing_core.settings import EnvironmentPolicy
from housing_core.tracking import registry, runs
from housing_core.tracking.connection import Tracking
from housing_core.tracking.registry import RegisteredVersion
from housing_core.versioning import Lineage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """A registered version, on this machine, ready to be run by its own code."""

    version: RegisteredVersion
    model_dir: Path
    lineage: Lineage
    profile: Profile | None
    interpreter: Interpreter

    @property
    def label(self) -> str:
        return f"{self.version.name} v{self.version.version}"


def resolve(
    tracking: Tracking,
    name: str,
    alias: str | None,
    version: str | None,
    state_dir: Path,
    policy: EnvironmentPolicy = "auto",
) -> Target:
    """The version to score with: `version` if given, else the one `alias` points to now;
    downloaded under `state_dir/serving`, run by the interpreter its pins call for."""
    if version is not None:
        found = registry.get_version(tracking, name, version)
    else:
        found = registry.version_with_alias(tracking, name, alias or "production")
    folder = registry.fetch_version(tracking, found, state_dir / "serving")
    lineage = Lineage.from_tags(runs.run_tags(tracking, found.run_id)) if found.run_id else None
    interpreter = interpreter_for(folder, state_dir / "environments", policy)
    target = Target(
        found, folder, lineage or Lineage.from_tags({}), shipped_profile(folder), interpreter
    )
    log.info(
        "scoring with %s (%s)%s",
        target.label,
        f"alias '{alias}'" if version is None else "asked for by number",
        "" if target.profile else "; it ships no drift profile (trained before profiles)",
    )
    return target
