"""What a person reads about a batch scoring: the Prefect summary artifact and its figure."""

from __future__ import annotations

from matplotlib.figure import Figure

from housing_core.data.rows import describe_counts
from housing_core.formatting import format_dollars, format_metrics
from housing_core.reports.markdown import markdown_table, metric_lines
from housing_core.reports.plots import predicted_vs_actual
from housing_core.scoring.batch import BatchResult


def summary_line(result: BatchResult, label: str) -> str:
    """`1,000,000 rows priced by housing_price_predictor v3 in 19 s · median $205k · no drift`."""
    median = result.quantiles.get("p50")
    parts = [
        f"{result.priced:,} of {result.rows:,} rows priced by {label} in {result.seconds:.0f} s"
    ]
    if median is not None:
        parts.append(f"median {format_dollars(median)}")
    if result.metrics:
        parts.append(format_metrics({"rmse": result.metrics["rmse"]}))
    if result.drift is not None:
        parts.append(
            f"drift: {', '.join(result.drift.drifted)}" if result.drift.drifted else "no drift"
        )
    if result.contract:
        parts.append(f"{result.flagged + result.refused:,} rows break the contract")
    return " · ".join(parts)


def scoring_report(result: BatchResult, label: str, run_link: str) -> str:
    parts = [
        f"# Batch scoring: {summary_line(result, label)}",
        f"- source: `{result.source}`",
        f"- output: `{result.destination}` ({result.rows:,} rows with "
        "`predicted_median_house_value`, `model_version`, `contract_violations`)",
        f"- {result.rows_per_second:,.0f} rows/s; MLflow run: {run_link}",
        "## Predicted prices",
        markdown_table(
            [{"quantile": q, "price": format_dollars(v)} for q, v in result.quantiles.items()]
        ),
    ]
    if result.metrics:
        parts += ["## Against the actual prices in the file", metric_lines(result.metrics)]
    parts.append("## The data contract")
    if result.contract:
        parts.append(
            f"{result.flagged:,} rows priced with a flag, {result.refused:,} refused (no price):"
        )
        parts += [f"- {line}" for line in describe_counts(result.contract, result.rows)]
    else:
        parts.append("Every row meets the contract.")
    parts.append("## Drift from the model's training data")
    if result.drift is None:
        parts.append("_The version ships no reference profile (trained before profiles)._")
    else:
        drifted = ", ".join(result.drift.drifted) or "none"
        parts += [f"Drifted: **{drifted}**.", markdown_table(result.drift.table())]
    return "\n\n".join(parts)


def predicted_vs_actual_figure(result: BatchResult) -> Figure | None:
    """The sampled rows' predicted against actual prices, when the file has the prices."""
    if not result.actual.size:
        return None
    return predicted_vs_actual(
        result.actual, result.predicted, f"{result.actual.size:,} sampled rows"
    )
