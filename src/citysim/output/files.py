"""Writing a results folder: tables first, manifest last, each file by atomic rename.

A folder is complete when `manifest.json` exists; it is written last, so an interrupted run never
leaves a folder that looks complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from citysim.errors import InputError
from citysim.output import layout


def prepare_output_folder(out: Path) -> None:
    """Create the folder (or check it is usable) before any work starts."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as exc:
        problem = f"the output folder cannot be written ({exc.strerror}); choose another with --out."
        raise InputError(out, problem) from None
    stale = out / layout.MANIFEST
    if stale.exists():
        stale.unlink()  # the folder is being rewritten: it is incomplete until the new manifest lands


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; results are meant to be shared
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
