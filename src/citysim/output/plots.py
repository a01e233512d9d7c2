"""Charts of an experiment: each takes tidy DataFrames (as written in a results folder) and returns a
matplotlib Figure. Nothing here writes files or shows windows; `citysim.output.figures` saves them.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from citysim.output.style import BASELINE, CONFIG_COLOURS, NEUTRAL, SMART, VERDICT_COLOURS, new_figure, styled

METRIC_LABELS = {
    "arrival": "arrival (call to first unit on scene)",
    "handling": "handling (first unit on scene to cleared)",
    "handling_call_to_clear": "handling (call to cleared)",
}


SHORT_LABELS = {"arrival": "arrival", "handling": "on-scene handling", "handling_call_to_clear": "call-to-clear",
                "arrival_from_occurrence": "arrival from occurrence", "arrival_from_dispatch": "arrival from dispatch",
                "handling_arrival_to_closed": "arrival-to-closed", "handling_call_to_closed": "call-to-closed"}


def _label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def _short(metric: str) -> str:
    return SHORT_LABELS.get(metric, metric)


def _titled(situation: object, longest: int = 60) -> str:
    """A situation's name as a title can hold it (a long name is cut, so the chart keeps its layout)."""
    name = str(situation)
    return name if len(name) <= longest else name[: longest - 1].rstrip() + "…"


def claim_chart(claims: pd.DataFrame) -> Figure:
    """Reduction per situation and metric with its CI, the claimed reduction as a reference line (its value
    in the panel's title), and the verdict as the marker's colour; one legend below the panels, off the data."""
    rows = claims[claims["priority"].astype(str) == "all"]
    metrics = list(dict.fromkeys(rows["metric"]))
    figure = new_figure(3.2 * len(metrics) + 1.0, 0.45 * rows["scenario"].nunique() + 2.3)
    axes = figure.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
    legend: dict[str, Any] = {}
    for axis, metric in zip(axes, metrics, strict=True):
        data = rows[rows["metric"] == metric].reset_index(drop=True)
        y = np.arange(len(data))[::-1]
        for position, row in zip(y, data.to_dict("records"), strict=True):
            colour = VERDICT_COLOURS.get(str(row["verdict"]), NEUTRAL)
            axis.plot([row["ci_low_pct"], row["ci_high_pct"]], [position, position], color=colour, lw=3)
            legend[str(row["verdict"])] = axis.plot(row["reduction_pct"], position, "o", color=colour,
                                                    markersize=6)[0]
        claimed = float(data["claimed_pct"].iloc[0])
        claim_line = axis.axvline(claimed, color="black", ls="--", lw=1)
        axis.set_yticks(y, [_titled(s, 40) for s in data["scenario"]])
        axis.set_xlabel("reduction, smart vs baseline (%)")
        axis.set_title(f"{_label(str(metric))}\nclaimed {claimed:g} %")
    legend["claimed reduction"] = claim_line
    figure.legend(legend.values(), legend.keys(), loc="outside lower center", ncols=len(legend), frameon=False)
    figure.suptitle("Does smart policing cut the times as claimed? Reduction with 95 % CI, by situation")
    return styled(figure)


