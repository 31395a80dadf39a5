"""A search space: which model family, which hyperparameters vary and over what, read from YAML.

```yaml
family: random_forest
params:
  n_estimators: {type: int, low: 100, high: 300, step: 50}
  max_depth: {type: categorical, choices: [12, 20, 32, null]}
  learning_rate: {type: float, low: 0.02, high: 0.3, log: true}
fixed:            # held for every trial, over the family's defaults
  min_samples_leaf: 1
```

Every key is checked before anything starts: an unknown family or parameter, a missing or
misspelt field, a range whose ends the model's own settings refuse. `SpaceError` lists every
problem, each naming its key (`params.max_depth.high`) and the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from housing_core.settings import ModelConfig
from housing_core.settings.sections import FAMILIES, FAMILY_CONFIGS

SPACES_DIR = Path(__file__).resolve().parent / "spaces"
Kind = Literal["int", "float", "categorical"]
_KINDS: tuple[Kind, ...] = ("int", "float", "categorical")
_KEYS: dict[str, set[str]] = {
    "int": {"type", "low", "high", "step", "log"},
    "float": {"type", "low", "high", "step", "log"},
    "categorical": {"type", "choices"},
}
_UNTUNED = {"family", "features", "random_state", "fit_threads"}


class SpaceError(ValueError):
    """A search space breaks a rule: names each key, the rule, and the file it came from."""

    def __init__(self, origin: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid search space {origin} ({len(problems)} problem(s)):\n{lines}")
        self.origin = origin

    def __reduce__(self) -> tuple[type[SpaceError], tuple[str, list[str]]]:
        # pickled by its own arguments: it crosses processes (a Dask worker's failure)
        return type(self), (self.origin, self.problems)


@dataclass(frozen=True)
class Param:
    """One hyperparameter's range: ints and floats between two ends, or a list of choices."""

    name: str
    kind: Kind
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def grid(self) -> list[Any]:
        """Every value the grid sampler tries (ints by their step, floats need one)."""
        if self.kind == "categorical":
            return list(self.choices)
        assert self.low is not None and self.high is not None and self.step is not None
        count = round((self.high - self.low) / self.step) + 1
        values = [self.low + i * self.step for i in range(count)]
        return [int(v) for v in values] if self.kind == "int" else [round(v, 12) for v in values]


