"""Fingerprints of runs: what a stored run was made from, so that a resumed experiment reuses a run only
if it would be made again the same way.

A run's fingerprint hashes the function that makes it, every argument (a scenario as its resolved
JSON, with the bytes of the data files it names), and the code version: the hash of this package's
source files and of the versions of Python and the numerical libraries, so an edited model or an
upgraded numpy never reuses runs of the old one. A fingerprint detects accidents (a changed input, an
edit, a cut-off file), not tampering: anyone can compute it, so a results folder is as trustworthy as
whoever wrote it; what it can never do is run code (unit files are data).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterable
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import citysim

#: The libraries whose versions can change a run's numbers (random streams, sums, file encodings).
LIBRARIES = ("numpy", "scipy", "pandas", "simpy", "shapely", "pyarrow", "pydantic")


@cache
def code_version() -> str:
    """SHA-256 of the Python version, the versions of LIBRARIES and every Python source file of the
    citysim package, in path order."""
    root = Path(citysim.__file__).resolve().parent
    digest = hashlib.sha256(sys.version.encode("utf-8"))
    for library in LIBRARIES:
        digest.update(f"|{library}={version(library)}".encode())
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@cache
def _file_digest(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def _data_files(model: BaseModel) -> Iterable[str]:
    """The data files a scenario names (the district polygons), whose contents the model reads."""
    geography = getattr(model, "geography", None)
    polygons = getattr(geography, "district_polygons", None)
    return [polygons] if isinstance(polygons, str) else []


def _canonical(value: Any) -> str:
    """A text that determines the value: models as JSON, containers element by element, the rest by repr."""
    if isinstance(value, BaseModel):
        files = "".join(f"|{name}={_file_digest(name)}" for name in _data_files(value))
        return f"{type(value).__name__}{value.model_dump_json()}{files}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_canonical(item) for item in value) + "]"
    if isinstance(value, str | int | float | bool) or value is None:
        return repr(value)
    raise TypeError(f"cannot fingerprint a {type(value).__name__}")


def run_fingerprint(function: Callable[..., Any], args: tuple[Any, ...]) -> str:
    """SHA-256 of the code version, the function's name and its arguments."""
    text = f"{code_version()}|{function.__module__}.{function.__qualname__}|{_canonical(args)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
