"""Signal delay on police trips, explicit: the levers that act on signals act on it alone.

A trip meets `arterial_km x arterial_per_km + local_km x local_per_km` signalised intersections, each
costing ordinary traffic `delay_min` on average. That delay is already inside the calibrated link and
street times, so ordinary trips keep their time; what changes is the share of it a trip still suffers:

- a lights-and-siren trip (the scenario's `lights_and_siren_priorities`) suffers `lights_siren_share`
  of each signal's delay;
- AI signal timing cuts the delay at its covered share of intersections by `AI_SIGNAL_DELAY_CUT`, for
  every trip;
- signal pre-emption removes what is left of a lights-and-siren trip's delay at its equipped share of
  signals, and does nothing for other trips.

The two levers compose on the same delay (each acts on what the other leaves), so it is never counted
twice, and neither multiplies a trip's driving time as a whole.
"""

from __future__ import annotations

from citysim.city.travel import Trip
from citysim.config.lever_effects import AI_SIGNAL_DELAY_CUT, LeverEffects
from citysim.config.operations import Driving


class SignalDelay:
    """Minutes of signal delay a trip saves against ordinary driving through the baseline's signals."""

    def __init__(self, driving: Driving | None, effects: LeverEffects) -> None:
        self.lights_siren_priorities = frozenset(driving.lights_and_siren_priorities) if driving else frozenset()
        signals = driving.signals if driving else None
        self._arterial = signals.arterial_per_km if signals else 0.0
        self._local = signals.local_per_km if signals else 0.0
        delay = signals.delay_min if signals else 0.0
        after_ai = delay * (1.0 - effects.ai_signal_share * AI_SIGNAL_DELAY_CUT)
        self._ordinary_saving = delay - after_ai
        lights_siren = after_ai * (signals.lights_siren_share if signals else 1.0) * (1.0 - effects.preemption_share)
        self._lights_siren_saving = delay - lights_siren

    def signals(self, trip: Trip) -> float:
        """Signalised intersections the trip passes."""
        return trip.arterial_km * self._arterial + trip.local_km * self._local

    def minutes(self, trip: Trip, lights_siren: bool) -> float:
        """The trip's driving minutes with its signal delay adjusted; never below zero."""
        saving = self.signals(trip) * (self._lights_siren_saving if lights_siren else self._ordinary_saving)
        return max(trip.minutes - saving, 0.0) if saving else trip.minutes
