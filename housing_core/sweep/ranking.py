"""Trials as a sweep reports them: each one's outcome, ranked best first."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from housing_core.formatting import format_metric

TrialState = Literal["complete", "failed"]


@dataclass(frozen=True)
class TrialOutcome:
    """One finished trial: its values, its validation metrics (none if it failed), where it ran."""

    number: int
    params: Mapping[str, Any]
    state: TrialState
    metrics: Mapping[str, float] = field(default_factory=dict)
    worker: str = ""
    seconds: float = 0.0
    error: str = ""
    cached: bool = False

    @property
    def value(self) -> float:
        """The objective (validation RMSE); +inf for a failed trial, so it ranks last."""
        return float(self.metrics.get("rmse", math.inf)) if self.state == "complete" else math.inf


def rank(outcomes: Iterable[TrialOutcome]) -> list[TrialOutcome]:
    """Best first: lowest validation RMSE, failed trials last, ties by trial number."""
    return sorted(outcomes, key=lambda o: (o.value, o.number))


def best(outcomes: Iterable[TrialOutcome]) -> TrialOutcome | None:
    ranked = [o for o in rank(outcomes) if o.state == "complete"]
    return ranked[0] if ranked else None


def ranking_rows(outcomes: Iterable[TrialOutcome], names: list[str]) -> list[dict[str, str]]:
    """One row per trial, best first, every cell a string (what a table artifact shows)."""
    rows = []
    for place, o in enumerate(rank(outcomes), start=1):
        row = {"rank": str(place) if o.state == "complete" else "-", "trial": str(o.number)}
        row.update({name: str(o.params.get(name, "")) for name in names})
        for metric in ("rmse", "mae", "r2"):
            row[f"validation {metric}"] = (
                format_metric(metric, o.metrics[metric]) if metric in o.metrics else ""
            )
        row.update({"state": o.state, "worker": o.worker, "error": o.error[:120]})
        rows.append(row)
    return rows


def ranking_csv_rows(outcomes: Iterable[TrialOutcome], names: list[str]) -> list[dict[str, Any]]:
    """The same ranking with raw numbers, for a CSV a person sorts or plots again."""
    return [
        {
            "trial": o.number,
            **{name: o.params.get(name) for name in names},
            **{f"validation_{k}": v for k, v in o.metrics.items()},
            "state": o.state,
            "worker": o.worker,
            "seconds": round(o.seconds, 3),
            "error": o.error,
        }
        for o in rank(outcomes)
    ]
