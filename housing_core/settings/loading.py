"""Building the settings of a run: the one path, and errors that say what to fix and where."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_settings import (
    DotEnvSettingsSource,
    EnvSettingsSource,
    InitSettingsSource,
    SecretsSettingsSource,
)

from housing_core.settings.sections import DEFAULT_FAMILY, FAMILIES, FAMILY_CONFIGS, family_of
from housing_core.settings.tree import CONFIG_FILE_ENV, ENV_PREFIX, LayeredSource, Settings

# Settings that were renamed: an old name left in an environment must not be ignored silently.
RENAMED = {
    "thresholds": "registration_gates",
    "promotion.thresholds": "promotion.gates",
    "promotion.min_improvement": "promotion.gates.min_improvement",
}


class SettingsError(ValueError):
    """A setting breaks its rule: names each field, the layer it came from and the rule."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid settings ({len(problems)} problem(s)):\n{lines}")

    def __reduce__(self) -> tuple[type[SettingsError], tuple[list[str]]]:
        # pickled by its own arguments: it crosses processes (a Dask worker's failure)
        return type(self), (self.problems,)


def load_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """The settings of a run; `overrides` (nested, partial) win over env, secrets and file.

    Raises `SettingsError` naming every invalid field, the layer that gave it and its rule.
    """
    config_file = os.environ.get(CONFIG_FILE_ENV)
    if config_file and not Path(config_file).is_file():
        raise SettingsError([f"{CONFIG_FILE_ENV}={config_file!r}: no such file"])
    plain = _plain(overrides or {})
    problems = _unknown_environment()
    try:
        settings = Settings(**plain)
    except ValidationError as exc:
        raise SettingsError(problems + _describe(exc, plain)) from None
    if problems:
        raise SettingsError(problems)
    return settings


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """Drop unset (None) overrides; pydantic objects become only the fields they were given."""
    plain: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, BaseModel):
            value = value.model_dump(exclude_unset=True) | (
                {"family": value.family} if hasattr(value, "family") else {}
            )
        plain[key] = _plain(value) if isinstance(value, Mapping) else value
    return plain


def _unknown_environment() -> list[str]:
    """`HOUSING_<X>__...` variables whose <X> is no setting: a typo or an old name, never silent."""
    fields = set(Settings.model_fields)
    problems = []
    for name in sorted(os.environ):
        if not name.upper().startswith(ENV_PREFIX) or "__" not in name:
            continue
        top = name[len(ENV_PREFIX) :].split("__", 1)[0].lower()
        if top not in fields:
            rest = name[len(ENV_PREFIX) :].split("__", 1)[1]
            hint = f"; renamed to {_env_name(RENAMED[top])}__{rest}" if top in RENAMED else ""
            problems.append(f"{name} (environment): no setting '{top}'{hint}")
    return problems


def _describe(exc: ValidationError, overrides: Mapping[str, Any]) -> list[str]:
    """One line per error: the dotted field, where its value came from, the value, the rule."""
    values = _layers(overrides).values()
    problems = []
    for error in exc.errors():
        family = next((str(p) for p in error["loc"] if str(p) in FAMILIES), None)
        path = [str(p) for p in error["loc"] if str(p) not in FAMILIES]
        value, rule = error.get("input"), error["msg"]
        if error["type"] == "extra_forbidden" and family is not None and len(path) == 2:
            rule = _not_of_family(path[-1], family)
        if error["type"] == "union_tag_invalid":  # the family: name the field and the choices
            path, value = [*path, "family"], family_of(value)
            rule = f"must be one of {', '.join(FAMILIES)}"
        dotted = ".".join(path)
        shown = "" if error["type"] == "missing" else f" = {value!r}"
        if error["type"] == "extra_forbidden" and dotted in RENAMED:
            rule += f"; renamed to '{RENAMED[dotted]}' ({_env_name(RENAMED[dotted])})"
        problems.append(f"{dotted}{shown} ({_origin(path, values)}): {rule}")
    return problems


def _not_of_family(name: str, family: str) -> str:
    """`n_estimators` given to the default boosting model: say whose it is, and what it takes."""
    owners = [f for f, config in FAMILY_CONFIGS.items() if name in config.model_fields]
    default = " (the default family)" if family == DEFAULT_FAMILY else ""
    takes = ", ".join(n for n in FAMILY_CONFIGS[family].model_fields if n != "family")
    where = (
        f'it belongs to {" and ".join(owners)}: add "family": "{owners[0]}"'
        if owners
        else "no model family has it"
    )
    return f"not a parameter of {family}{default}; {where}. {family} takes: {takes}"


def _layers(overrides: Mapping[str, Any]) -> LayeredSource:
    """The same layers `Settings` merges, to tell which one gave a value."""
    layers = Settings.settings_customise_sources(
        Settings,
        InitSettingsSource(Settings, init_kwargs=dict(overrides)),
        EnvSettingsSource(Settings),
        DotEnvSettingsSource(Settings),
        SecretsSettingsSource(Settings),
    )[0]
    assert isinstance(layers, LayeredSource)
    return layers


def _origin(path: list[str], values: list[tuple[str, dict[str, Any]]]) -> str:
    """The highest layer that holds `path`: where the operator has to look."""
    for label, tree in values:
        node: Any = tree
        for key in path:
            if not isinstance(node, Mapping) or key not in node:
                break
            node = node[key]
        else:
            return _env_name(".".join(path)) if label == "environment" else label
    return "default"


def _env_name(dotted: str) -> str:
    return ENV_PREFIX + "__".join(dotted.upper().split("."))