#: Colours of the situations in the services chart (Okabe & Ito, then greys).
SITUATION_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def services_chart(services: pd.DataFrame, labels: dict[str, str]) -> Figure:
    """Each traffic service's metrics: the reduction, smart vs baseline, with its CI, one marker per situation
    (a negative reduction is a worsening); `labels` names the metrics. Two panels a row, labels wrapped."""
    service_names = list(dict.fromkeys(services["service"]))
    situations = list(dict.fromkeys(services["situation"]))
    rows_of = services.groupby("service")["metric"].nunique()
    columns = min(len(service_names), 2)
    grid = math.ceil(len(service_names) / columns)
    figure = new_figure(6.2 * columns, (0.55 * int(rows_of.max()) + 1.2) * grid + 0.8)
    axes = figure.subplots(grid, columns, squeeze=False).ravel()
    for axis in axes[len(service_names):]:
        axis.set_visible(False)
    spread = 0.6 / max(len(situations), 1)
    for axis, service in zip(axes, service_names, strict=False):
        data = services[services["service"] == service]
        metrics = list(dict.fromkeys(data["metric"]))
        y = {metric: float(len(metrics) - 1 - k) for k, metric in enumerate(metrics)}
        for index, situation in enumerate(situations):
            colour = SITUATION_COLOURS[index % len(SITUATION_COLOURS)]
            rows = data[data["situation"] == situation]
            offset = 0.3 - spread * (index + 0.5)
            positions = [y[m] + offset for m in rows["metric"]]
            axis.hlines(positions, rows["ci_low_pct"], rows["ci_high_pct"], color=colour, lw=2)
            axis.plot(rows["reduction_pct"], positions, "o", color=colour, markersize=4, label=_titled(situation, 30))
        axis.axvline(0.0, color="black", lw=0.8)
        axis.set_yticks(list(y.values()), [textwrap.fill(labels.get(m, m), 30) for m in metrics])
        axis.set_xlabel("reduction, smart vs baseline (%)")
        axis.set_title(service)
    handles, names = axes[0].get_legend_handles_labels()
    figure.legend(handles, names, loc="outside lower center", ncols=min(len(situations), 4), frameon=False)
    figure.suptitle("What the smart traffic services change: reduction with 95 % CI, by situation (right is better)")
    return styled(figure)


def distribution_chart(samples: pd.DataFrame, situation: str) -> Figure:
    """Each claimed time, baseline against smart, for one situation (replication 0): ECDFs on top and
    violins below."""
    data = samples[samples["situation"] == situation]
    metrics = list(dict.fromkeys(data["metric"]))
    figure = new_figure(3.3 * len(metrics), 5.6)
    axes = figure.subplots(2, len(metrics), squeeze=False)
    for column, metric in enumerate(metrics):
        top, bottom = axes[0][column], axes[1][column]
        values_by_config = []
        for config in ("baseline", "smart"):
            values = np.sort(data[(data["metric"] == metric) & (data["config"] == config)]["value_min"].to_numpy())
            values_by_config.append(values)
            if values.size:
                top.step(values, np.arange(1, values.size + 1) / values.size, where="post",
                         color=CONFIG_COLOURS[config], label=f"{config} (median {np.median(values):.1f} min)")
        upper = float(np.nanpercentile(data[data["metric"] == metric]["value_min"], 99))
        top.set_xlabel(f"{_short(str(metric))} time (min)")
        top.set_ylabel("share of police cases at or below")
        top.set_xlim(left=0, right=upper)
        top.legend(loc="lower right", frameon=False)
        top.set_title(_label(str(metric)))
        shown = [np.clip(v, 0, upper) for v in values_by_config if v.size]
        if len(shown) == 2:
            parts = bottom.violinplot(shown, positions=[0, 1], showmedians=True)
            for body, config in zip(parts["bodies"], ("baseline", "smart"), strict=True):
                body.set_facecolor(CONFIG_COLOURS[config])
                body.set_alpha(0.6)
            bottom.set_xticks([0, 1], ["baseline", "smart"])
        bottom.set_ylabel(f"{_short(str(metric))} time (min, cut at p99)")
    figure.suptitle(f"{_titled(situation)}: distribution of the claimed times, baseline vs smart")
    return styled(figure)


