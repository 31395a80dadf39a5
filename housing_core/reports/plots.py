"""Figures logged with a run. Uses matplotlib's non-interactive backend; no screen needed."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def predicted_vs_actual(actual: np.ndarray, predicted: np.ndarray, title: str) -> Figure:
    figure = Figure(figsize=(6, 6), dpi=100)
    axes = figure.add_subplot()
    axes.scatter(actual, predicted, s=4, alpha=0.35)
    top = float(max(actual.max(), predicted.max()))
    axes.plot([0, top], [0, top], color="black", linewidth=1, label="perfect")
    axes.set_xlabel("actual median house value ($)")
    axes.set_ylabel("predicted ($)")
    axes.set_title(title)
    axes.legend(loc="upper left")
    figure.tight_layout()
    return figure


def importance_bars(importance: pd.DataFrame) -> Figure:
    figure = Figure(figsize=(7, 4), dpi=100)
    axes = figure.add_subplot()
    ordered = importance.iloc[::-1]
    axes.barh(ordered["feature"], ordered["rmse_increase"], xerr=ordered["std"])
    axes.set_xlabel("RMSE increase when the column is shuffled ($)")
    axes.set_title("Permutation importance on held-out rows")
    figure.tight_layout()
    return figure
