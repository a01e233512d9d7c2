"""How much an experiment file can ask for, worked out before anything runs: the most runs its kind can
make (an adaptive rule at its maximum), each as long as its longest scenario, and their computing time.
Above the limit the file is refused, naming the key that drives the count; a long one is announced.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from citysim.config import load_document, validate_schema
from citysim.config.experiment import (
    Attribution,
    Experiment,
    ExperimentSpec,
    Sensitivity,
    referenced_scenarios,
    resolve,
)
from citysim.config.levers import police_levers
from citysim.config.limits import MINUTES_PER_DAY, RunEstimate, expected_incidents, format_count, format_duration
from citysim.config.priors import load_priors
from citysim.errors import InputError, KeyPath
from citysim.experiment.design import group_names

#: Runs x simulated days of one experiment. ASSUMPTION: 200,000 Shanghai city-days is about 22 days of one
#: core (9.4 s a day, docs/performance.md), 8 h on a 64-worker cluster; the full uncertainty study is
#: 13,312.
MAX_EXPERIMENT_RUN_DAYS = 200_000.0


@dataclass(frozen=True)
class ExperimentEstimate:
    """The most runs an experiment makes, as the work of that many runs of its longest scenario, and the
    key that drives their number."""

    work: RunEstimate
    key: KeyPath

    def describe(self, workers: int) -> str:
        work = self.work
        return (f"up to {format_count(work.replications)} runs of up to {work.days_per_replication:,.3g} simulated "
                f"days each ({format_count(work.simulated_days)} run-days): about "
                f"{format_duration(work.wall_seconds)} of computing on one core, "
                f"{format_duration(work.wall_seconds / workers)} on {workers} worker(s)")


def most_runs(spec: ExperimentSpec, path: Path) -> tuple[int, KeyPath]:
    """The most runs the experiment can make, and the key that multiplies them."""
    if isinstance(spec, Experiment):
        return 2 * len(spec.situations) * spec.replications.max, ("replications", "max")
    if isinstance(spec, Attribution):
        groups = len(spec.groups)
        coalitions = 2**groups if spec.method == "exact" else min(2**groups, 1 + spec.orderings * groups)
        return coalitions * spec.replications, ("permutations",) if spec.method == "permutations" else (
            "replications",)
    if isinstance(spec, Sensitivity):
        configurations = 2 + 2 * len(police_levers()) + len(spec.metrics) * (spec.search_steps + 2)
        return configurations * spec.replications, ("replications",)
    analysed = len(set(group_names(load_priors(resolve(path, spec.priors)).names, spec.groups)))
    points = spec.samples * (analysed + (2 if spec.method == "sobol" else 1))
    configurations = 2 * points * len(spec.situations)
    if spec.break_even is not None:
        searched = len(spec.break_even.inputs)
        configurations += 2 * (1 + 2 * searched + spec.break_even.steps * searched * len(spec.metrics))
    return configurations * spec.replications, ("samples",)


def check_experiment_size(spec: ExperimentSpec, path: Path, workers: int) -> ExperimentEstimate:
    """The experiment's estimate, or an InputError naming the key if it asks for more than the limit."""
    runs, key = most_runs(spec, path)
    scenarios = [validate_schema(load_document(p), p) for p in referenced_scenarios(spec, path)]
    work = RunEstimate(max(expected_incidents(s) for s in scenarios),
                       max(s.run.horizon_min for s in scenarios) / MINUTES_PER_DAY, runs)
    estimate = ExperimentEstimate(work, key)
    if work.simulated_days > MAX_EXPERIMENT_RUN_DAYS:
        raise InputError(path, f"this experiment asks for {estimate.describe(workers)}; that is more than the limit "
                         f"of {MAX_EXPERIMENT_RUN_DAYS:,.0f} run-days for one experiment. Lower it.", key)
    return estimate
