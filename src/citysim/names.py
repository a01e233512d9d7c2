"""File-name parts made from user-given names (situations, metrics, experiments, scenarios).

A name becomes a slug of lower-case ASCII letters, digits and single hyphens, so it can never be a
path. Slugging loses information ("Rush hour" and "rush-hour!" are both `rush-hour`), and a name
with no ASCII letters at all would slug to nothing. So a name that is not ASCII, or that is too
long to be a file name, keeps a short hash of its exact text: different names give different slugs,
and experiment files refuse two names with one slug (`unique_slugs`).
"""

from __future__ import annotations

import hashlib
import re

#: Longest readable part of a slug; the whole file name (with prefixes and suffixes) stays far below
#: the 255-byte limit of common file systems.
MAX_READABLE = 60


def slug(text: str) -> str:
    """A safe file-name part: lower-case letters, digits and single hyphens only (never a path)."""
    readable = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if text.isascii() and readable and len(readable) <= MAX_READABLE:
        return readable
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    readable = readable[:MAX_READABLE].rstrip("-")
    return f"{readable}-{digest}" if readable else f"n{digest}"


def slug_clashes(names: list[str]) -> list[tuple[str, str, str]]:
    """(first name, second name, their slug) for every pair of distinct names that share a slug."""
    seen: dict[str, str] = {}
    clashes = []
    for name in names:
        part = slug(name)
        if part in seen and seen[part] != name:
            clashes.append((seen[part], name, part))
        seen.setdefault(part, name)
    return clashes
