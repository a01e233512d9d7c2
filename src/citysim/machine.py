"""What machine a result was measured on, described the same way in manifests, pages and benchmarks."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo where there is one)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text(encoding="utf-8").splitlines()
                 if line.startswith("model name")]
        if names:
            return names[0]
    return platform.processor() or platform.machine()


def machine_facts() -> dict[str, object]:
    """The machine as a manifest records it."""
    return {"platform": platform.platform(), "python": platform.python_version(), "processor": platform.machine(),
            "cpus": os.cpu_count()}


def machine_line() -> str:
    """The machine in one line: CPU, logical CPUs, operating system, Python."""
    return (f"{cpu_name()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")
