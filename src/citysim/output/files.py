"""Writing a results folder: tables first, manifest last, each file by atomic rename.

A folder is complete when `manifest.json` exists; it is written last, so an interrupted run never
leaves a folder that looks complete. A folder or page is checked before any work starts (a few KB
really written, and the free space against the command's estimate), and a write that fails later (a
full disk, a file-size limit) is an `InputError` naming the file: exit 2 and one paragraph, never a
traceback.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from citysim.errors import InputError
from citysim.output import layout

#: What a results folder needs free at least, whatever the command's own estimate: room for its tables,
#: charts, reports and manifest (an experiment folder with its store and charts is a few MB).
MIN_FOLDER_BYTES = 16 * 2**20
#: What a generated page (`levers`, `errors`, `calibrate --out`) needs free: pages are a few tens of KB.
MIN_PAGE_BYTES = 2**20
_PROBE_BYTES = 16 * 1024
_NAME_MAX, _PATH_MAX = 255, 4096  # Linux limits, in bytes of the file system's encoding


def prepare_output_folder(out: Path, needed_bytes: int = MIN_FOLDER_BYTES) -> None:
    """Create the folder (or check it is usable) before any work starts: a few KB are written and synced
    there (so a full disk fails now, not after the work) and the free space must hold `needed_bytes`,
    the caller's estimate of what it will write."""
    check_folder_path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        _probe(out, needed_bytes)
        # the folder is being rewritten: it is incomplete until the new manifest lands
        (out / layout.MANIFEST).unlink(missing_ok=True)
    except OSError as exc:
        problem = f"the output folder cannot be written ({_reason(exc)}); choose another with --out."
        raise InputError(out, problem) from None


def check_folder_path(out: Path) -> None:
    """An output folder's path must be one the system accepts, and not a file's."""
    _check_path(out, "output folder")
    if out.exists() and not out.is_dir():
        raise InputError(out, "this output folder is a file; choose another with --out.")


def prepare_output_file(out: Path, needed_bytes: int = MIN_PAGE_BYTES) -> None:
    """Check, before any work, that a page can be written at `out`: not a folder, a path the system
    accepts, its folder writable with `needed_bytes` free."""
    _check_path(out, "output file")
    if out.is_dir():
        raise InputError(out, "this is a folder; --out names the file to write (e.g. page.md).")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _probe(out.parent, needed_bytes)
    except OSError as exc:
        problem = f"the output file cannot be written ({_reason(exc)}); choose another with --out."
        raise InputError(out, problem) from None


def _check_path(path: Path, what: str) -> None:
    """A path over the system's limits is refused before anything is created."""
    absolute = os.fsencode(os.path.abspath(path))
    shown = str(path) if len(str(path)) <= 80 else str(path)[:80] + "..."
    if len(absolute) >= _PATH_MAX:
        raise InputError(shown, f"the {what} path is {len(absolute)} bytes long, over the system's limit of "
                               f"{_PATH_MAX - 1}; choose a shorter --out.")
    for part in path.parts:
        if len(os.fsencode(part)) > _NAME_MAX:
            raise InputError(shown, f"the {what} path has a name of {len(os.fsencode(part))} bytes "
                                    f"('{part[:40]}...'), over the system's limit of {_NAME_MAX}; "
                                    "choose a shorter --out.")


def _probe(folder: Path, needed_bytes: int) -> None:
    """Write and sync a few KB in `folder`, then compare its free space with `needed_bytes`."""
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-") as probe:
        probe.write(os.urandom(_PROBE_BYTES))  # random, so a compressing file system stores it all
        probe.flush()
        os.fsync(probe.fileno())
    check_free_space(folder, needed_bytes)


def check_free_space(folder: Path, needed_bytes: int, free_bytes: int | None = None) -> None:
    """Raise an InputError if the disk of `folder` has less than `needed_bytes` free (`free_bytes`
    overrides the measured free space, for tests)."""
    free = shutil.disk_usage(folder).free if free_bytes is None else free_bytes
    if free < needed_bytes:
        raise InputError(folder, f"its disk has {_megabytes(free)} free and this command writes about "
                                 f"{_megabytes(needed_bytes)}; free some space or choose another folder with --out.")


def _megabytes(size: int) -> str:
    return f"{size / 2**20:,.1f} MB"


def _reason(exc: OSError) -> str:
    """The system's words for the failure, with what they mean where that is not obvious."""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.EFBIG:
        reason += ": over this process's file-size limit"
    return reason


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(tmp_name)
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; results are meant to be shared
        os.replace(tmp, path)
    except OSError as exc:
        raise InputError(path, f"this file could not be written ({_reason(exc)}); free some space or choose "
                               "another --out (a results folder without manifest.json is incomplete).") from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


#: The largest file citysim reads back from a results folder (a stored run or replication); larger is
#: not one it wrote, and is refused unread.
MAX_STORED_BYTES = 512 * 2**20


def read_stored(path: Path, limit: int = MAX_STORED_BYTES) -> bytes:
    """The bytes of a file citysim stored in a results folder: a regular file (never through a symlink, never
    a FIFO or a device) of at most `limit` bytes, else OSError (FileNotFoundError if it is not there)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if info.st_size > limit:
            raise OSError(errno.EFBIG, f"{info.st_size:,} bytes, more than a stored file can be ({limit:,})")
        return handle.read(limit + 1)[:limit]


def write_bytes_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Write a file by a function of a temporary path, then rename it into place."""
    _atomic_write(path, write)


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    _atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    _atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def write_text(text: str, path: Path) -> None:
    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    _atomic_write(path, write)


def write_json(data: dict[str, Any], path: Path) -> None:
    write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n", path)
