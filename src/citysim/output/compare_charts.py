"""Charts of `citysim compare`: the change of B against A in percent, a dot with its interval per row,
per metric and per district. DataFrames in (comparison.csv's rows), Figures out."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from citysim.output.style import CHANGE_COLOURS, new_figure, styled

AXIS_LABEL = "change of B against A (%): 100 (mean B / mean A - 1)"


def _side(row: dict[str, float]) -> str:
    """'longer' or 'shorter' when the interval (or, without one, the change) lies on one side of 0."""
    low, high, change = row["ci_low_pct"], row["ci_high_pct"], row["change_pct"]
    if math.isnan(low):
        low = high = change
    if low > 0:
        return "longer"
    if high < 0:
        return "shorter"
    return "unclear"


def _dots(axis: Axes, rows: pd.DataFrame, labels: list[str]) -> None:
    """One row per line, top to bottom: the change as a dot, its interval as a bar, a line at 0."""
    y = np.arange(len(rows))[::-1]
    for position, row in zip(y, rows.to_dict("records"), strict=True):
        colour = CHANGE_COLOURS[_side(row)]
        axis.plot([row["ci_low_pct"], row["ci_high_pct"]], [position, position], color=colour, lw=3)
        axis.plot(row["change_pct"], position, "o", color=colour, markersize=6)
    axis.axvline(0.0, color="black", lw=0.8)
    axis.set_yticks(y, labels)
    axis.set_ylim(-0.7, len(rows) - 0.3)
    axis.set_xlabel(AXIS_LABEL)


def change_by_metric_chart(overall: pd.DataFrame, confidence: float) -> Figure:
    """Each metric's change over all incidents, with its interval (right of 0: B longer)."""
    figure = new_figure(7.0, 0.45 * len(overall) + 1.4)
    _dots(figure.subplots(), overall, [str(m) for m in overall["metric"]])
    figure.suptitle(f"Change of B against A with {100 * confidence:g} % CI (right of 0: B longer; "
                    "vermillion longer, blue shorter, grey unclear)", fontsize=9)
    return styled(figure)


def change_by_district_chart(districts: pd.DataFrame, confidence: float) -> Figure:
    """Per metric a panel, per incident district a row: the change with its interval."""
    metrics = list(dict.fromkeys(districts["metric"]))
    names = sorted(dict.fromkeys(districts["group"]))
    figure = new_figure(3.4 * len(metrics) + 1.2, 0.28 * len(names) + 1.6)
    axes = figure.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
    for axis, metric in zip(axes, metrics, strict=True):
        rows = districts[districts["metric"] == metric].set_index("group").reindex(names).reset_index()
        _dots(axis, rows, names)
        axis.set_title(str(metric))
        axis.xaxis.label.set_text("change (%)")
    figure.suptitle(f"Change of B against A by the incident's district, with {100 * confidence:g} % CI "
                    "(right of 0: B longer)", fontsize=9)
    return styled(figure)
