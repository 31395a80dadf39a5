"""The model registry: idempotent registration, lineage lookups, aliases and downloads."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import LoggedModel
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException, RestException

from housing_core.reports.versions import with_serving_record
from housing_core.tracking.connection import Tracking
from housing_core.tracking.lineage import CODE_VERSION_TAG, TRAINING_KEY_TAG


class AliasNotSetError(LookupError):
    """No version carries the alias yet: run the promotion flow first."""


@dataclass(frozen=True)
class RegisteredVersion:
    """One registered version, as serving and the reports name it."""

    name: str
    version: str
    run_id: str
    source: str
    code_version: str = ""

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def describe(self) -> str:
        return f"{self.name} version {self.version} (run {self.run_id}, {self.source})"


def ensure_registered_model(client: MlflowClient, name: str) -> None:
    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        try:
            client.create_registered_model(
                name,
                description="California median house value per block group, in dollars. "
                "Takes the raw housing.csv columns (without the target).",
            )
        except RestException as race:  # created meanwhile by a concurrent run
            if race.error_code != "RESOURCE_ALREADY_EXISTS":
                raise


def find_version_by_training_key(client: MlflowClient, name: str, key: str) -> ModelVersion | None:
    """The earliest version registered for this exact training, if any."""
    found = client.search_model_versions(f"name = '{name}' and tags.`{TRAINING_KEY_TAG}` = '{key}'")
    return min(found, key=lambda v: int(v.version)) if found else None


def register_version(
    client: MlflowClient,
    name: str,
    model: LoggedModel,
    run_id: str,
    tags: dict[str, str],
    description: str,
) -> ModelVersion:
    """Register once: a POST the client retried can create a twin, which is removed here."""
    ensure_registered_model(client, name)
    existing = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    if existing:
        return min(existing, key=lambda v: int(v.version))
    client.create_model_version(
        name,
        source=f"models:/{model.model_id}",
        run_id=run_id,
        tags=tags,
        description=description,
        model_id=model.model_id,
    )
    versions = sorted(
        client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'"),
        key=lambda v: int(v.version),
    )
    for twin in versions[1:]:
        client.delete_model_version(name, twin.version)
    return versions[0]


def get_version(client: MlflowClient, name: str, version: str) -> RegisteredVersion:
    """A version by number; fails loudly (RESOURCE_DOES_NOT_EXIST) on an unknown one."""
    found = client.get_model_version(name, version)
    return RegisteredVersion(
        name,
        str(found.version),
        str(found.run_id or ""),
        str(found.source),
        str((found.tags or {}).get(CODE_VERSION_TAG, "")),
    )


def version_with_alias(client: MlflowClient, name: str, alias: str) -> RegisteredVersion:
    version = version_for_alias(client, name, alias)
    if version is None:
        raise AliasNotSetError(
            f"no version of {name} carries the alias '{alias}': run "
            "`python -m flows.promotion` first"
        )
    return get_version(client, name, version)


def download_version(tracking: Tracking, name: str, version: str, destination: Path) -> Path:
    """A version's model folder (MLmodel, pickle, code, requirements) as `destination`, whole
    or not at all (it appears by one rename; an existing `destination` raises OSError)."""
    location = tracking.client.get_model_version_download_uri(name, version)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=f".{destination.name}-") as tmp:
        tracking.download(location, Path(tmp)).rename(destination)
    return destination


class AliasMismatchError(RuntimeError):
    """After a move, the alias does not point where it was set: another writer got in between."""


def version_for_alias(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version an alias points to, or None when no version carries it.

    Read from the registered model: `search_model_versions` returns empty aliases, and
    `get_model_version_by_alias` answers a missing alias with HTTP 400, not 404.
    """
    aliases: dict[str, str] = dict(client.get_registered_model(name).aliases)
    version = aliases.get(alias)
    return str(version) if version is not None else None


def newest_versions(client: MlflowClient, name: str, limit: int) -> list[str]:
    """The `limit` highest version numbers that are ready to load, newest first."""
    versions = client.search_model_versions(f"name = '{name}'")
    ready = [v for v in versions if v.status == "READY"]
    numbers = sorted((int(v.version) for v in ready), reverse=True)
    return [str(n) for n in numbers[:limit]]


def version_tags(client: MlflowClient, name: str, version: str) -> dict[str, str]:
    return dict(client.get_model_version(name, version).tags)


def set_version_tags(client: MlflowClient, name: str, version: str, tags: dict[str, str]) -> None:
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)


def describe_version(client: MlflowClient, name: str, version: str, serving_record: str) -> None:
    """Replace the serving section of a version's description (the rest stays)."""
    current = client.get_model_version(name, version).description or ""
    client.update_model_version(name, version, with_serving_record(current, serving_record))


def move_alias(client: MlflowClient, name: str, alias: str, version: str) -> None:
    """Point the alias at `version`, then re-read it: there is no compare-and-set in MLflow."""
    client.set_registered_model_alias(name, alias, version)
    found = version_for_alias(client, name, alias)
    if found != version:
        raise AliasMismatchError(
            f"alias '{alias}' of {name} was set to version {version} but now reads "
            f"{found or '(unset)'}: another writer moved it; check who before retrying"
        )
