"""The drift report as a figure, for logging with a run or a scoring job.

One bar per feature: its deciding score divided by that score's drift threshold, so every
bar shares one axis (1 = drift) whatever the score; a tick marks where watch begins, the
colour is the status and the label names the score and its value.
"""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from housing_core.drift import DriftReport

STATUS_COLOURS = {"ok": "#4c9a2a", "watch": "#e69f00", "drift": "#c0392b"}
MOST = 3.0  # bars past three times the drift threshold are cut there (the label says how far)


def drift_figure(report: DriftReport, title: str = "Drift against the training data") -> Figure:
    """Horizontal bars of score / drift threshold per feature, coloured ok / watch / drift."""
    features = list(reversed(report.features))
    figure = Figure(figsize=(8, 0.9 + 0.42 * max(len(features), 1)), dpi=100)
    axes = figure.add_subplot()
    for row, feature in enumerate(features):
        main = feature.main_score
        value = feature.scores[main]
        watch, drift = feature.thresholds[main]
        ratio = 0.0 if value != value or drift <= 0 else value / drift
        axes.barh(row, min(ratio, MOST), color=STATUS_COLOURS[feature.status], height=0.7)
        if drift > 0:
            axes.plot([watch / drift] * 2, [row - 0.4, row + 0.4], color="#555555", linewidth=1)
        label = f"{main} {value:.3g} (drift at {drift:.3g})" if value == value else f"{main} n/a"
        axes.text(min(ratio, MOST) + 0.03, row, label, va="center", fontsize=8)
    axes.axvline(1.0, color=STATUS_COLOURS["drift"], linestyle="--", linewidth=1)
    axes.set_yticks(range(len(features)), [f.name for f in features])
    axes.set_xlim(0, MOST + 1.4)
    axes.set_xticks([0, 0.5, 1, 1.5, 2, 2.5, 3])
    legend = [Patch(color=colour, label=status) for status, colour in STATUS_COLOURS.items()]
    axes.legend(handles=legend, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=3, fontsize=8)
    axes.set_xlabel("score / its drift threshold (| marks watch, dashed line drift)")
    counts = f"{len(report.drifted)} drift, {len(report.watch)} watch of {len(features)}"
    axes.set_title(f"{title}\n{report.rows:,} rows; {counts}", fontsize=10, loc="left")
    figure.tight_layout()
    return figure
