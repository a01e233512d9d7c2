"""What each smart lever changes in the model: the settings the model reads (`LeverEffects`) and the
scenario parameters a lever rewrites (`effective_scenario`). Each lever acts through a mechanism (a
delay, a choice, a route, a volume, a speed); its schema block, default, range and source live in
`citysim.config.levers`.
"""

from __future__ import annotations

from dataclasses import dataclass

from citysim.config.schema import NetworkTravel, Scenario, StraightLineTravel


@dataclass(frozen=True)
class LeverEffects:
    """The lever settings the model reads (neutral values: every lever off)."""

    call_handling_factor: float = 1.0
    scene_factor: float = 1.0
    crash_scene_factor: float = 1.0
    crash_self_clear_factor: float = 1.0
    video_detection_share: float = 0.0
    avl_share: float = 0.0
    predictive_share: float = 0.0
    driving_factor: float = 1.0
    current_routing_share: float = 0.0
    community_share: float = 0.0
    community_categories: frozenset[str] = frozenset()
    prevention_share: float = 0.0
    prevention_categories: frozenset[str] = frozenset()
    crash_prevention_share: float = 0.0


#: Minutes from a crash to its video detection, when the lever detects it (ASSUMPTION).
VIDEO_DETECTION_MIN = 1.0


def lever_effects(scenario: Scenario) -> LeverEffects:
    """Translate the scenario's levers into the settings the model reads."""
    levers = scenario.levers

    def strength(name: str) -> float:
        lever = getattr(levers, name)
        return float(lever.strength) if lever is not None else 0.0

    crash_handling = strength("fast_crash_handling")
    community, prevention = levers.community_diversion, levers.prevention
    return LeverEffects(
        call_handling_factor=1.0 - strength("command_centre"),
        scene_factor=1.0 - strength("mobile_terminals"),
        crash_scene_factor=1.0 - crash_handling,
        crash_self_clear_factor=1.0 - crash_handling,
        video_detection_share=strength("video_detection"),
        avl_share=strength("avl_dispatch"),
        predictive_share=strength("predictive_deployment"),
        driving_factor=1.0 - strength("signal_preemption"),
        current_routing_share=strength("congestion_routing"),
        community_share=strength("community_diversion"),
        community_categories=frozenset(community.categories if community else ()),
        prevention_share=strength("prevention"),
        prevention_categories=frozenset(prevention.categories if prevention else ()),
        crash_prevention_share=float(prevention.crash_strength) if prevention else 0.0,
    )


def effective_scenario(scenario: Scenario) -> Scenario:
    """The scenario with its parameter-changing levers applied (AI signal timing, parking guidance)."""
    levers = scenario.levers
    updates: dict[str, object] = {}
    if levers.ai_signal_timing is not None and levers.ai_signal_timing.strength > 0:
        gain = 1.0 + levers.ai_signal_timing.strength
        travel = scenario.travel
        if isinstance(travel, NetworkTravel):
            updates["travel"] = travel.model_copy(update={"access_speed_kmh": travel.access_speed_kmh * gain})
        elif isinstance(travel, StraightLineTravel):
            updates["travel"] = travel.model_copy(
                update={"speed_kmh_by_hour": [v * gain for v in travel.speed_kmh_by_hour]})
        if scenario.network is not None:
            arterial = scenario.network.classes.arterial
            classes = scenario.network.classes.model_copy(
                update={"arterial": arterial.model_copy(update={"free_flow_kmh": arterial.free_flow_kmh * gain})})
            updates["network"] = scenario.network.model_copy(update={"classes": classes})
    if levers.parking_guidance is not None and levers.parking_guidance.strength > 0 and scenario.traffic is not None:
        parking = scenario.traffic.parking
        share = parking.cruising_share * (1.0 - levers.parking_guidance.strength)
        updates["traffic"] = scenario.traffic.model_copy(
            update={"parking": parking.model_copy(update={"cruising_share": share})})
    return scenario.model_copy(update=updates) if updates else scenario
