"""The result store of an experiment: one file per finished run under `units/`, each written atomically
(temporary file, then rename), so an interruption at any moment leaves only whole runs. The tidy tables
(runs.csv and the chart tables) are assembled from the store in a fixed order once the runs are done,
so they are the same whichever worker finished first, and whether or not the experiment was
interrupted and resumed.

A unit file is data, never code: a one-line JSON header (format, key, the run's fingerprint and the
SHA-256 of the body), then a JSON body. A file that is cut short, altered, unreadable or made from other
inputs or code is reported by name and its run made again; nothing in it is executed.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from citysim.analysis.chart_tables import DISTRICT_COLUMNS, HOURLY_COLUMNS, SAMPLE_COLUMNS
from citysim.analysis.run_checks import DIAGNOSTIC_COLUMNS
from citysim.errors import InputError
from citysim.experiment.runs import RUN_COLUMNS, SERVICE_RUN_COLUMNS, Key, UnitResult
from citysim.output import layout
from citysim.output.files import read_stored

TABLES = {
    "runs": (layout.RUNS, RUN_COLUMNS),
    "hourly": (layout.HOURLY, HOURLY_COLUMNS),
    "districts": (layout.DISTRICTS, DISTRICT_COLUMNS),
    "samples": (layout.SAMPLES, SAMPLE_COLUMNS),
    "services": (layout.SERVICE_RUNS, SERVICE_RUN_COLUMNS),
    "diagnostics": (layout.DIAGNOSTICS, DIAGNOSTIC_COLUMNS),
}
FORMAT = "citysim-unit/3"
SUFFIX = ".unit.json"


def _plain(value: Any) -> Any:
    """A JSON-ready scalar (numpy scalars as Python ones)."""
    return value.item() if isinstance(value, np.generic) else value


def _frame_data(frame: pd.DataFrame) -> dict[str, Any]:
    return {"columns": [str(c) for c in frame.columns], "dtypes": [str(t) for t in frame.dtypes],
            "data": [[_plain(v) for v in frame[c].tolist()] for c in frame.columns]}


def _frame(data: dict[str, Any]) -> pd.DataFrame:
    columns = {name: pd.Series(values, dtype=dtype if dtype != "object" else object)
               for name, dtype, values in zip(data["columns"], data["dtypes"], data["data"], strict=True)}
    return pd.DataFrame(columns, columns=data["columns"])


def encode(unit: UnitResult, fingerprint: str) -> bytes:
    """A unit file's bytes: the header line, then the body."""
    body = json.dumps({
        "rows": [[_plain(v) for v in row] for row in unit.rows],
        "hourly": _frame_data(unit.hourly), "districts": _frame_data(unit.districts),
        "samples": None if unit.samples is None else _frame_data(unit.samples),
        "services": _frame_data(unit.services), "diagnostics": _frame_data(unit.diagnostics),
    }, allow_nan=True, separators=(",", ":")).encode("utf-8")
    header = {"format": FORMAT, "key": list(unit.key), "fingerprint": fingerprint,
              "sha256": hashlib.sha256(body).hexdigest()}
    return json.dumps(header).encode("utf-8") + b"\n" + body


class UnitError(ValueError):
    """A unit file that cannot be used, and why."""


#: The column types a unit's tables may have (what the chart tables are made of).
DTYPES = {"int64", "float64", "object", "str", "string", "bool"}


def _checked_frame(data: Any, columns: list[str]) -> pd.DataFrame:
    """A unit's table: the expected columns (or none, for a study's metric-only run), known types, equal lengths."""
    if not isinstance(data, dict) or not isinstance(data.get("columns"), list) or \
            sorted(map(str, data["columns"])) not in ([], sorted(columns)):
        raise UnitError("a table of it has other columns than citysim writes")
    if any(dtype not in DTYPES for dtype in data["dtypes"]) or len({len(v) for v in data["data"]}) > 1:
        raise UnitError("a table of it has unknown column types or ragged columns")
    return _frame(data)


#: The type of each field of a runs.csv row (situation, config, replication, metric, priority, value, incidents).
ROW_TYPES: tuple[type | tuple[type, ...], ...] = (str, str, int, str, str, (float, int, type(None)), int)


def _is_run_row(row: Any) -> bool:
    return isinstance(row, list) and len(row) == len(ROW_TYPES) and all(
        isinstance(value, kind) for value, kind in zip(row, ROW_TYPES, strict=True))