def time_of_day_chart(hourly: pd.DataFrame, situation: str) -> Figure:
    """Mean arrival time by clock hour, baseline vs smart, with the baseline's expressway speed."""
    data = hourly[hourly["situation"] == situation]
    figure = new_figure(7.0, 3.6)
    axis = figure.subplots()
    for config in ("baseline", "smart"):
        mean = data[data["config"] == config].groupby("hour")["arrival_min"].mean()
        axis.plot(mean.index, mean.to_numpy(), "-o", markersize=3, color=CONFIG_COLOURS[config],
                  label=f"arrival, {config}")
    axis.set_xlabel("clock hour")
    axis.set_ylabel("mean arrival time (min)")
    axis.set_xticks(range(0, 24, 3))
    speed = data[data["config"] == "baseline"].groupby("hour")["expressway_kmh"].mean()
    if speed.notna().any():
        twin = axis.twinx()
        twin.plot(speed.index, speed.to_numpy(), ":", color=NEUTRAL, label="expressway speed, baseline")
        twin.set_ylabel("expressway speed (km/h)")
        lines = axis.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        labels = axis.get_legend_handles_labels()[1] + twin.get_legend_handles_labels()[1]
        axis.legend(lines, labels, loc="upper left", frameon=False)
    else:
        axis.legend(loc="upper left", frameon=False)
    axis.set_title(f"{_titled(situation)}: arrival time by hour of the call, and traffic")
    return styled(figure)


def attribution_waterfall(attribution: pd.DataFrame, metric: str) -> Figure:
    """Each lever group's contribution to a reduction, stacked from 0 to the total (Shapley values)."""
    data = attribution[attribution["metric"] == metric]
    parts = data[data["group"] != "total"].sort_values("contribution_pct", ascending=False)
    figure = new_figure(7.0, 3.8)
    axis = figure.subplots()
    level = 0.0
    for position, row in enumerate(parts.to_dict("records")):
        value = float(row["contribution_pct"])
        colour = SMART if value >= 0 else BASELINE
        axis.bar(position, value, bottom=level, color=colour)
        low, high = float(row["ci_low_pct"]), float(row["ci_high_pct"])
        if np.isfinite(low):
            axis.errorbar(position, level + value, yerr=[[value - low], [high - value]], color="black", capsize=2)
        level += value
    total = float(data[data["group"] == "total"]["contribution_pct"].iloc[0])
    axis.bar(len(parts), total, color=NEUTRAL)
    axis.set_xticks(range(len(parts) + 1), [*parts["group"].astype(str), "total"], rotation=35, ha="right")
    axis.set_ylabel("reduction (percentage points of the baseline)")
    axis.axhline(0, color="black", lw=0.8)
    axis.set_title(f"Who delivers the {_short(metric)} reduction? Shapley values, 95 % CI")
    return styled(figure)


def tornado_chart(tornado: pd.DataFrame, metric: str, claimed_pct: float) -> Figure:
    """The reduction when each lever alone goes to the low / high end of its sourced range (the others as
    set), as bars from the reduction with every lever as set, against the claimed reduction."""
    data = tornado[tornado["metric"] == metric]
    as_set = float((data["reduction_pct"] - data["change_pct_points"]).mean())  # the same on every row
    wide = data.pivot(index="lever", columns="setting", values="change_pct_points")
    wide = wide.reindex(wide.abs().max(axis=1).sort_values().index)
    figure = new_figure(6.5, 0.32 * len(wide) + 1.9)
    axis = figure.subplots()
    y = np.arange(len(wide))
    axis.barh(y, wide["low"], left=as_set, color=BASELINE, label="lever at its low value")
    axis.barh(y, wide["high"], left=as_set, color=SMART, label="lever at its high value")
    axis.set_yticks(y, [str(i) for i in wide.index])
    axis.axvline(as_set, color="black", lw=0.8, label=f"every lever as set: {as_set:.1f} %")
    axis.axvline(claimed_pct, color="black", ls="--", lw=1.2, label=f"claimed {claimed_pct:g} %")
    axis.set_xlabel("reduction, smart vs baseline (%)")
    figure.legend(loc="outside lower center", ncols=2, frameon=False)
    axis.set_title(f"{_short(metric).capitalize()} reduction: each lever at the ends of its range")
    return styled(figure)


