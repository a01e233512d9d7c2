"""A results folder as a whole: one writer at a time, and a clean start.

`folder_lock` holds an exclusive OS lock on `<out>/.citysim.lock` for as long as a command writes the
folder, so a second experiment into the same folder is refused at once, naming the process that holds
it. It is a POSIX record lock (`lockf`): it belongs to the process alone (worker processes forked from
it do not inherit it) and goes with that process, however it ends. `clear_outputs` removes what an
earlier experiment derived in the folder (tables, charts, reports), so a folder never shows one
experiment's claims beside another's inputs.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from citysim.errors import InputError
from citysim.output import layout
from citysim.output.files import MIN_FOLDER_BYTES, check_folder_path, prepare_output_folder
from citysim.output.manifest import utc_now

LOCK = ".citysim.lock"

#: What the commands derive in a folder, all rewritten at their end (the store and inputs.json are not:
#: they are what a resume carries on from).
DERIVED = (
    layout.CLAIMS, layout.SERVICES, layout.SERVICE_RUNS, layout.RUNS, layout.FAILURES, layout.HOURLY,
    layout.DISTRICTS, layout.SAMPLES, layout.MAP, layout.REPLAY, layout.DIAGNOSTICS, layout.WARNINGS,
    layout.ATTRIBUTION, layout.SENSITIVITY, layout.WHAT_WOULD_IT_TAKE, layout.PRIORS, layout.DESIGN,
    layout.REDUCTIONS, layout.CLAIM_PROBABILITIES, layout.VERDICTS, layout.SENSITIVITY_INDICES,
    layout.BREAK_EVENS, layout.REPORT_MD, layout.REPORT_HTML, layout.COMPARISON, layout.STEPS, layout.KPIS,
    layout.SUMMARY, layout.TRAFFIC_BY_HOUR, layout.RESOLVED_SCENARIO, *layout.LOG_FILES.values(),
)
#: The charts and the resolved scenarios, by the patterns of the names citysim gives them.
DERIVED_PATTERNS = {layout.FIGURES: ("*.png", "*.svg", "*.gif"),
                    layout.RESOLVED_SCENARIOS: ("*.baseline.yaml", "*.smart.yaml")}


def _unwritable(out: Path, exc: OSError) -> InputError:
    return InputError(out, f"the output folder cannot be written ({exc.strerror or exc}); choose another with --out.")


@contextmanager
def folder_lock(out: Path, command: str, needed_bytes: int = MIN_FOLDER_BYTES) -> Iterator[None]:
    """Hold the folder for this process while the block runs (InputError if another process holds it),
    and check it is usable first (`prepare_output_folder`: its path, a real write, `needed_bytes` free)."""
    check_folder_path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        # Never through a symlink: a planted link must not make the holder's details overwrite its target.
        descriptor = os.open(out / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(out / LOCK, "this lock file is a symbolic link; citysim writes only a regular file "
                             "there. Remove it, or choose another folder with --out.") from None
        raise _unwritable(out, exc) from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise InputError(out / LOCK, "this lock file is not a regular file; remove it, or choose another folder "
                             "with --out.")
        try:
            fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise _unwritable(out, exc) from None
            raise InputError(out, f"another citysim process is writing to this folder ({_holder(descriptor)}); "
                             "wait for it to finish, or choose another folder with --out.") from None
        holder = json.dumps({"pid": os.getpid(), "since_utc": utc_now(), "command": command}).encode("utf-8")
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, holder, 0)
        prepare_output_folder(out, needed_bytes)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _holder(descriptor: int) -> str:
    """Who holds the lock, from what it wrote into the lock file."""
    try:
        holder = json.loads(os.pread(descriptor, 4096, 0) or b"{}")
        return f"pid {holder['pid']}, since {holder['since_utc']}: {holder['command']}"
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return "its details are not readable"


def _is_experiment_folder(out: Path) -> bool:
    """Whether an experiment wrote `out` before: its record of inputs (file -> SHA-256) or its unit files."""
    record = out / layout.INPUTS
    try:
        if record.is_file() and not record.is_symlink() and record.stat().st_size < 2**20:
            data = json.loads(record.read_text(encoding="utf-8"))
            if isinstance(data, dict) and data and all(isinstance(v, str) and len(v) == 64 for v in data.values()):
                return True
    except (OSError, ValueError, RecursionError):
        pass
    store = out / layout.STORE
    return store.is_dir() and not store.is_symlink() and any(store.glob("*.unit.json"))


def clear_outputs(out: Path) -> None:
    """Remove what an earlier experiment derived in `out` (the files of DERIVED, its charts and resolved
    scenarios by their patterns) and the temporary files of cut-off writes. Only in a folder an experiment
    wrote before, and only files of the names it writes: any other file in the folder is kept."""
    if not _is_experiment_folder(out):
        return
    try:
        for name in DERIVED:
            (out / name).unlink(missing_ok=True)
        for folder, patterns in DERIVED_PATTERNS.items():
            if (out / folder).is_dir() and not (out / folder).is_symlink():
                for pattern in patterns:
                    for path in (out / folder).glob(pattern):
                        path.unlink(missing_ok=True)
                with suppress(OSError):
                    (out / folder).rmdir()  # only if nothing else is left in it
        for leftover in out.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)
    except OSError as exc:
        raise _unwritable(out, exc) from None
