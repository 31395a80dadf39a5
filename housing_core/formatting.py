"""One number format for every report, description, tag and log line.

Dollars with thousands separators (RMSE, MAE), R² to four places, MAPE as a percentage, so a
figure reads the same in the Prefect report, the MLflow registry and the logs.
"""

from __future__ import annotations

DOLLAR_METRICS = ("rmse", "mae")


def format_metric(metric: str, value: float) -> str:
    """`$39,166`, `0.8827`, `13.08%`; any other metric with four significant digits."""
    if value != value:  # NaN: not scored
        return "n/a"
    if metric in DOLLAR_METRICS:
        return format_dollars(value)
    if metric == "r2":
        return f"{value:.4f}"
    if metric == "mape":
        return f"{value:.2%}"
    return f"{value:,.4g}"


def format_dollars(value: float) -> str:
    """`$39,166`, `-$120`."""
    return f"-${-value:,.0f}" if value < 0 else f"${value:,.0f}"


def format_metrics(metrics: dict[str, float]) -> str:
    """`rmse $39,166, mae $25,012, r2 0.8827, mape 13.08%`."""
    return ", ".join(f"{name} {format_metric(name, value)}" for name, value in metrics.items())


def format_share(value: float) -> str:
    """A share as a percentage with two decimals: `0.50%`."""
    return f"{value:.2%}"
