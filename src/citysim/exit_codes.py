"""Every exit status of the `citysim` command, what it means and when it happens, defined once (the
experiments return them, the CLI's --help epilog and docs/errors.md list them)."""

from __future__ import annotations

from typing import NamedTuple

EXIT_OK, EXIT_BAD_INPUT, EXIT_RUNS_FAILED, EXIT_INTERRUPTED = 0, 2, 3, 130


class ExitStatus(NamedTuple):
    """One exit status: its code, what it means (the --help epilog) and when it happens (docs/errors.md)."""

    code: int
    meaning: str
    when: str


EXIT_CODES = [
    ExitStatus(EXIT_OK, "done",
               "Every command that did all its work; warnings (an overloaded district, a damaged stored run that "
               "was run again) may still have gone to stderr."),
    ExitStatus(EXIT_BAD_INPUT, "bad input: a file, an option or the --out location (one paragraph, never a traceback)",
               "Any command, before any work: a file, key or value the schema refuses, an unknown or malformed "
               "option (argparse's usage message), an unusable `--out`, a folder another command is writing, a "
               "refused `--resume`; once work has begun, chiefly a write that fails (a full disk), naming the file."),
    ExitStatus(EXIT_RUNS_FAILED, "some runs failed: they are listed in failures.csv, the others completed",
               "`citysim experiment` (any kind) when at least one run raised: the folder is complete "
               "(`manifest.json` written), its tables use the runs that completed, and `failures.csv` gives each "
               "failed run's situation, configuration, replication, seed and error."),
    ExitStatus(EXIT_INTERRUPTED,
               "interrupted (Ctrl-C or SIGTERM); a results folder without manifest.json is incomplete",
               "Any command stopped by Ctrl-C or SIGTERM: the runs (experiment) and replications (`run`, "
               "`calibrate`) already finished are kept, and the same command with `--resume` carries on from "
               "them; the message on stderr says what to do for the command."),
]
