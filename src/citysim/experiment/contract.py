"""What every experiment kind is given (`Options`) and gives back (`Outcome`), so the CLI can run any
kind the same way: parse, call the kind's `write_folder`, print the outcome."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from citysim.exit_codes import EXIT_OK, EXIT_RUNS_FAILED
from citysim.progress import QUIET, Reporter

__all__ = ["EXIT_OK", "EXIT_RUNS_FAILED", "Options", "Outcome"]


@dataclass(frozen=True)
class Options:
    """How to run an experiment: when it started (UTC, for the manifest), where its runs execute, whether
    to resume the runs an interrupted experiment stored in its folder, (claim checks only) the README
    whose claims block to update, and how to show progress (silent by default)."""

    started: str
    executor: Executor | None = None
    resume: bool = False
    readme: Path | None = None
    reporter: Reporter = QUIET


@dataclass(frozen=True)
class Outcome:
    """What to tell the user: a title, a table, warnings for stderr, and the exit status."""

    title: str
    table: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    exit_code: int = EXIT_OK
    width: int = 160
