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

from pydantic import Field

from citysim.config.base import Probability, Strict


class Lever(Strict):
    """A smart lever at a strength between 0 (no effect) and 1; what strength means is lever-specific
    (see `LEVERS` below for each lever's mechanism, default, range and source)."""

    strength: Probability


class CategoryLever(Lever):
    """A lever acting on some demand categories only."""

    categories: list[str] = Field(min_length=1)


class CommandCentreLever(Lever):
    """The integrated command centre: `strength` of the dispatcher's decision time is removed, and
    `location_share` of the calls that get a unit are located automatically."""

    location_share: Probability


class PreventionLever(CategoryLever):
    """Fewer incidents: `strength` of the listed categories' calls and `crash_strength` of crashes
    do not happen."""

    crash_strength: Probability


class Levers(Strict):
    """The smart levers; a lever left out is off (the baseline)."""

    command_centre: CommandCentreLever | None = None
    avl_dispatch: Lever | None = None
    video_detection: Lever | None = None
    predictive_deployment: Lever | None = None
    mobile_terminals: Lever | None = None
    signal_preemption: Lever | None = None
    congestion_routing: Lever | None = None
    ai_signal_timing: Lever | None = None
    fast_crash_handling: Lever | None = None
    parking_guidance: Lever | None = None
    community_diversion: CategoryLever | None = None
    prevention: PreventionLever | None = None


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
        "(ASSUMPTION: 1 min) instead of being reported by a call", 0.5, 0.2, 0.8,
        "video incident detection saves 5-12 min per incident (Monroe County NY); 700,000 sensing "
        "'neurons' in Shanghai (2019); the covered share is an ASSUMPTION", 2019),
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
        "(every trip; police/driving.py)", 0.09, 0.02, 0.3,
        "average speed +12.9 % at 360 Shanghai intersections (Shanghai police, Jan 2026), read as a cut in "
        "signal delay; 360 of about 4,000 signalised intersections (ASSUMPTION count) is the default share. "
        "Evidence from after the claim", 2026),
    "fast_crash_handling": LeverInfo(
        "fast handling of minor crashes (online self-handling, drones): the drivers' self-clearing time x "
        "(1 - strength), so more crashes are cleared before the police arrive and blockages end sooner", 0.4,
        0.32, 0.55,
        "drone quick handling saves 40 %+ (Shanghai police, Jan 2026); clearance -32 % (Oro Valley), -55 % "
        "(Maryland service patrols)", 2026),
    "parking_guidance": LeverInfo(
        "parking guidance (boards, app): this share of each parking car's search time is removed "
        "(traffic.parking.search_min x (1 - strength)), so fewer cars cruise on the parking districts' streets",
        0.17, 0.0, 0.45,
        "information alone: up to 17 % of cruising time saved (Zurich, Cao & Menendez 2018); with demand "
        "pricing: search -43 % (SFMTA 2014), cruising -50 % (Millard-Ball et al. 2014); null: in-car or "
        "sensor information hardly shortens the search (Dutch simulation, Tasseron et al. 2014)", 2018),
    "community_diversion": LeverInfo(
        "smart community / 12345: this share of the listed categories' calls that would get a unit is "
        "resolved without one", 0.3, 0.1, 0.5,
        "about half of 110 calls are non-police matters; the 12345 hotline exists since 2012; the share is "
        "an ASSUMPTION", 0),
    "prevention": LeverInfo(
        "prevention and community sensing: this share of the listed categories' incidents (and "
        "crash_strength of crashes) does not happen", 0.259, 0.1, 0.3,
        "alarm-type 110 calls -25.9 %, traffic crashes -7.2 % year on year (Shanghai, Jan-Aug 2019)", 2019),
}


def levers_markdown(command: str) -> str:
    """docs/levers.md: every lever's mechanism, default, range and source."""
    lines = [
        "# The smart levers",
        "",
        f"<!-- Generated by `{command}` from `citysim.config.levers.LEVERS`; do not edit by hand. -->",
        "",
        "Each lever is a block under `levers:` in a scenario, `{strength: s}` with 0 <= s <= 1 (0: no effect).",
        "The smart scenario (`scenarios/shanghai/smart.yaml`) sets each to its default; the sensitivity",
        "experiment sweeps each between its low and high values.",
        "",
        f"Evidence year: the newest evidence the default rests on; **after {CLAIM_YEAR}** marks evidence from",
        f"after the claim (June {CLAIM_YEAR}), which cannot be what the claim measured; 'none' marks an ASSUMPTION.",
        "",
        "| lever | mechanism | default | low | high | evidence year | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, info in LEVERS.items():
        year = str(info.evidence_year) if info.evidence_year else "none"
        if info.evidence_year > CLAIM_YEAR:
            year = f"**{year} (after {CLAIM_YEAR})**"
        lines.append(f"| `{name}` | {info.mechanism} | {info.default:g} | {info.low:g} | {info.high:g} | {year} | "
                     f"{info.source} |")
    return "\n".join(lines) + "\n"