def resources_chart(hourly: pd.DataFrame, situation: str) -> Figure:
    """Unit utilisation by hour (baseline vs smart), and crash blockage and delay by hour (baseline)."""
    data = hourly[hourly["situation"] == situation]
    figure = new_figure(8.0, 3.4)
    left, right = figure.subplots(1, 2)
    for config in ("baseline", "smart"):
        by_hour = data[data["config"] == config].groupby("hour")
        mean = by_hour["unit_utilisation"].mean()
        left.plot(mean.index, 100 * mean.to_numpy(), "-o", markersize=3, color=CONFIG_COLOURS[config],
                  label=f"patrol units, {config}")
        if "call_taker_utilisation" in data:
            takers = by_hour["call_taker_utilisation"].mean()
            left.plot(takers.index, 100 * takers.to_numpy(), "--", color=CONFIG_COLOURS[config],
                      label=f"call-takers, {config}")
    left.set_xlabel("clock hour")
    left.set_ylabel("utilisation (% of on-duty time busy)")
    left.set_xticks(range(0, 24, 3))
    left.legend(frameon=False, fontsize=7)
    left.set_title("Patrol units and 110 call-takers")
    base = data[data["config"] == "baseline"].groupby("hour")[["crash_blockage_min", "crash_delay_vehicle_h"]].mean()
    right.bar(base.index, base["crash_blockage_min"], color=BASELINE, label="lane blockage (min)")
    right.set_xlabel("clock hour")
    right.set_ylabel("crash lane blockage (min per hour)")
    right.set_xticks(range(0, 24, 3))
    twin = right.twinx()
    twin.plot(base.index, base["crash_delay_vehicle_h"], color=SMART, label="queue delay (vehicle-h)")
    twin.set_ylabel("crash queue delay (vehicle-hours)")
    right.set_title("Traffic crashes, baseline")
    lines = right.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    labels = right.get_legend_handles_labels()[1] + twin.get_legend_handles_labels()[1]
    right.legend(lines, labels, loc="upper left", frameon=False)
    figure.suptitle(f"{_titled(situation)}: resources and traffic by hour")
    return styled(figure)


def _panels(count: int, width: float, height: float) -> tuple[Figure, list[Any]]:
    figure = new_figure(width * min(count, 3) + 0.6, height * math.ceil(count / 3))
    axes = figure.subplots(math.ceil(count / 3), min(count, 3), squeeze=False).ravel()
    for axis in axes[count:]:
        axis.set_visible(False)
    return figure, list(axes[:count])


#: The x-axis of Sobol bars: variance shares, with a little room either side.
SOBOL_AXIS = (-0.1, 1.2)


