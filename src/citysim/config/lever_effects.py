"""What each smart lever changes in the model: the settings the model reads (`LeverEffects`) and the
scenario parameter a lever rewrites (`effective_scenario`). Each lever acts through a process step (a
delay, a look-up, a trip, a signal's delay, a choice, a route, a search), never on an output metric;
its schema block, default, range and source live in `citysim.config.levers`.
"""

from __future__ import annotations

from dataclasses import dataclass

from citysim.config.schema import Scenario


@dataclass(frozen=True)
class LeverEffects:
    """The lever settings the model reads (neutral values: every lever off)."""

    decision_factor: float = 1.0
    auto_location_share: float = 0.0
    terminal_share: float = 0.0
    crash_self_clear_factor: float = 1.0
    video_detection_share: float = 0.0
    avl_share: float = 0.0
    predictive_share: float = 0.0
    preemption_share: float = 0.0
    ai_signal_share: float = 0.0
    current_routing_share: float = 0.0
    community_share: float = 0.0
    community_categories: frozenset[str] = frozenset()
    prevention_share: float = 0.0
    prevention_categories: frozenset[str] = frozenset()
    crash_prevention_share: float = 0.0
    bus_priority_share: float = 0.0
    bus_lane_share: float = 0.0
    informed_share: float = 0.0
    holding_gain: float = 0.0


#: Minutes from a crash to its video detection, when the lever detects it: video automatic incident detection
#: finds an incident in 10-120 s on average (against 156-306 s for loop algorithms; table in Bentham TOTJ-12-344,
#: citing TRR 1925, 2005 and TRR 1959, 2006); 1 min lies in that range (the point is an ASSUMPTION).
VIDEO_DETECTION_MIN = 1.0
#: Minutes to confirm an automatically found caller location, instead of the locate step (ASSUMPTION).
AUTO_LOCATE_CONFIRM_MIN = 0.1
#: Share of an intersection's control delay that AI signal timing removes. Derived (ASSUMPTION): the +12.9 %
#: corridor speed of Shanghai's 360 AI intersections (2026) is a -11.4 % corridor time; with the baseline's
#: signals (2 a km at 0.35 min each, 0.7 of an arterial's 1.5 min/km at free flow, i.e. 47 %), that is a
#: cut of 0.114 / 0.47 = 24 % of the signal delay.
AI_SIGNAL_DELAY_CUT = 0.24


def lever_effects(scenario: Scenario) -> LeverEffects:
    """Translate the scenario's levers into the settings the model reads."""
    levers = scenario.levers

    def strength(name: str) -> float:
        lever = getattr(levers, name)
        return float(lever.strength) if lever is not None else 0.0

    community, prevention, centre = levers.community_diversion, levers.prevention, levers.command_centre
    return LeverEffects(
        decision_factor=1.0 - strength("command_centre"),
        auto_location_share=float(centre.location_share) if centre else 0.0,
        terminal_share=strength("mobile_terminals"),
        crash_self_clear_factor=1.0 - strength("fast_crash_handling"),
        video_detection_share=strength("video_detection"),
        avl_share=strength("avl_dispatch"),
        predictive_share=strength("predictive_deployment"),
        preemption_share=strength("signal_preemption"),
        ai_signal_share=strength("ai_signal_timing"),
        current_routing_share=strength("congestion_routing"),
        community_share=strength("community_diversion"),
        community_categories=frozenset(community.categories if community else ()),
        prevention_share=strength("prevention"),
        prevention_categories=frozenset(prevention.categories if prevention else ()),
        crash_prevention_share=float(prevention.crash_strength) if prevention else 0.0,
        bus_priority_share=strength("bus_signal_priority"),
        bus_lane_share=strength("bus_lanes"),
        informed_share=strength("bus_realtime_info"),
        holding_gain=strength("bus_holding"),
    )


def effective_scenario(scenario: Scenario) -> Scenario:
    """The scenario with its parameter-changing lever applied: parking guidance shortens the search for a
    space (`traffic.parking.search_min`), so fewer cars cruise (Little's law, citysim.city.parking)."""
    levers = scenario.levers
    if levers.parking_guidance is not None and levers.parking_guidance.strength > 0 and scenario.traffic is not None:
        parking = scenario.traffic.parking
        search = parking.search_min * (1.0 - levers.parking_guidance.strength)
        traffic = scenario.traffic.model_copy(update={"parking": parking.model_copy(update={"search_min": search})})
        return scenario.model_copy(update={"traffic": traffic})
    return scenario
