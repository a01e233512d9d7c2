"""The answer first: a claim check's verdicts in two or three sentences, and why, built from its results
folder's tables alone (claims.csv, steps.csv, warnings.csv, and an attribution if one is included).

The sentences only restate what the tables hold: where each claim was reached, on which clocks, over
what range; which process steps carry the cut; where the baseline queues (so that the cut is the queue,
and rests on the units on duty); and, only when an attribution was run, which levers carry it.
"""

from __future__ import annotations

import pandas as pd

from citysim.analysis.run_checks import OVERLOAD

#: Plain words for the shipped claim check's clocks (experiments/claim_check.yaml); any other metric is
#: named as written in its experiment file.
CLOCK_WORDS = {
    "arrival": "from the call",
    "arrival_from_occurrence": "from the occurrence",
    "arrival_from_dispatch": "from dispatch",
    "handling": "on scene",
    "handling_call_to_clear": "from the call to clearance",
    "handling_arrival_to_closed": "from arrival to closure",
    "handling_call_to_closed": "from the call to closure",
}
REACHED = ("reproduced", "exceeded")


def _clock(metric: str) -> str:
    return CLOCK_WORDS.get(metric, f"on `{metric}`")


def _span(values: pd.Series) -> str:
    low, high = float(values.min()), float(values.max())
    return f"{low:.0f} %" if round(low) == round(high) else f"{low:.0f}-{high:.0f} %"


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _where(verdicts: pd.Series, situations: pd.Series) -> str:
    """Where a metric reached its claim: 'in every situation', 'in none', or 'in 5 of 8 (a, b, ...)'."""
    reached = verdicts.isin(REACHED)
    count = len(verdicts)
    if reached.all():
        return "in every situation" if count > 1 else "in its situation"
    if not reached.any():
        return "in no situation"
    names = list(situations[reached]) if reached.sum() <= count / 2 else list(situations[~reached])
    side = "" if reached.sum() <= count / 2 else "all but "
    return f"in {int(reached.sum())} of {count} situations ({side}{_listing(names)})"


def claim_sentences(claims: pd.DataFrame) -> list[str]:
    """One sentence per claimed target (metrics grouped by their claimed reduction): on which clocks and in
    which situations it was reached, with the range of the reductions."""
    overall = claims[claims["priority"].astype(str) == "all"]
    sentences = []
    for claimed, rows in overall.groupby("claimed_pct", sort=False):
        clauses: dict[str, list[tuple[str, pd.Series]]] = {}
        for metric, of_metric in rows.groupby("metric", sort=False):
            where = _where(of_metric["verdict"], of_metric["scenario"])
            clauses.setdefault(where, []).append((_clock(str(metric)), of_metric["reduction_pct"]))
        parts = [f"{where} {_listing([clock for clock, _ in found])} "
                 f"({_span(pd.concat([values for _, values in found]))})" for where, found in clauses.items()]
        family = str(rows["metric"].iloc[0]).split("_")[0]
        sentences.append(f"The claimed {claimed:g} % cut in {family} time is reached " + "; ".join(parts) + ".")
    return sentences


def step_sentence(steps: pd.DataFrame) -> str:
    """Which steps carry the first situation's cuts in arrival and in call to closure (steps.csv)."""
    situation = steps["situation"].iloc[0]
    first = steps[steps["situation"] == situation]
    parts = []
    for column, what in (("share_of_arrival_change", "arrival"), ("share_of_call_to_closed_change",
                                                                   "call-to-closure")):
        shares = first.dropna(subset=[column]).sort_values(column, ascending=False).head(2)
        named = [f"{row['step']} {100 * row[column]:.0f} % ({row['a_min']:.1f} -> {row['b_min']:.1f} min)"
                 for row in shares.to_dict("records") if row[column] > 0]
        if named:
            parts.append(f"of the {what} change, {_listing(named)}")
    return f"Why, in {situation}: " + "; ".join(parts) + "." if parts else ""


def queue_sentence(warnings: pd.DataFrame) -> str:
    """Where a baseline queues for units, the cut there is the queue (from warnings.csv's overload rows)."""
    queued = warnings[(warnings["kind"] == OVERLOAD) & warnings["message"].str.contains(", baseline:", regex=False)]
    if queued.empty:
        return ""
    names = list(dict.fromkeys(queued["situation"]))
    return (f"Where the baseline queues for units ({_listing(names)}), much of the cut is that queue, and its size "
            "rests on the units on duty and their other work, which are ASSUMPTIONS of the scenario.")


def lever_sentence(attribution: pd.DataFrame | None) -> str:
    """The levers that carry each attributed metric (only with an attribution; never guessed)."""
    if attribution is None or attribution.empty:
        return ("Which levers carry the cut is not measured by a claim check: run an attribution "
                "(docs/howto/quick-attribution.md) and include it with `citysim plot DIR --include ATTRIBUTION`.")
    parts = []
    for metric, rows in attribution.groupby("metric", sort=False):
        total = float(rows.loc[rows["group"] == "total", "contribution_pct"].iloc[0])
        top = rows[rows["group"] != "total"].sort_values("contribution_pct", ascending=False).head(2)
        named = [f"{row['group']} {row['contribution_pct']:.1f}" for row in top.to_dict("records")]
        parts.append(f"{metric} ({total:.1f} points): {_listing(named)}")
    return "By the included attribution (Shapley values), the largest lever shares: " + "; ".join(parts) + "."


def answer_sentences(claims: pd.DataFrame, steps: pd.DataFrame | None, warnings: pd.DataFrame | None,
                     attribution: pd.DataFrame | None) -> tuple[list[str], list[str]]:
    """The verdicts, and why: the steps, the queue and its assumptions, and the levers."""
    why = [step_sentence(steps) if steps is not None and not steps.empty else "",
           queue_sentence(warnings) if warnings is not None and not warnings.empty else "",
           lever_sentence(attribution)]
    return claim_sentences(claims), [sentence for sentence in why if sentence]