@dataclass(frozen=True)
class SearchSpace:
    family: str
    params: tuple[Param, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    origin: str = "<given>"

    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def grid(self) -> dict[str, list[Any]]:
        return {p.name: p.grid() for p in self.params}

    def config(self, values: Mapping[str, Any], base: ModelConfig | None = None) -> ModelConfig:
        """The model configuration of one trial: `base` (if of this family), the fixed
        values, then the trial's values."""
        start = base.model_dump() if base is not None and base.family == self.family else {}
        merged = {**start, **self.fixed, **values, "family": self.family}
        return FAMILY_CONFIGS[self.family].model_validate(merged)


def default_space_file(family: str) -> Path:
    """The space shipped for a family (`spaces/<family>.yaml`)."""
    return SPACES_DIR / f"{family}.yaml"


def load_space(path: str | Path) -> SearchSpace:
    """Read and check a space file; a family's name (`random_forest`) reads the shipped one."""
    if str(path) in FAMILIES:
        path = default_space_file(str(path))
    location = Path(path)
    origin = str(path)
    try:
        tree = yaml.safe_load(location.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpaceError(origin, [f"cannot be read: {exc.strerror or exc}"]) from exc
    except yaml.YAMLError as exc:
        raise SpaceError(origin, [f"is not YAML: {str(exc).splitlines()[0]}"]) from exc
    return parse_space(tree, origin)


def parse_space(tree: object, origin: str = "<given>") -> SearchSpace:
    """Check a space given as plain values; every problem is listed at once."""
    if not isinstance(tree, Mapping):
        raise SpaceError(origin, ["the file must hold a mapping with `family` and `params`"])
    problems = [
        f"{k}: unknown key (expected family, params, fixed)"
        for k in tree
        if k not in ("family", "params", "fixed")
    ]
    family = tree.get("family")
    if family not in FAMILIES:
        problems.append(f"family: {family!r} is not a model family (one of {', '.join(FAMILIES)})")
        raise SpaceError(origin, problems)
    fields = FAMILY_CONFIGS[family].model_fields
    tunable = sorted(set(fields) - _UNTUNED)
    raw_params = tree.get("params")
    if not isinstance(raw_params, Mapping) or not raw_params:
        problems.append("params: must map at least one hyperparameter to its range")
        raw_params = {}
    params: list[Param] = []
    for name, spec in raw_params.items():
        key = f"params.{name}"
        if name not in tunable:
            problems.append(
                f"{key}: not a hyperparameter of {family} (one of {', '.join(tunable)})"
            )
            continue
        param, found = _param(str(name), spec, key)
        problems += found
        if param is not None:
            problems += _ends_allowed(family, param, key)
            params.append(param)
    fixed = tree.get("fixed") or {}
    if not isinstance(fixed, Mapping):
        problems.append("fixed: must map hyperparameters to values")
        fixed = {}
    for name in fixed:
        if name not in fields or name == "family":
            problems.append(f"fixed.{name}: not a setting of {family}")
        elif name in raw_params:
            problems.append(f"fixed.{name}: also in params (a value is fixed or searched)")
    if not problems and fixed:
        problems += _rejected(family, dict(fixed), "fixed")
    if problems:
        raise SpaceError(origin, problems)
    return SearchSpace(family, tuple(params), dict(fixed), origin)


def _param(name: str, spec: object, key: str) -> tuple[Param | None, list[str]]:
    if not isinstance(spec, Mapping):
        return None, [f"{key}: must be a mapping like {{type: int, low: 1, high: 9}}"]
    kind = spec.get("type")
    if kind not in _KINDS:
        return None, [f"{key}.type: {kind!r} is not one of {', '.join(_KINDS)}"]
    problems = [f"{key}.{k}: unknown key for type {kind}" for k in spec if k not in _KEYS[kind]]
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            return None, [*problems, f"{key}.choices: must be a non-empty list"]
        return Param(name, kind, choices=tuple(choices)), problems
    ends: dict[str, float] = {}
    for end in ("low", "high"):
        value = spec.get(end)
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not is_number or (kind == "int" and not isinstance(value, int)):
            problems.append(f"{key}.{end}: must be {'an integer' if kind == 'int' else 'a number'}")
        else:
            ends[end] = float(value)  # type: ignore[arg-type]
    step, log = spec.get("step"), bool(spec.get("log", False))
    if step is not None and (not isinstance(step, (int, float)) or step <= 0):
        problems.append(f"{key}.step: must be a positive number")
        step = None
    if len(ends) == 2 and ends["low"] >= ends["high"]:
        problems.append(f"{key}: low ({ends['low']:g}) must be below high ({ends['high']:g})")
    if log and step is not None:
        problems.append(f"{key}: log and step cannot go together")
    if log and ends.get("low", 1.0) <= 0:
        problems.append(f"{key}.low: must be above 0 on a log scale")
    if problems:
        return None, problems
    if kind == "int" and step is None:
        step = 1
    return Param(name, kind, ends["low"], ends["high"], step, log), []


def _ends_allowed(family: str, param: Param, key: str) -> list[str]:
    """The model's own settings must accept both ends (or every choice)."""
    if param.kind == "categorical":
        probes = {f"{key}.choices[{i}]": v for i, v in enumerate(param.choices)}
    else:
        assert param.low is not None and param.high is not None
        cast = int if param.kind == "int" else float
        probes = {f"{key}.low": cast(param.low), f"{key}.high": cast(param.high)}
    problems: list[str] = []
    for where, value in probes.items():
        problems += _rejected(family, {param.name: value}, where)
    return problems


def _rejected(family: str, values: dict[str, Any], where: str) -> list[str]:
    try:
        FAMILY_CONFIGS[family].model_validate({**values, "family": family})
    except ValidationError as exc:
        return [f"{where}: {e['msg']} (got {e.get('input')!r})" for e in exc.errors()]
    return []
