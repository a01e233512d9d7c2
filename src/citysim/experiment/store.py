"""The result store of a claim check: one file per finished run under `units/`, each written
atomically (temporary file, then rename), so an interruption at any moment leaves only whole runs.
The tidy tables (runs.csv and the chart tables) are assembled from the store in a fixed order once
the runs are done, so they are the same whichever worker finished first, and whether or not the
experiment was interrupted and resumed.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from citysim.analysis.chart_tables import DISTRICT_COLUMNS, HOURLY_COLUMNS, SAMPLE_COLUMNS
from citysim.experiment.runs import RUN_COLUMNS, Key, UnitResult
from citysim.output import layout

TABLES = {
    "runs": (layout.RUNS, RUN_COLUMNS),
    "hourly": (layout.HOURLY, HOURLY_COLUMNS),
    "districts": (layout.DISTRICTS, DISTRICT_COLUMNS),
    "samples": (layout.SAMPLES, SAMPLE_COLUMNS),
}


class UnitStore:
    """Finished runs, one pickle each under `<out>/units/` (an internal format; the tables are the output)."""

    def __init__(self, out: Path, resume: bool = False) -> None:
        self.out = out
        self.folder = out / layout.STORE
        self.folder.mkdir(parents=True, exist_ok=True)
        for leftover in self.folder.glob("*.tmp"):
            leftover.unlink()  # a write cut off by an interruption
        if not resume:
            for old in self.folder.glob("*.unit"):
                old.unlink()
        self.order: dict[Key, None] = {}  # the recorded runs, in the order they belong in the tables

    def _path(self, key: Key) -> Path:
        digest = hashlib.sha256(repr(key).encode("utf-8")).hexdigest()[:16]
        return self.folder / f"{digest}.unit"

    def get(self, key: Key) -> UnitResult | None:
        """The stored result of a run, if it finished before."""
        path = self._path(key)
        if not path.is_file():
            return None
        with path.open("rb") as handle:
            unit: UnitResult = pickle.load(handle)
        return unit if unit.key == key else None

    def put(self, unit: UnitResult) -> None:
        """Store a finished run (atomically)."""
        from citysim.output.files import write_bytes_atomically

        def write(tmp: Path) -> None:
            with tmp.open("wb") as handle:
                pickle.dump(unit, handle, protocol=pickle.HIGHEST_PROTOCOL)

        write_bytes_atomically(self._path(unit.key), write)

    def record(self, key: Key) -> None:
        """Note that this run belongs in the tables, in this position (a run recorded again keeps its first)."""
        self.order.setdefault(key)

    def _units(self) -> Iterator[UnitResult]:
        for key in self.order:
            unit = self.get(key)
            if unit is not None:
                yield unit

    def runs_frame(self) -> pd.DataFrame:
        """runs.csv's rows of the recorded runs, in their recorded order."""
        parts = [pd.DataFrame(unit.rows, columns=RUN_COLUMNS) for unit in self._units()]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=RUN_COLUMNS)

    def write_tables(self) -> None:
        """runs.csv and the chart tables, from the stored runs in their recorded order."""
        from citysim.output.files import write_csv

        parts: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES}
        for unit in self._units():
            parts["runs"].append(pd.DataFrame(unit.rows, columns=RUN_COLUMNS))
            parts["hourly"].append(unit.hourly)
            parts["districts"].append(unit.districts)
            if unit.samples is not None:
                parts["samples"].append(unit.samples)
        for name, (file, columns) in TABLES.items():
            frame = pd.concat(parts[name], ignore_index=True) if parts[name] else pd.DataFrame(columns=columns)
            write_csv(frame[columns], self.out / file)
