"""Which interpreter a registered version runs in: its own pinned requirements decide.

A version's `requirements.txt` pins what trained it (`scikit-learn==1.9.1`, ...). When this
interpreter has every one of those versions, the version runs in a fresh process of it: a
new process, so that the version's own code is the only `housing_core` it sees. Otherwise a
virtual environment is built from the requirements alone, once per distinct set (keyed by
their hash, under a lock so that concurrent runs build it once), and the version runs there,
as `mlflow models serve --env-manager virtualenv` or a model server would run it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from housing_core.settings import EnvironmentPolicy

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^;\s]+)$")
_COMPLETE = ".housing-environment-complete"


class EnvironmentBuildError(RuntimeError):
    """A version's requirements could not be installed into an environment of its own."""


@dataclass(frozen=True)
class Interpreter:
    """The Python a version runs in, and why that one."""

    python: Path
    reason: str


# What a process that unpickles a version inherits: the basics a Python process needs, and no
# credential (no MLFLOW_*, AWS_*, PREFECT_*, HOUSING_* or lock URLs): it needs none of them.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "OMP_NUM_THREADS")


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a process that runs a registered version's pickle."""
    basics = {name: os.environ[name] for name in INHERITED if name in os.environ}
    return {**basics, **(extra or {})}


def read_requirements(model_dir: Path) -> list[str]:
    """The requirement lines a logged model lists (comments and blanks dropped)."""
    path = model_dir / "requirements.txt"
    if not path.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def unmet(requirements: list[str]) -> list[str]:
    """The requirements this interpreter does not meet exactly (anything but `name==version`
    counts as unmet: only a pin can be checked without installing)."""
    missing = []
    for line in requirements:
        match = _PIN.match(line)
        if match is None:
            missing.append(line)
            continue
        name, _, version = match.groups()
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(line)
            continue
        if installed != version:
            missing.append(f"{line} (here: {installed})")
    return missing


# What the scoring server itself runs on, beside a version's own requirements (as MLflow adds
# itself to a model's environment), pinned to this environment's versions: uvicorn with its
# C HTTP parser and event loop, and the metrics client.
RUNTIME_PACKAGES = ("uvicorn", "httptools", "uvloop", "prometheus-client")


def runtime_requirements() -> list[str]:
    return [f"{name}=={metadata.version(name)}" for name in RUNTIME_PACKAGES]


def interpreter_for(
    model_dir: Path,
    environments: Path,
    policy: EnvironmentPolicy = "auto",
    extra: list[str] | None = None,
) -> Interpreter:
    """With "auto", this interpreter if it meets every pin (the version's and `extra`), else
    the version's own environment (built if missing); with "own", always its own."""
    requirements = read_requirements(model_dir) + [
        line for line in extra or [] if line not in read_requirements(model_dir)
    ]
    missing = unmet(requirements)
    if policy == "auto" and not missing:
        return Interpreter(Path(sys.executable), "this environment meets every pinned requirement")
    python = ensure_environment(requirements, environments)
    why = ", ".join(missing) if missing else "asked for"
    return Interpreter(python, f"own environment {python.parents[1].name} ({why})")


def environment_key(requirements: list[str]) -> str:
    """One environment per Python minor version and set of requirements."""
    payload = "\n".join(
        [f"python{sys.version_info[0]}.{sys.version_info[1]}", *sorted(requirements)]
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def ensure_environment(requirements: list[str], environments: Path) -> Path:
    """The python of a virtual environment holding exactly `requirements`, built if missing."""
    root = (environments / environment_key(requirements)).resolve()
    python = root / "bin" / "python"
    environments.mkdir(parents=True, exist_ok=True)
    with (environments / f"{root.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent run waits, then finds it built
        if (root / _COMPLETE).is_file():
            return python
        _build(root, requirements)
        (root / _COMPLETE).write_text("\n".join(requirements) + "\n")
    return python


def _build(root: Path, requirements: list[str]) -> None:
    listed = root.parent / f"{root.name}-requirements.txt"
    listed.write_text("\n".join(requirements) + "\n")
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(root)],
        [str(root / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r", str(listed)],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            raise EnvironmentBuildError(
                f"{' '.join(step[-3:])} failed (exit {done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-1500:]}"
            )
