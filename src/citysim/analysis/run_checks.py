"""What a claim check should say about its own runs besides the claims: each run's step means and
health figures (`diagnostics.csv`), and the warnings they and the replication rule give, so that trouble
that used to pass silently (a CI wider than asked for, incidents still open at the end, a baseline that
queues for units) is named in the terminal and in the report.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from citysim.analysis.steps import step_means, step_table
from citysim.simulation.kpis import in_window, police_cases

DIAGNOSTIC_COLUMNS = ["situation", "config", "replication", "kind", "name", "value"]
WARNING_COLUMNS = ["situation", "kind", "message"]
STEP, HEALTH = "step", "health"
#: Health figures of a run (kind "health"): open incidents at the end, P(wait for a unit), cases counted.
OPEN_AT_END, P_WAIT, CASES = "open_at_end", "p_wait_for_unit", "police_cases"
#: A configuration "queues for units" when more police cases than this wait for one (mean over its runs).
QUEUEING_P_WAIT = 0.25
#: Incidents still open at the end of a run are worth a warning above this share of the cases counted
#: (their times are censored, so the KPIs understate the wait) or this many.
OPEN_SHARE, OPEN_COUNT = 0.005, 10
#: The warnings' kinds (warnings.csv's `kind`), each with its title and what to do about it, said once per kind;
#: each warning's own message says only what was found. "input" is a scenario's load warnings, which carry
#: their own advice.
INPUT, PRECISION, OPEN, OVERLOAD = "input", "precision not reached", "open at the end", "overload"
KINDS = {
    INPUT: ("The scenarios", ""),
    PRECISION: ("Precision not reached", "Raise replications.max, or read those verdicts with their wider "
                                         "intervals."),
    OPEN: ("Incidents still open at the end", "Their times are cut off, so the response times understate the "
           "wait: the demand outruns the units. Lengthen run.drain_min to follow them, or read the result as a "
           "queue that grows."),
    OVERLOAD: ("Overloaded units", "A reduction there is mostly the queue, and its size rests on the units on "
               "duty and the other work they do (ASSUMPTIONS of the scenario)."),
}


def run_diagnostics(incidents: pd.DataFrame) -> list[tuple[str, str, float]]:
    """(kind, name, value) of one run: each step's mean minutes (analysis.steps) and its health figures."""
    cases = police_cases(incidents)
    waits = (cases["t_dispatch"] - cases["t_queue"]).dropna()
    open_at_end = int((in_window(incidents)["resolution"] == "open").sum())
    rows = [(STEP, step, value) for step, value in step_means(incidents).items()]
    rows += [(HEALTH, OPEN_AT_END, float(open_at_end)),
             (HEALTH, P_WAIT, float((waits > 1e-9).mean()) if len(waits) else math.nan),
             (HEALTH, CASES, float(len(cases)))]
    return rows


def situation_steps(diagnostics: pd.DataFrame) -> pd.DataFrame:
    """steps.csv of a claim check: for each situation, what the times are made of, baseline against smart."""
    frames = []
    steps = diagnostics[diagnostics["kind"] == STEP]
    for situation, rows in steps.groupby("situation", sort=False):
        runs = {config: [dict(zip(run["name"], run["value"], strict=True)) for _, run in part.groupby("replication")]
                for config, part in rows.groupby("config", sort=False)}
        if {"baseline", "smart"} <= runs.keys():
            frames.append(step_table(runs["baseline"], runs["smart"]).assign(situation=situation))
    if not frames:
        return pd.DataFrame(columns=["situation"])
    joined = pd.concat(frames, ignore_index=True)
    return joined[["situation", *[c for c in joined.columns if c != "situation"]]]


def health_means(diagnostics: pd.DataFrame) -> pd.DataFrame:
    """The mean of each health figure over a configuration's runs: index (situation, config), a column each."""
    health = diagnostics[diagnostics["kind"] == HEALTH]
    return health.pivot_table(index=["situation", "config"], columns="name", values="value", aggfunc="mean",
                              sort=False)


