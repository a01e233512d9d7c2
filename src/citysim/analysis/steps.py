"""What the response times are made of: the mean minutes of each process step of a police case, and
how much of a configuration's change in arrival and in call-to-closure each step carries.

Only police cases that were closed in the run count (every time of their life exists), so that the
steps add up exactly: call answered + call-taking + decision + wait for a unit + travel = arrival, and
arrival + look-ups + scene work + report = call to closure.
"""

from __future__ import annotations

import pandas as pd

from citysim.simulation.kpis import police_cases

#: Steps in the order they happen: name -> (start column, end column); arrival is the first five.
STEPS: dict[str, tuple[str, str]] = {
    "call answered": ("t_call", "t_answer"),
    "call-taking (locate and talk)": ("t_answer", "t_talk_end"),
    "dispatch decision": ("t_talk_end", "t_queue"),
    "wait for a unit": ("t_queue", "t_dispatch"),
    "travel to the scene": ("t_dispatch", "t_arrive"),
    "look-ups on scene": ("", "lookup_min"),
    "scene work": ("t_arrive", "t_clear"),  # less the look-ups
    "report and closure": ("t_clear", "t_closed"),
}
ARRIVAL_STEPS = list(STEPS)[:5]
STEP_COLUMNS = ["step", "a_min", "b_min", "change_min", "share_of_arrival_change",
                "share_of_call_to_closed_change", "replications"]


def step_means(incidents: pd.DataFrame) -> dict[str, float]:
    """Mean minutes of each step over the closed police cases of one run."""
    cases = police_cases(incidents)
    cases = cases[cases["t_closed"].notna()]
    means = {}
    for step, (start, end) in STEPS.items():
        values = cases[end] if not start else cases[end] - cases[start]
        if step == "scene work":
            values = values - cases["lookup_min"]
        means[step] = float(values.mean())
    return means


def step_table(a: list[dict[str, float]], b: list[dict[str, float]]) -> pd.DataFrame:
    """Per step: means of configurations A and B over paired replications, the change of B against A, and
    its share of the arrival and call-to-closure changes (shares of a total that is itself the sum of the
    steps)."""
    base = pd.DataFrame(a).mean()
    new = pd.DataFrame(b).mean()
    change = new - base
    arrival = change[ARRIVAL_STEPS].sum()
    total = change.sum()

    def share(part: float, whole: float) -> float:
        return part / whole if whole else float("nan")

    rows = [(step, base[step], new[step], change[step],
             share(change[step], arrival) if step in ARRIVAL_STEPS else float("nan"), share(change[step], total),
             len(a)) for step in STEPS]
    return pd.DataFrame(rows, columns=STEP_COLUMNS)
