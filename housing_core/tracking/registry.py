"""The model registry: versions, their tags and descriptions, aliases, downloads.

Registration is idempotent per run (a POST the client retried can create a twin, removed
here), and an alias move is re-read, since MLflow has no compare-and-set. What a description
says and which tags a version carries is the caller's: this module writes them as given.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException, RestException

from housing_core.tracking.connection import Tracking


class AliasNotSetError(LookupError):
    """No version carries the alias yet: run the promotion flow first."""


class AliasMismatchError(RuntimeError):
    """After a move, the alias does not point where it was set: another writer got in between."""


@dataclass(frozen=True)
class RegisteredVersion:
    """One registered version: where it came from, its tags and its description."""

    name: str
    version: str
    run_id: str
    source: str
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def describe(self) -> str:
        return f"{self.name} version {self.version} (run {self.run_id}, {self.source})"


def ensure_registered_model(tracking: Tracking, name: str, description: str) -> None:
    client = tracking.client
    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        try:
            client.create_registered_model(name, description=description)
        except RestException as race:  # created meanwhile by a concurrent run
            if race.error_code != "RESOURCE_ALREADY_EXISTS":
                raise


def version_of_run(tracking: Tracking, name: str, run_id: str) -> RegisteredVersion | None:
    """The version registered from a run, if any (the earliest, should a twin exist)."""
    found = tracking.client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    return _registered(min(found, key=lambda v: int(v.version))) if found else None


def register_version(
    tracking: Tracking,
    name: str,
    model_id: str,
    run_id: str,
    tags: Mapping[str, str],
    description: str,
) -> RegisteredVersion:
    """Register the run's model once: a repeat returns the version already there."""
    existing = version_of_run(tracking, name, run_id)
    if existing is not None:
        return existing
    client = tracking.client
    client.create_model_version(
        name,
        source=f"models:/{model_id}",
        run_id=run_id,
        tags=dict(tags),
        description=description,
        model_id=model_id,
    )
    versions = sorted(
        client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'"),
        key=lambda v: int(v.version),
    )
    for twin in versions[1:]:
        client.delete_model_version(name, twin.version)
    return _registered(versions[0])


def get_version(tracking: Tracking, name: str, version: str) -> RegisteredVersion:
    """A version by number; fails loudly (RESOURCE_DOES_NOT_EXIST) on an unknown one."""
    return _registered(tracking.client.get_model_version(name, version))


def version_for_alias(tracking: Tracking, name: str, alias: str) -> str | None:
    """The version an alias points to, or None when no version carries it.

    Read from the registered model: `search_model_versions` returns empty aliases, and
    `get_model_version_by_alias` answers a missing alias with HTTP 400, not 404.
    """
    aliases: dict[str, str] = dict(tracking.client.get_registered_model(name).aliases)
    version = aliases.get(alias)
    return str(version) if version is not None else None


def version_with_alias(tracking: Tracking, name: str, alias: str) -> RegisteredVersion:
    version = version_for_alias(tracking, name, alias)
    if version is None:
        raise AliasNotSetError(
            f"no version of {name} carries the alias '{alias}': run "
            "`python -m flows.promotion` first"
        )
    return get_version(tracking, name, version)


def newest_versions(tracking: Tracking, name: str, limit: int) -> list[str]:
    """The `limit` highest version numbers that are ready to load, newest first."""
    versions = tracking.client.search_model_versions(f"name = '{name}'")
    numbers = sorted((int(v.version) for v in versions if v.status == "READY"), reverse=True)
    return [str(n) for n in numbers[:limit]]


def set_version_tags(tracking: Tracking, name: str, version: str, tags: Mapping[str, str]) -> None:
    for key, value in tags.items():
        tracking.client.set_model_version_tag(name, version, key, value)


def set_description(tracking: Tracking, name: str, version: str, description: str) -> None:
    tracking.client.update_model_version(name, version, description)


def move_alias(tracking: Tracking, name: str, alias: str, version: str) -> None:
    """Point the alias at `version`, then re-read it: there is no compare-and-set in MLflow."""
    tracking.client.set_registered_model_alias(name, alias, version)
    found = version_for_alias(tracking, name, alias)
    if found != version:
        raise AliasMismatchError(
            f"alias '{alias}' of {name} was set to version {version} but now reads "
            f"{found or '(unset)'}: another writer moved it; check who before retrying"
        )


def download_version(tracking: Tracking, name: str, version: str, destination: Path) -> Path:
    """A version's model folder (MLmodel, pickle, code, requirements) as `destination`, whole
    or not at all (it appears by one rename; an existing `destination` raises OSError)."""
    location = tracking.client.get_model_version_download_uri(name, version)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=f".{destination.name}-") as tmp:
        tracking.download(location, Path(tmp)).rename(destination)
    return destination


def fetch_version(tracking: Tracking, found: RegisteredVersion, root: Path) -> Path:
    """The version's model folder under `root`, downloaded once and reused after.

    The folder is named for the version and for what it was registered from (its run and
    source), so another tracking server's, or a re-created registry's, `v1` never reuses this
    one's files. Two processes fetching at once: the first rename wins and both use it."""
    origin = hashlib.sha256(f"{found.run_id}|{found.source}".encode()).hexdigest()[:12]
    folder = (root / f"{found.name}-v{found.version}-{origin}").resolve()
    if not folder.is_dir():
        try:
            download_version(tracking, found.name, found.version, folder)
        except OSError:  # another process fetched it meanwhile: theirs is whole
            if not folder.is_dir():
                raise
    return folder


def _registered(found: ModelVersion) -> RegisteredVersion:
    return RegisteredVersion(
        name=str(found.name),
        version=str(found.version),
        run_id=str(found.run_id or ""),
        source=str(found.source),
        tags=dict(found.tags or {}),
        description=str(found.description or ""),
    )
