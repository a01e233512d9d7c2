"""Every exit status of the `citysim` command and what it means, defined once (the experiments return
them, the CLI's --help epilog and docs/errors.md list them)."""

from __future__ import annotations

EXIT_OK, EXIT_BAD_INPUT, EXIT_RUNS_FAILED, EXIT_INTERRUPTED = 0, 2, 3, 130

EXIT_CODES = [
    (EXIT_OK, "done"),
    (EXIT_BAD_INPUT, "bad input: a file, an option or the --out location (one paragraph, never a traceback)"),
    (EXIT_RUNS_FAILED, "some runs failed: they are listed in failures.csv, the others completed"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C or SIGTERM); a results folder without manifest.json is incomplete"),
]
