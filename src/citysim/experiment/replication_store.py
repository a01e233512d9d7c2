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
import re
import shutil
import sys
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
from pyarrow import feather

from citysim.config import Scenario
from citysim.errors import InputError
from citysim.experiment.configurations import scenario_digest
from citysim.experiment.fingerprint import run_fingerprint
from citysim.output.files import read_stored, write_bytes_atomically, write_text
from citysim.simulation.logs import LOG_NAMES, RunLogs
from citysim.simulation.model import simulate_one

RECORD = "unit.json"
DIGEST = re.compile(r"[0-9a-f]{16}")  # the name of a scenario's folder (`scenario_digest`)
KPIS = "kpis.arrow"


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _write_arrow(frame: pd.DataFrame, path: Path) -> None:
    def write(tmp: Path) -> None:
        # Uncompressed, so what a stored file can make citysim allocate is bounded by its size.
        frame.reset_index(drop=True).to_feather(tmp, compression="uncompressed")

    write_bytes_atomically(path, write)


def _sha256(path: Path) -> str:
    return hashlib.sha256(read_stored(path)).hexdigest()


def _read_arrow(path: Path) -> pd.DataFrame:
    frame: pd.DataFrame = feather.read_table(pa.BufferReader(read_stored(path))).to_pandas()
    return frame


def _refuse_link(folder: Path) -> None:
    if folder.is_symlink():
        raise InputError(folder, "this store of replications is a symbolic link; citysim keeps them in a folder of "
                         "the results folder itself. Remove the link, or choose another --out.")


def clear_replications(folder: Path) -> None:
    """Remove the stored replications under `folder` (only the scenario folders citysim names by digest)."""
    _refuse_link(folder)
    if folder.is_dir():
        for child in folder.iterdir():
            if DIGEST.fullmatch(child.name) and child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
        with suppress(OSError):
            folder.rmdir()  # only if nothing else is left


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
            data = json.loads(read_stored(record, 2**20))
            if not isinstance(data, dict) or data.get("fingerprint") != self._fingerprint(replication):
                raise ValueError("it was made from other inputs or another version of the code")
            if not isinstance(data.get("sha256"), dict) or any(
                    data["sha256"].get(name) != _sha256(folder / name) for name in self._files()):
                raise ValueError("a file does not match its checksum (cut short or altered)")
            logs = RunLogs(*(_read_arrow(folder / f"{name}.arrow") for name in LOG_NAMES))
            return logs, _read_arrow(folder / KPIS)
        except Exception as exc:  # anything wrong with a stored replication means: make it again
            why = str(exc) if isinstance(exc, ValueError | OSError) else type(exc).__name__
            self.report(f"Warning: stored replication {folder} is not used: {why}; it is run again.")
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
    _refuse_link(folder)
    _refuse_link(stored.folder)
    if not resume:
        shutil.rmtree(stored.folder, ignore_errors=True)
    return stored
