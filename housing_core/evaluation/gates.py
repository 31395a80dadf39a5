"""Quality gates: each held-out metric against its limit, with the margin when it misses."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from housing_core.data.contract import FEATURE_COLUMNS, TARGET
from housing_core.evaluation.metrics import regression_metrics
from housing_core.formatting import format_metric
from housing_core.settings import QualityGates


class Predictor(Protocol):
    """Anything fitted that predicts prices from raw feature columns (the model's Pipeline)."""

    def predict(self, X: pd.DataFrame) -> Any: ...


@dataclass(frozen=True)
class Check:
    """One gate: `rmse <= 70000`, with the measured value and whether it passed."""

    metric: str
    rule: str
    limit: float
    value: float

    @property
    def passed(self) -> bool:
        if math.isnan(self.value):
            return False
        return self.value <= self.limit if self.rule == "<=" else self.value >= self.limit

    def describe(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        value, limit = (
            format_metric(self.metric, self.value),
            format_metric(self.metric, self.limit),
        )
        return f"{self.metric} = {value} (must be {self.rule} {limit}): {verdict}"

    def miss(self) -> str:
        """`rmse gate: $72,345 > $70,000 (over by $2,345)`, or '' when the check passed."""
        if self.passed:
            return ""
        over, side = ("over", ">") if self.rule == "<=" else ("under", "<")
        value, limit = (
            format_metric(self.metric, self.value),
            format_metric(self.metric, self.limit),
        )
        gap = format_metric(self.metric, abs(self.value - self.limit))
        return f"{self.metric} gate: {value} {side} {limit} ({over} by {gap})"


@dataclass(frozen=True)
class Evaluation:
    """Metrics and checks on the held-out rows, with the predictions they were computed from."""

    metrics: dict[str, float]
    checks: tuple[Check, ...]
    n_rows: int
    predicted: np.ndarray

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def failures(self) -> list[str]:
        return [c.describe() for c in self.checks if not c.passed]

    def table(self) -> list[dict[str, object]]:
        return [
            {
                "metric": c.metric,
                "value": format_metric(c.metric, c.value),
                "rule": f"{c.rule} {format_metric(c.metric, c.limit)}",
                "result": "pass" if c.passed else "**FAIL**",
            }
            for c in self.checks
        ]


def check_gates(metrics: dict[str, float], gates: QualityGates) -> tuple[Check, ...]:
    return (
        Check("rmse", "<=", gates.max_rmse, metrics["rmse"]),
        Check("mae", "<=", gates.max_mae, metrics["mae"]),
        Check("r2", ">=", gates.min_r2, metrics["r2"]),
        Check("mape", "<=", gates.max_mape, metrics["mape"]),
    )


def evaluate_model(model: Predictor, test: pd.DataFrame, gates: QualityGates) -> Evaluation:
    """Score the held-out rows and check every registration gate."""
    if test.empty:
        raise ValueError("no held-out rows to evaluate on")
    predicted = np.asarray(model.predict(test.loc[:, list(FEATURE_COLUMNS)]), dtype=float)
    metrics = regression_metrics(test[TARGET].to_numpy(), predicted)
    return Evaluation(metrics, check_gates(metrics, gates), len(test), predicted)
