"""The smart levers' one home: each lever's schema block (`Levers`) beside its mechanism, sourced
default, range and source (`LEVERS`), and the page that lists them (docs/levers.md).

Every lever acts through a mechanism of the model (a delay, a choice, a route, a volume, a speed),
never on an output metric; `citysim.config.lever_effects` translates the blocks into what the model
reads.
Each lever draws any randomness it needs from streams of its own (`lever.<name>`), drawn whether
or not the lever is on, so turning a lever on changes only what it acts on (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field

from citysim.config.base import Probability, Strict

POLICING, TRAFFIC, INCIDENTS, PARKING, PUBLIC_TRANSPORT = (
    "policing", "traffic", "incident management", "parking", "public transport")
#: The services a lever can act on: the police's, and the traffic services'.
SERVICES = (POLICING, TRAFFIC, INCIDENTS, PARKING, PUBLIC_TRANSPORT)


class Lever(Strict):
    """A smart lever at a strength between 0 (no effect) and 1; what strength means is lever-specific
    (see `LEVERS` below for each lever's mechanism, default, range and source)."""

    strength: Probability = Field(
        description="the lever's strength, 0 (no effect) to 1: the share it acts on or removes (the lever's key "
        "above says what)")


class CategoryLever(Lever):
    """A lever acting on some demand categories only."""

    categories: list[str] = Field(description="the demand categories it acts on", min_length=1)


class CommandCentreLever(Lever):
    """The integrated command centre: `strength` of the dispatcher's decision time is removed, and
    `location_share` of the calls that get a unit are located automatically."""

    location_share: Probability = Field(
        description="share of the calls that get a unit that are located automatically (the locate step becomes a "
                    "0.1 min confirmation)")


class PreventionLever(CategoryLever):
    """Fewer incidents: `strength` of the listed categories' calls and `crash_strength` of crashes
    do not happen."""

    crash_strength: Probability = Field(description="share of crashes that do not happen")


@dataclass(frozen=True)
class LeverInfo:
    """What a lever does, and the strengths to use for it."""

    mechanism: str
    default: float
    low: float
    high: float
    source: str
    #: Year of the newest evidence the default rests on (0: an ASSUMPTION with no dated evidence).
    evidence_year: int
    #: The service whose process step the lever acts on (one of `SERVICES`).
    service: str = POLICING

    @property
    def reaches_police(self) -> bool:
        """Whether the lever can change the police logs: the buses run after a police replication, never
        inside it, so a public-transport lever cannot (tests/test_transit.py checks it)."""
        return self.service != PUBLIC_TRANSPORT


#: The claim's date: evidence from after it cannot have been what the claim measured.
CLAIM_YEAR = 2019


LEVERS: dict[str, LeverInfo] = {
    "command_centre": LeverInfo(
        "integrated command centre: the dispatcher's decision time x (1 - strength); location_share of the calls "
        "that get a unit are located automatically (the locate step becomes a 0.1 min "
        "confirmation)", 0.5, 0.2, 0.7,
        "call-to-dispatch 125 s -> 83 s, -34 % (Inner Mongolia 2023), of which the locate step's saving is "
        "taken out: the rest, about 23 s of a 36 s decision (ASSUMPTION split); location markers cut "
        "call-taking 3 -> 1 min (chinanews 2010); location_share 0.8 is an ASSUMPTION", 2023),
    "avl_dispatch": LeverInfo(
        "one platform / AVL: this share of incidents gets the nearest unit across district lines", 1.0, 0.5, 1.0,
        "AVL nearest-unit dispatch, response about -12 % (St. Louis, NIJ)", 2000),
    "video_detection": LeverInfo(
        "extensive perception: this share of crashes is detected by video 1 min after it happens "
        "(video detection takes 10-120 s, TRR 2005-2006) instead of being reported by a call", 0.5, 0.0, 0.8,
        "video incident detection saves 5-12 min per incident (Monroe County NY); 700,000 sensing "
        "'neurons' in Shanghai (2019); video detection rates 14-85 % (TRR 2005-2006) and a tunnel field test "
        "rated it poor (Attica), hence a range down to 0; the covered share is an ASSUMPTION", 2019,
        service=INCIDENTS),
    "predictive_deployment": LeverInfo(
        "multiple models / predictive deployment: this share of units waits at posts placed on the forecast "
        "demand (crime hot spots and residential density) instead of the baseline's posts or stations; "
        "the forecast is the model's own expected incident surface (a perfect forecast)", 0.5, 0.25, 0.75,
        "ASSUMPTION: no response-time evidence (Mohler et al. 2015 measured crime, -7.4 %; Shreveport "
        "predictive policing: no significant effect, RAND 2014)", 0),
    "mobile_terminals": LeverInfo(
        "extensive application / mobile terminals: this share of units carries a terminal; their look-ups go "
        "to the terminal instead of by radio to the back office, and their reports are written on scene "
        "(no trip to the station)", 0.8, 0.5, 1.0,
        "England & Wales mobile-data programme: ~18 min more out of the station per officer-shift (Public "
        "Accounts Committee 2012-13); Police Scotland: 444,496 officer-hours freed in year 1 (SPA, 2020); the "
        "equipped share is an ASSUMPTION", 2020),
    "signal_preemption": LeverInfo(
        "signal pre-emption: at this share of signals a lights-and-siren trip meets no signal delay (other "
        "trips are unchanged)", 0.5, 0.1, 0.9,
        "about 70 s saved per run over 3-6 signals (Denver 1978); emergency travel -16 % / -23 % (Houston "
        "1991); no significant effect in a US fire department's before/after study (USFA ARP); the equipped "
        "share is an ASSUMPTION", 1991),
    "congestion_routing": LeverInfo(
        "congestion-aware routing: this share of trips takes the shortest route at current link times "
        "and crash queues", 1.0, 0.5, 1.0, "about -10 % arrival in a simulation study (Katsuma & Yoshida 2018)",
        2018),
    "ai_signal_timing": LeverInfo(
        "AI signal timing: at this share of signalised intersections the control delay is cut by 24 % "
        "(every police trip, police/driving.py; general traffic's link times are not changed)", 0.09, 0.02, 0.3,
        "average speed +12.9 % at 360 Shanghai intersections (Shanghai police, Jan 2026), read as a cut in "
        "signal delay; 360 of about 4,000 signalised intersections (ASSUMPTION count) is the default share. "
        "Evidence from after the claim", 2026),
    "fast_crash_handling": LeverInfo(
        "fast handling of minor crashes (online self-handling, drones): the drivers' self-clearing time x "
        "(1 - strength), so more crashes are cleared before the police arrive and blockages end sooner", 0.4,
        0.32, 0.55,
        "drone quick handling saves 40 %+ (Shanghai police, Jan 2026); clearance -32 % (Oro Valley), -55 % "
        "(Maryland service patrols)", 2026, service=INCIDENTS),
    "parking_guidance": LeverInfo(
        "parking guidance (boards, app): this share of each parking car's search time is removed "
        "(traffic.parking.search_min x (1 - strength)), so fewer cars cruise on the parking districts' streets",
        0.17, 0.0, 0.45,
        "information alone: up to 17 % of cruising time saved (Zurich, Cao & Menendez 2018); with demand "
        "pricing: search -43 % (SFMTA 2014), cruising -50 % (Millard-Ball et al. 2014); null: in-car or "
        "sensor information hardly shortens the search (Dutch simulation, Tasseron et al. 2014)", 2018,
        service=PARKING),
    "community_diversion": LeverInfo(
        "smart community / 12345: this share of the listed categories' calls that would get a unit is "
        "resolved without one", 0.3, 0.1, 0.5,
        "about half of 110 calls are non-police matters; the 12345 hotline exists since 2012; the share is "
        "an ASSUMPTION", 0),
    "prevention": LeverInfo(
        "prevention and community sensing: this share of the listed categories' incidents (and "
        "crash_strength of crashes) does not happen", 0.259, 0.1, 0.3,
        "alarm-type 110 calls -25.9 %, traffic crashes -7.2 % year on year (Shanghai, Jan-Aug 2019)", 2019),
    "bus_signal_priority": LeverInfo(
        "transit signal priority: this share of a bus's signal delay is removed, less the share of requests that "
        "meet a signal held by a police pre-emption (ASSUMPTION: pre-emption overrides priority)",
        0.33, 0.0, 0.5,
        "LA Metro Rapid: signal delay -33 %, about 8-10 % of run time (FTA Metro Rapid evaluation); one TCRP case "
        "-12.1 % AM run time (TCRP synthesis on bus speed, NAP 22421); Portland: benefits not consistent "
        "(Kimpel et al. 2005) and only a small share of requests reduced delay (Feng et al. 2015): low 0", 2015,
        service=PUBLIC_TRANSPORT),
    "bus_lanes": LeverInfo(
        "bus lanes: this share of a line's `bus_lane_km` runs on a lane at `bus_lane_kmh`, independent of the "
        "general traffic", 0.9, 0.5, 1.0,
        "Yan'an Road line 71: 24 h median lane over the corridor except Xizang Road - the Bund (Japion 2017); "
        "17.0-17.9 km/h peak, ~20 % faster than general traffic (Jiefang Daily 2017); Wuzhong Road lane "
        "+25-42 % peak bus speed (Shine 2017); the share is an ASSUMPTION", 2017,
        service=PUBLIC_TRANSPORT),
    "bus_realtime_info": LeverInfo(
        "real-time arrival information: this share of passengers times its arrival `informed_margin_min` before "
        "the bus (instead of arriving at random) and perceives the wait as measured", 0.3, 0.1, 0.5,
        "OneBusAway users wait almost 2 min less and perceive 0.7 min (13 %) less; non-users overestimate their "
        "wait (Watkins et al. 2011); ~2 min lower usual wait (Brakewood et al. 2014); the informed share is an "
        "ASSUMPTION", 2014, service=PUBLIC_TRANSPORT),
    "bus_holding": LeverInfo(
        "headway-based holding (Daganzo 2009): at control stops a bus leaves no sooner than strength x (scheduled "
        "- actual headway to the bus ahead) after its dwell; strength is the control gain alpha, obeyed fully",
        0.17, 0.0, 0.3,
        "WMATA field test, routes 70 and 79: excess wait -26 % with imperfect compliance (Soza-Parra et al., TRR "
        "2019); the default gain is calibrated to it (0.17 cuts the Shanghai weekday's excess wait by ~26 %, "
        "3 replications: benchmarks/service_levers.py); time points 'limited' (Feng & Figliozzi 2015): low 0; "
        "research prior 0-40 %: high 0.3 (~43 %)", 2019,
        service=PUBLIC_TRANSPORT),
}


def _off(name: str) -> Any:
    """A lever's block: optional, off by default, described by its `LEVERS` entry."""
    info = LEVERS[name]
    return Field(default=None, description=f"{info.mechanism}. Smart default {info.default:g}, sourced range "
                 f"{info.low:g}-{info.high:g} (docs/levers.md)")


class Levers(Strict):
    """The smart levers; a lever left out is off (the baseline)."""

    command_centre: CommandCentreLever | None = _off("command_centre")
    avl_dispatch: Lever | None = _off("avl_dispatch")
    video_detection: Lever | None = _off("video_detection")
    predictive_deployment: Lever | None = _off("predictive_deployment")
    mobile_terminals: Lever | None = _off("mobile_terminals")
    signal_preemption: Lever | None = _off("signal_preemption")
    congestion_routing: Lever | None = _off("congestion_routing")
    ai_signal_timing: Lever | None = _off("ai_signal_timing")
    fast_crash_handling: Lever | None = _off("fast_crash_handling")
    parking_guidance: Lever | None = _off("parking_guidance")
    community_diversion: CategoryLever | None = _off("community_diversion")
    prevention: PreventionLever | None = _off("prevention")
    bus_signal_priority: Lever | None = _off("bus_signal_priority")
    bus_lanes: Lever | None = _off("bus_lanes")
    bus_realtime_info: Lever | None = _off("bus_realtime_info")
    bus_holding: Lever | None = _off("bus_holding")


def police_levers() -> list[str]:
    """The levers that can change the police logs (all but the public-transport ones), in registry order."""
    return [name for name, info in LEVERS.items() if info.reaches_police]


def levers_markdown(command: str) -> str:
    """docs/levers.md: every lever's mechanism, default, range and source."""
    lines = [
        "# The smart levers",
        "",
        f"<!-- Generated by `{command}` from `citysim.config.levers.LEVERS`; do not edit by hand. -->",
        "",
        "Each lever is a block under `levers:` in a scenario, `{strength: s}` with 0 <= s <= 1 (0: no effect).",
        "The smart scenario (`scenarios/shanghai/smart.yaml`) sets each to its default; the sensitivity",
        "experiment sweeps each between its low and high values, except the public-transport levers: the buses",
        "run after a police replication, never inside it, so those cannot move a police metric.",
        "",
        f"Evidence year: the newest evidence the default rests on; **after {CLAIM_YEAR}** marks evidence from",
        f"after the claim (June {CLAIM_YEAR}), which cannot be what the claim measured; 'none' marks an ASSUMPTION.",
        "",
        "| lever | service | mechanism | default | low | high | evidence year | source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, info in LEVERS.items():
        year = str(info.evidence_year) if info.evidence_year else "none"
        if info.evidence_year > CLAIM_YEAR:
            year = f"**{year} (after {CLAIM_YEAR})**"
        lines.append(f"| `{name}` | {info.service} | {info.mechanism} | {info.default:g} | {info.low:g} | "
                     f"{info.high:g} | {year} | {info.source} |")
    return "\n".join(lines) + "\n"
