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