def reduction_distribution_chart(reductions: pd.DataFrame, verdicts: pd.DataFrame, situation: str) -> Figure:
    """Each metric's reduction over the design points (the evidence's spread) against the claim and its
    margin band, titled with P(claim) and the verdict."""
    data = reductions[reductions["situation"] == situation]
    metrics = list(dict.fromkeys(data["metric"]))
    figure, axes = _panels(len(metrics), 3.4, 2.8)
    for axis, metric in zip(axes, metrics, strict=True):
        values = data.loc[data["metric"] == metric, "reduction_pct"].dropna()
        row = verdicts[(verdicts["situation"] == situation) & (verdicts["metric"] == metric)].iloc[0]
        claimed, margin = float(row["claimed_pct"]), float(row["margin_pct"])
        axis.axvspan(claimed - margin, claimed + margin, color=NEUTRAL, alpha=0.35, zorder=3,
                     label=f"claim +- {margin:g} points")
        axis.hist(values, bins=min(30, max(5, len(values) // 3)), color=SMART, alpha=0.85, label="design points")
        axis.axvline(claimed, color="black", ls="--", lw=1, label=f"claimed {claimed:g} %")
        axis.set_xlabel("reduction, smart vs baseline (%)")
        axis.set_ylabel("design points")
        axis.set_title(f"{_short(metric)}: P(>= claim) = {row['p_reaches_claim']:.2f}\n{row['verdict']}", fontsize=9)
    axes[0].legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.25))
    figure.suptitle(f"{_titled(situation)}: reductions given the evidence")
    return styled(figure)


def sobol_chart(indices: pd.DataFrame, situation: str) -> Figure:
    """Total-order Sobol index of every input (group) per metric, with its interval, first order inside
    it; Morris mu* when the study used the Morris method."""
    data = indices[indices["situation"] == situation]
    metrics = list(dict.fromkeys(data["metric"]))
    morris = not data["total_order"].notna().any()
    column = "mu_star" if morris else "total_order"
    figure, axes = _panels(len(metrics), 3.6, 0.22 * data["lever"].nunique() + 1.2)
    for axis, metric in zip(axes, metrics, strict=True):
        rows = data[data["metric"] == metric].sort_values(column, na_position="first")
        y = np.arange(len(rows))
        low, high = rows[f"{column}_ci_low"].to_numpy(), rows[f"{column}_ci_high"].to_numpy()
        value = rows[column].to_numpy()
        axis.barh(y, value, color=SMART, label="Morris mu*" if morris else "total order")
        if not morris:
            axis.barh(y, rows["first_order"].clip(lower=0), height=0.4, color=BASELINE, label="first order")
        axis.errorbar(value, y, xerr=[value - low, high - value], fmt="none", ecolor="black", lw=0.8)
        axis.set_yticks(y, [str(v) for v in rows["lever"]], fontsize=7)
        axis.set_xlabel("mu* (points of reduction)" if morris else "share of the reduction's variance")
        if not morris:
            # A variance share lies in [0, 1]: estimates and intervals beyond it (too few samples) are clipped
            # at the axis, the estimate written there.
            axis.set_xlim(SOBOL_AXIS)
            for position, estimate in zip(y, value, strict=True):
                if estimate > SOBOL_AXIS[1]:
                    axis.text(SOBOL_AXIS[1], position, f"{estimate:.1f} >", ha="right", va="center", fontsize=7)
        axis.set_title(_short(metric))
    axes[0].legend(frameon=False, fontsize=7, loc="lower right")
    figure.suptitle(f"{_titled(situation)}: which input decides each reduction"
                    + ("" if morris else " (axis clipped to [-0.1, 1.2]: wider intervals mean too few samples)"))
    return styled(figure)


def break_even_chart(break_evens: pd.DataFrame) -> Figure:
    """Per metric, each lever's evidence range (5-95 %) and the strength at which it alone reaches the
    claim (the others at their defaults); levers that never or always reach it are labelled. Inputs searched
    over another range than [0, 1] (assumptions) are in break_evens.csv and the report, not drawn here."""
    break_evens = break_evens[(break_evens["search_low"] == 0) & (break_evens["search_high"] == 1)]
    metrics = list(dict.fromkeys(break_evens["metric"]))
    figure, axes = _panels(len(metrics), 3.6, 0.22 * break_evens["lever"].nunique() + 1.2)
    for axis, metric in zip(axes, metrics, strict=True):
        rows = break_evens[break_evens["metric"] == metric].reset_index(drop=True)
        y = np.arange(len(rows))[::-1]
        for position, row in zip(y, rows.to_dict("records"), strict=True):
            axis.plot([row["evidence_p05"], row["evidence_p95"]], [position, position], color=NEUTRAL, lw=5,
                      solid_capstyle="butt")
            axis.plot(row["default"], position, "|", color="black", markersize=8)
            if math.isnan(row["break_even"]):
                text = "always" if row["status"] == "reached across the range" else "never"
                axis.text(1.02, position, text, va="center", fontsize=7)
            else:
                axis.plot(row["break_even"], position, "D", color=SMART, markersize=5)
        axis.set_yticks(y, [str(v) for v in rows["lever"]], fontsize=7)
        axis.set_xlim(-0.02, 1.15)
        axis.set_xlabel("lever strength")
        axis.set_title(f"{_short(metric)} (claim {rows['claimed_pct'].iloc[0]:g} %)")
    axes[0].plot([], [], color=NEUTRAL, lw=5, label="evidence 5-95 %")
    axes[0].plot([], [], "D", color=SMART, label="break-even")
    axes[0].plot([], [], "|", color="black", label="default")
    axes[0].plot([], [], " ", label="always: reached even at 0; never: not even at 1")
    axes[0].legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.3))
    figure.suptitle(f"{_titled(break_evens['situation'].iloc[0])}: the strength each lever alone needs")
    return styled(figure)
