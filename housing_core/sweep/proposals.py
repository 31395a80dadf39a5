"""What Optuna proposes: the sampler a sweep asks, and one trial's values drawn from a space."""

from __future__ import annotations

from typing import Any

import optuna

from housing_core.settings.jobs import Sampler
from housing_core.sweep.space import SearchSpace


def make_sampler(kind: Sampler, seed: int, space: SearchSpace) -> optuna.samplers.BaseSampler:
    """TPE (the default; with parallel trials it lies that a running trial scored its
    constant, so two trials in flight are not proposed the same values), random, or the
    whole grid of the space (ints by their step; floats need one)."""
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "grid":
        return AskTellGrid(space.grid(), seed=seed)
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


class AskTellGrid(optuna.samplers.GridSampler):
    """Optuna's grid, without its stop when the grid is done: `Study.stop` only works inside
    `optimize`, and an ask-and-tell sweep counts its trials itself (at most the grid's size)."""

    def after_trial(self, *args: Any, **kwargs: Any) -> None:
        return None


def grid_size(space: SearchSpace) -> int:
    size = 1
    for values in space.grid().values():
        size *= len(values)
    return size


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """One value per parameter of the space, as Optuna's sampler proposes it."""
    values: dict[str, Any] = {}
    for p in space.params:
        if p.kind == "categorical":
            values[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        elif p.kind == "int":
            assert p.low is not None and p.high is not None
            step = 1 if p.log else int(p.step or 1)
            values[p.name] = trial.suggest_int(
                p.name, int(p.low), int(p.high), step=step, log=p.log
            )
        else:
            assert p.low is not None and p.high is not None
            values[p.name] = trial.suggest_float(p.name, p.low, p.high, step=p.step, log=p.log)
    return values
