"""The schema of police operations beyond the 110 job itself (`operations:` in a scenario).

- `other_work`: what on-duty units do besides 110 calls (patrol, posts, custody, meals, paperwork),
  and whether a unit doing it can be sent to a call (after an interruption delay) or not at all;
- `lookups`: information checks made on scene (ID, plate, record), by radio to a staffed back office
  or, with a mobile terminal, on the terminal;
- `case_closure`: the report that closes an incident (`t_closed`), filed at the station or written in
  the car after the job, or on scene with a terminal;
- `by_category`: how many look-ups each category needs and how long its report takes;
- `driving`: which priorities drive with lights and siren, and the signal delay they meet.

A scenario without the block has none of these: units do 110 work only and an incident closes when it
clears (the queueing-theory reductions rely on that).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from citysim.config.base import Probability, Strict
from citysim.config.distributions import Distribution

NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]

#: Task starts per unit-hour above this are surely a typo (one start a minute).
MAX_TASK_STARTS_PER_HOUR = 60.0
#: The most task starts one replication may draw (a guard against a typo in a rate or a run length).
MAX_TASK_STARTS = 5_000_000


def task_start_problem(tasks: list[Task], n_units: int, horizon_min: float) -> str | None:
    """Why these tasks would draw too many starts in one replication, or None: checked when a scenario is
    loaded (naming its file and key) and again before the draws are made."""
    expected = sum(t.starts_per_hour for t in tasks) * n_units * horizon_min / 60.0
    if expected <= MAX_TASK_STARTS:
        return None
    return (f"the other work would start about {expected:,.0f} tasks in one replication, more than the limit of "
            f"{MAX_TASK_STARTS:,}; lower starts_per_hour, the units or run.duration_min.")


class Task(Strict):
    """One kind of work other than 110 calls, started at random while a unit is on duty."""

    name: str = Field(description="the task's name (the task log's `task`; unique)", min_length=1)
    starts_per_hour: float = Field(ge=0, le=MAX_TASK_STARTS_PER_HOUR, allow_inf_nan=False,
                                   description="Poisson rate of task starts per on-duty unit-hour")
    duration: Distribution = Field(description="minutes one spell of the task takes")
    on_dispatch: Literal["interrupt", "unavailable"] = Field(
        description="interrupt: the unit may be sent to a call, leaving the task after interrupt_delay; "
        "unavailable: it cannot be sent until the task ends")
    interrupt_delay: Distribution | None = Field(
        description="minutes from the assignment to the unit turning out, added to its turn-out; null unless "
        "on_dispatch is 'interrupt'")
    deferrable: bool = Field(
        description="true: a task due while the unit is busy waits until the unit is free (paperwork, a meal); "
        "false: it is skipped (proactive patrol)")

    @model_validator(mode="after")
    def _delay_matches(self) -> Task:
        if (self.on_dispatch == "interrupt") != (self.interrupt_delay is not None):
            raise ValueError("interrupt_delay is required when on_dispatch is 'interrupt', and must be null otherwise")
        return self


class BackOffice(Strict):
    """The staffed desk that answers look-ups by radio, first come first served."""

    staff_by_hour: Annotated[list[Annotated[int, Field(ge=0, le=100_000)]], Field(min_length=24, max_length=24)] = \
        Field(description="back-office staff on duty in each clock hour 0-23")
    service: Distribution = Field(description="minutes to answer one look-up (radio talk and the search)")

    @model_validator(mode="after")
    def _someone(self) -> BackOffice:
        if max(self.staff_by_hour) == 0:
            raise ValueError("at least one hour needs back-office staff, or radio look-ups would never be answered")
        return self


class Lookups(Strict):
    """How look-ups are answered: by radio through the back office, or on a mobile terminal."""

    back_office: BackOffice = Field(description="the staffed desk answering look-ups by radio")
    terminal: Distribution = Field(description="minutes for one look-up on a mobile terminal (no queue)")


class CaseClosure(Strict):
    """How the report that closes an incident is filed."""

    station_trip_share: Probability = Field(
        description="share of reports written without a terminal that are filed at the unit's station (a trip "
        "there first); the rest are written in the car after the job")
    terminal_report_factor: float = Field(
        gt=0, le=2, description="report-writing time on a terminal (on scene), as a multiple of the desk time")


class CategoryOperations(Strict):
    """One category's on-scene look-ups and report."""

    lookups_mean: float = Field(ge=0, le=50, description="mean look-ups per incident (Poisson)")
    report: Distribution = Field(description="minutes to write the incident's report")


class Signals(Strict):
    """Signalised intersections on police routes and the delay each costs."""

    arterial_per_km: NonNegative = Field(description="signalised intersections per km of arterial road")
    local_per_km: NonNegative = Field(description="signalised intersections per km of local street")
    delay_min: NonNegative = Field(description="mean control delay per signal for ordinary traffic (part of the "
                                   "calibrated link times, not added to them)")
    lights_siren_share: Probability = Field(
        description="share of that delay a lights-and-siren vehicle still suffers (slowing, clearing the crossing)")


class Driving(Strict):
    """Emergency driving: which trips use lights and siren, and the signals they meet."""

    lights_and_siren_priorities: list[Annotated[int, Field(ge=1, le=9)]] = Field(
        description="priorities whose units drive to the scene with lights and siren")
    signals: Signals = Field(description="signalised intersections on police routes")


class Operations(Strict):
    """Police operations beyond the 110 job (see the module docstring)."""

    other_work: list[Task] = Field(description="kinds of work besides 110 calls, one entry each", max_length=50)
    lookups: Lookups = Field(description="how on-scene look-ups are answered")
    case_closure: CaseClosure = Field(description="how the report that closes an incident is filed")
    by_category: dict[str, CategoryOperations] = Field(
        description="each demand category's look-ups and report (one entry per category)")
    driving: Driving = Field(description="lights and siren, and the signals police trips meet")

    @model_validator(mode="after")
    def _unique_tasks(self) -> Operations:
        names = [t.name for t in self.other_work]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"task names must be unique; repeated: {', '.join(repeated)}")
        return self
