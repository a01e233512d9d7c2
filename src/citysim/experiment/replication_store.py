"""Finished replications of `citysim run` and `citysim calibrate`, kept on disk as each one ends, so a
failure or an interrupt loses at most the replication under way and `--resume` carries on.

Each replication is a folder `<store>/<scenario digest>/<k>/`: its logs and its KPI rows in the Arrow
IPC format (Feather: unlike Parquet, it gives back every column type exactly, an empty categorical
included, so a resumed run writes the same files), then `unit.json`, written last: the fingerprint of
what made it (resolved scenario, root seed, replication, code version) and the SHA-256 of each file. A
replication whose record is missing, foreign or does not match its files is named in a warning and run
again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from citysim.config import Scenario
from citysim.experiment.configurations import scenario_digest
from citysim.experiment.fingerprint import run_fingerprint
from citysim.output.files import write_bytes_atomically, write_text
from citysim.simulation.logs import LOG_NAMES, RunLogs
from citysim.simulation.model import simulate_one

RECORD = "unit.json"
KPIS = "kpis.arrow"


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _write_arrow(frame: pd.DataFrame, path: Path) -> None:
    def write(tmp: Path) -> None:
        frame.reset_index(drop=True).to_feather(tmp)

    write_bytes_atomically(path, write)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class StoredReplications:
    """One scenario's replications (with one root seed) in a store: what `simulate` reuses and keeps."""

    folder: Path
    scenario: Scenario
    seed: int
    report: Callable[[str], None]

    def _fingerprint(self, replication: int) -> str:
        return run_fingerprint(simulate_one, (self.scenario, replication, self.seed))

    def _files(self) -> list[str]:
        return [*(f"{name}.arrow" for name in LOG_NAMES), KPIS]

    def reuse(self, replication: int) -> tuple[RunLogs, pd.DataFrame] | None:
        """A replication finished before with exactly these inputs and code, or None."""
        folder = self.folder / str(replication)
        record = folder / RECORD
        if not record.is_file():
            return None
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
            if data.get("fingerprint") != self._fingerprint(replication):
                raise ValueError("it was made from other inputs or another version of the code")
            if any(data["sha256"][name] != _sha256(folder / name) for name in self._files()):
                raise ValueError("a file does not match its checksum (cut short or altered)")
            logs = RunLogs(*(pd.read_feather(folder / f"{name}.arrow") for name in LOG_NAMES))
            return logs, pd.read_feather(folder / KPIS)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.report(f"Warning: stored replication {folder} is not used: {exc}; it is run again.")
            return None

    def keep(self, replication: int, logs: RunLogs, kpis: pd.DataFrame) -> None:
        """Store a finished replication: its files, then the record that makes it count."""
        folder = self.folder / str(replication)
        (folder / RECORD).unlink(missing_ok=True)
        for name in LOG_NAMES:
            _write_arrow(getattr(logs, name), folder / f"{name}.arrow")
        _write_arrow(kpis, folder / KPIS)
        record = {"fingerprint": self._fingerprint(replication),
                  "sha256": {name: _sha256(folder / name) for name in self._files()}}
        write_text(json.dumps(record, indent=1) + "\n", folder / RECORD)


def replication_store(folder: Path, scenario: Scenario, seed: int, resume: bool,
                      report: Callable[[str], None] = _to_stderr) -> StoredReplications:
    """The store of this scenario's replications under `folder`; without `resume`, an empty one."""
    stored = StoredReplications(folder / scenario_digest(scenario), scenario, seed, report)
    if not resume:
        shutil.rmtree(stored.folder, ignore_errors=True)
    return stored
