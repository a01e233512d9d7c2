"""manifest.json: what is needed to reproduce a results folder."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from citysim.machine import machine_facts

PACKAGES = ("citysim", "simpy", "numpy", "pandas", "scipy", "pydantic", "pyyaml", "pyarrow")


def _git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None


def _package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except Exception:
            versions[name] = "unknown"
    return versions


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def build_manifest(*, command: str, inputs: dict[str, str], started: str, **details: Any) -> dict[str, Any]:
    """The manifest of one results folder; `details` adds command-specific facts (seeds, scenarios)."""
    return {
        "citysim_version": version("citysim"),
        "git_commit": _git_commit(),
        "command": command,
        "started_utc": started,
        "finished_utc": utc_now(),
        "machine": machine_facts(),
        "packages": _package_versions(),
        "input_sha256": inputs,
        **details,
    }