def decode(raw: bytes, key: Key, fingerprint: str) -> UnitResult:
    """The run a unit file holds; UnitError if it is not a whole, untouched unit of this run."""
    head, newline, body = raw.partition(b"\n")
    try:
        header = json.loads(head)
    except (ValueError, RecursionError):
        raise UnitError("it is not a citysim unit file (no readable header)") from None
    if not newline or not isinstance(header, dict) or header.get("format") != FORMAT:
        raise UnitError(f"it is not a {FORMAT} file")
    if header.get("key") != list(key):
        raise UnitError("it holds another run")
    if header.get("sha256") != hashlib.sha256(body).hexdigest():
        raise UnitError("its contents do not match its checksum (cut short or altered)")
    if header.get("fingerprint") != fingerprint:
        raise UnitError("it was made from other inputs or another version of the code")
    try:
        data = json.loads(body)
        rows = data["rows"]
        if not isinstance(rows, list) or not all(_is_run_row(row) for row in rows):
            raise UnitError("its rows are not runs.csv's rows")
        samples = None if data["samples"] is None else _checked_frame(data["samples"], SAMPLE_COLUMNS)
        return UnitResult(key, [tuple(row) for row in rows], _checked_frame(data["hourly"], HOURLY_COLUMNS),
                          _checked_frame(data["districts"], DISTRICT_COLUMNS), samples,
                          _checked_frame(data["services"], SERVICE_RUN_COLUMNS),
                          _checked_frame(data["diagnostics"], DIAGNOSTIC_COLUMNS))
    except UnitError:
        raise
    except Exception as exc:  # any malformed body (deep nesting, huge numbers, wrong types) is a bad unit
        raise UnitError(f"its body cannot be read ({type(exc).__name__})") from None


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


class UnitStore:
    """Finished runs, one unit file each under `<out>/units/`, each checked against the run it should be."""

    def __init__(self, out: Path, resume: bool = False, report: Callable[[str], None] = _to_stderr) -> None:
        self.out = out
        self.folder = out / layout.STORE
        if self.folder.is_symlink():
            raise InputError(self.folder, "the result store is a symbolic link; citysim keeps its runs in a folder "
                             "of the results folder itself. Remove the link, or choose another --out.")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.report = report
        for leftover in self.folder.glob(".*.tmp"):
            leftover.unlink()  # a write cut off by an interruption
        if not resume:
            for old in self.folder.glob(f"*{SUFFIX}"):
                old.unlink()
        self.order: dict[Key, None] = {}  # the recorded runs, in the order they belong in the tables
        self.fingerprints: dict[Key, str] = {}  # each run's fingerprint, as last asked for or stored

    def _path(self, key: Key) -> Path:
        digest = hashlib.sha256(repr(key).encode("utf-8")).hexdigest()[:16]
        return self.folder / f"{digest}{SUFFIX}"

    def get(self, key: Key, fingerprint: str) -> UnitResult | None:
        """The stored result of this run (made from exactly these inputs), if it finished before."""
        self.fingerprints[key] = fingerprint
        path = self._path(key)
        try:
            raw = read_stored(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._reject(path, key, f"it cannot be read ({exc.strerror})")
            return None
        try:
            return decode(raw, key, fingerprint)
        except UnitError as exc:
            self._reject(path, key, str(exc))
            return None

    def _reject(self, path: Path, key: Key, why: str) -> None:
        """Report a unit file that cannot be used (its run is then made again)."""
        situation, config, replication = key
        message = (f"Warning: stored run {path} (situation '{situation}', {config}, replication {replication}) "
                   f"is not used: {why}; it is run again.")
        self.report(message)

    def put(self, unit: UnitResult, fingerprint: str) -> None:
        """Store a finished run (atomically)."""
        from citysim.output.files import write_bytes_atomically

        data = encode(unit, fingerprint)
        self.fingerprints[unit.key] = fingerprint
        def write(tmp: Path) -> None:
            tmp.write_bytes(data)

        write_bytes_atomically(self._path(unit.key), write)

    def record(self, key: Key) -> None:
        """Note that this run belongs in the tables, in this position (a run recorded again keeps its first)."""
        self.order.setdefault(key)

    def _units(self) -> Iterator[UnitResult]:
        """The recorded runs, read back; a run stored in this experiment must still be there whole."""
        for key in self.order:
            unit = self.get(key, self.fingerprints[key])
            if unit is None:
                raise InputError(self._path(key), "a run stored by this experiment was changed or removed before "
                                 "the tables were written; the same command with --resume makes it again.")
            yield unit

    def runs_frame(self) -> pd.DataFrame:
        """runs.csv's rows of the recorded runs, in their recorded order."""
        parts = [pd.DataFrame(unit.rows, columns=RUN_COLUMNS) for unit in self._units()]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=RUN_COLUMNS)

    def write_tables(self) -> dict[str, pd.DataFrame]:
        """runs.csv, service_runs.csv and the chart tables, from the stored runs in their recorded order;
        returns them by name (as in `TABLES`)."""
        from citysim.output.files import write_csv

        parts: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES}
        for unit in self._units():
            parts["runs"].append(pd.DataFrame(unit.rows, columns=RUN_COLUMNS))
            parts["hourly"].append(unit.hourly)
            parts["districts"].append(unit.districts)
            if unit.samples is not None:
                parts["samples"].append(unit.samples)
            parts["services"].append(unit.services)
            parts["diagnostics"].append(unit.diagnostics)
        tables = {}
        for name, (file, columns) in TABLES.items():
            frame = pd.concat(parts[name], ignore_index=True) if parts[name] else pd.DataFrame(columns=columns)
            tables[name] = frame[columns] if len(frame.columns) else pd.DataFrame(columns=columns)
            write_csv(tables[name], self.out / file)
        return tables