def open_at_end_message(label: str, still_open: float, cases: float) -> str | None:
    """The warning for `still_open` incidents open at the end (mean over runs) against `cases` counted."""
    if still_open <= max(OPEN_COUNT, OPEN_SHARE * cases):
        return None
    return (f"{label}: {still_open:,.0f} incidents are still open when the run ends (mean over its runs, against "
            f"{cases:,.0f} police cases counted).")


def overload_message(label: str, p_wait: float) -> str | None:
    """The warning for a configuration in which more than QUEUEING_P_WAIT of police cases wait for a unit."""
    if not p_wait > QUEUEING_P_WAIT:
        return None
    return f"{label}: {p_wait:.0%} of police cases wait for a free unit."


def open_at_end_warnings(diagnostics: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(situation, kind, message) for each configuration whose runs end with many incidents still open."""
    found = [(str(situation), open_at_end_message(f"{situation}, {config}", row[OPEN_AT_END], row[CASES]))
             for (situation, config), row in health_means(diagnostics).iterrows()]
    return [(situation, OPEN, message) for situation, message in found if message]


def queueing_warnings(diagnostics: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(situation, kind, message) for each configuration in which most police cases wait for a unit."""
    found = [(str(situation), overload_message(f"{situation}, {config}", row[P_WAIT]))
             for (situation, config), row in health_means(diagnostics).iterrows()]
    return [(situation, OVERLOAD, message) for situation, message in found if message]


def run_health(incidents: pd.DataFrame) -> dict[str, float]:
    """One run's health figures (open at the end, P(wait for a unit), police cases)."""
    return {name: value for kind, name, value in run_diagnostics(incidents) if kind == HEALTH}


def health_warnings(runs: list[dict[str, float]], label: str) -> list[str]:
    """The open-at-the-end and overload warnings of a configuration's runs (`run_health` of each), each with
    its kind's advice."""
    if not runs:
        return []
    frame = pd.DataFrame(runs)
    found = [(OPEN, open_at_end_message(label, frame[OPEN_AT_END].mean(), frame[CASES].mean())),
             (OVERLOAD, overload_message(label, frame[P_WAIT].mean()))]
    return [f"{message} {KINDS[kind][1]}" for kind, message in found if message]


def incident_warnings(incidents: pd.DataFrame, label: str) -> list[str]:
    """The same warnings from a run's incident log (replications concatenated), for `citysim run`."""
    return health_warnings([run_health(part) for _, part in incidents.groupby("replication")], label)


def precision_warnings(claims: pd.DataFrame, replications: dict[str, int],
                       rule: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(situation, kind, message) for each situation that stopped at the rule's maximum of replications with
    a claimed metric's CI half-width still above the target."""
    target, most = float(rule["target_half_width_pct"]), int(rule["max"])
    overall = claims[claims["priority"].astype(str) == "all"]
    warnings = []
    for situation, rows in overall.groupby("scenario", sort=False):
        if replications.get(str(situation), 0) < most:
            continue
        half = (rows["ci_high_pct"] - rows["ci_low_pct"]) / 2.0
        wide = rows[half.isna() | (half > target)]
        if len(wide):
            worst = ", ".join(f"{m} +-{h:.1f}" for m, h in zip(wide["metric"], half[wide.index], strict=True))
            warnings.append((str(situation), PRECISION, (
                f"{situation}: the replication rule stopped at its maximum of {most} pairs with the CI half-width "
                f"above the target of {target:g} points ({worst} points).")))
    return warnings


def warnings_frame(warnings: list[tuple[str, str, str]]) -> pd.DataFrame:
    """warnings.csv: one row per warning."""
    return pd.DataFrame(warnings, columns=WARNING_COLUMNS)


def grouped_warnings(warnings: pd.DataFrame) -> list[tuple[str, str, list[str]]]:
    """warnings.csv by kind, in the order the kinds first appear: (title, advice, the messages, each once)."""
    groups: dict[str, list[str]] = {}
    for kind, message in zip(warnings["kind"].astype(str), warnings["message"].astype(str), strict=True):
        groups.setdefault(kind, [])
        if message not in groups[kind]:
            groups[kind].append(message)
    return [(*KINDS.get(kind, (kind, "")), messages) for kind, messages in groups.items()]
