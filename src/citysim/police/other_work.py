"""Work other than 110 calls (`operations.other_work`), drawn up front: for every unit and task, the
times the task falls due (a Poisson process over the whole run) and how long each would take.

The draws do not depend on what the unit is doing, so baseline and smart runs share them (common
random numbers); whether a due task is started, deferred or skipped is decided in the model, from the
unit's state at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from citysim.arrays import FloatArray, IntArray
from citysim.config.operations import Task, task_start_problem
from citysim.errors import InputError
from citysim.streams import Streams


@dataclass(frozen=True)
class TaskPlan:
    """Every due task of one replication, in time order."""

    t_due: FloatArray
    unit: IntArray
    task: IntArray
    duration_min: FloatArray

    @property
    def size(self) -> int:
        return int(self.t_due.size)


def plan_tasks(tasks: list[Task], n_units: int, horizon_min: float, streams: Streams) -> TaskPlan:
    """Draw each unit's due times of each task (stream `fleet.task.<name>`) and their durations."""
    problem = task_start_problem(tasks, n_units, horizon_min)
    if problem is not None:
        raise InputError(None, problem, ("operations", "other_work"))
    parts: list[tuple[FloatArray, IntArray, IntArray, FloatArray]] = []
    for index, task in enumerate(tasks):
        generator = streams.generator(f"fleet.task.{task.name}")
        counts = generator.poisson(task.starts_per_hour * horizon_min / 60.0, size=n_units)
        total = int(counts.sum())
        times = generator.uniform(0.0, horizon_min, size=total)
        units = np.repeat(np.arange(n_units, dtype=np.intp), counts)
        durations = task.duration.ppf(streams.uniforms(f"fleet.task.{task.name}.duration", total))
        parts.append((times, units, np.full(total, index, dtype=np.intp), durations))
    if not parts:
        empty = np.zeros(0)
        return TaskPlan(empty, np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp), empty)
    t_due = np.concatenate([p[0] for p in parts])
    order = np.argsort(t_due, kind="stable")
    return TaskPlan(t_due[order], np.concatenate([p[1] for p in parts])[order],
                    np.concatenate([p[2] for p in parts])[order], np.concatenate([p[3] for p in parts])[order])
