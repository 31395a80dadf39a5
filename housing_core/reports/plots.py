"""Figures logged with a run. Uses matplotlib's non-interactive backend; no screen needed."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from housing_core.formatting import format_metric


def dollars_axis(value: float, _position: object = None) -> str:
    """`$250k`, `$1.2M`, `$0`: short dollar ticks."""
    if abs(value) >= 1_000_000:
        return f"${value / 1_000_000:.1f}M"
    if abs(value) >= 1_000:
        return f"${value / 1_000:.0f}k"
    return f"${value:.0f}"


def predicted_vs_actual(actual: np.ndarray, predicted: np.ndarray, title: str) -> Figure:
    """Predicted against actual prices on dollar axes; the title carries the RMSE."""
    figure = Figure(figsize=(6, 6), dpi=100)
    axes = figure.add_subplot()
    axes.scatter(actual, predicted, s=4, alpha=0.35)
    top = float(max(actual.max(), predicted.max()))
    axes.plot([0, top], [0, top], color="black", linewidth=1, label="perfect")
    axes.set_xlabel("actual median house value")
    axes.set_ylabel("predicted median house value")
    for axis in (axes.xaxis, axes.yaxis):
        axis.set_major_formatter(FuncFormatter(dollars_axis))
    rmse = float(np.sqrt(np.mean((np.asarray(actual) - np.asarray(predicted)) ** 2)))
    axes.set_title(f"{title}: RMSE {format_metric('rmse', rmse)}")
    axes.legend(loc="upper left")
    figure.tight_layout()
    return figure


def importance_bars(importance: pd.DataFrame) -> Figure:
    figure = Figure(figsize=(7, 4), dpi=100)
    axes = figure.add_subplot()
    ordered = importance.iloc[::-1]
    axes.barh(ordered["feature"], ordered["rmse_increase"], xerr=ordered["std"])
    axes.xaxis.set_major_formatter(FuncFormatter(dollars_axis))
    axes.set_xlabel("RMSE increase when the column is shuffled")
    axes.set_title("Permutation importance on held-out rows")
    figure.tight_layout()
    return figure


def score_against_params(
    points: dict[str, list[tuple[object, float]]], best: dict[str, object] | None, title: str
) -> Figure:
    """One panel per parameter: each finished trial's score against its value; the best
    trial's value marked. Categorical values (text, None) are placed in their given order."""
    names = list(points) or ["(no parameter)"]
    figure = Figure(figsize=(4 * len(names), 3.6), dpi=100)
    for i, name in enumerate(names, start=1):
        axes = figure.add_subplot(1, len(names), i)
        pairs = points.get(name, [])
        xs, labels = _positions([value for value, _ in pairs])
        axes.scatter(xs, [score for _, score in pairs], s=18, alpha=0.7)
        if best is not None and name in best and pairs:
            chosen = [x for x, (v, _) in zip(xs, pairs, strict=True) if v == best[name]]
            if chosen:
                axes.axvline(chosen[0], color="tab:red", linewidth=1, label="best")
                axes.legend(loc="upper right")
        if labels:
            axes.set_xticks(range(len(labels)), labels)
        axes.set_xlabel(name)
        axes.yaxis.set_major_formatter(FuncFormatter(dollars_axis))
        if i == 1:
            axes.set_ylabel(title)
    figure.tight_layout()
    return figure


def _positions(values: list[object]) -> tuple[list[float], list[str]]:
    """Numbers as they are; otherwise each distinct value's index, with its label."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values], []  # type: ignore[arg-type]
    labels = list(dict.fromkeys(str(v) for v in values))
    return [float(labels.index(str(v))) for v in values], labels
