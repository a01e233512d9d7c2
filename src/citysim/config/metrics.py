"""The claimed metrics by name: each a clock (`end - start` of two incident-log times, in minutes) and the
claim's reduction on it.

One registry for every command that names a metric: an experiment file may define only these names with
these clocks (`config/experiment.py: Metric`), and `citysim compare --metric NAME` takes these names. The
source (Shanghai Institute of Science & Technology Policy, June 2019) claims a 20 % cut in the time to
arrive and a 35 % cut in the time to handle cases without saying which clock; each clock here carries the
claim it is checked against.
"""

from __future__ import annotations

from dataclasses import dataclass

ARRIVAL_CLAIM_PCT = 20.0  # claimed cut in arrival time (source above, 2019)
HANDLING_CLAIM_PCT = 35.0  # claimed cut in handling time (source above, 2019)


@dataclass(frozen=True)
class MetricDefinition:
    """A named clock: from the incident-log time `start` to `end`, and the claimed reduction on it."""

    start: str
    end: str
    claimed_reduction_pct: float
    meaning: str


METRICS: dict[str, MetricDefinition] = {
    "arrival": MetricDefinition("t_call", "t_arrive", ARRIVAL_CLAIM_PCT, "call to the first unit on scene"),
    "arrival_from_occurrence": MetricDefinition(
        "t_occur", "t_arrive", ARRIVAL_CLAIM_PCT,
        "occurrence to the first unit on scene (the only clock on which video detection can show)"),
    "arrival_from_dispatch": MetricDefinition("t_dispatch", "t_arrive", ARRIVAL_CLAIM_PCT,
                                              "dispatch to the first unit on scene (turn-out and travel)"),
    "handling": MetricDefinition("t_arrive", "t_clear", HANDLING_CLAIM_PCT,
                                 "on scene: the first unit's arrival to the case cleared"),
    "handling_call_to_clear": MetricDefinition("t_call", "t_clear", HANDLING_CLAIM_PCT, "call to the case cleared"),
    "handling_arrival_to_closed": MetricDefinition(
        "t_arrive", "t_closed", HANDLING_CLAIM_PCT, "the first unit's arrival to the case closed (report filed)"),
    "handling_call_to_closed": MetricDefinition("t_call", "t_closed", HANDLING_CLAIM_PCT,
                                                "call to the case closed (report filed)"),
}

#: What `citysim compare` compares unless --metric names others: the time to the scene, the work on scene
#: alone (a clock without any queue for units) and a case's whole life (call to closure): three clocks that
#: together show where a difference between two scenarios lies.
COMPARE_DEFAULTS = ("arrival", "handling", "handling_call_to_closed")
