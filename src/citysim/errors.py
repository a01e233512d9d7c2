"""User-facing input errors.

Every problem with a file a user wrote is raised as :class:`InputError`, whose text is one paragraph
naming the file, the key path (and line, where YAML gives one) and what was expected. The CLI prints
it and exits with status 2; it never shows a traceback for bad input.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

KeyPath = tuple[str | int, ...]


def format_key_path(path: Sequence[str | int]) -> str:
    """Render a key path as `a.b[2].c` (the way users see it in their YAML)."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


class InputError(Exception):
    """A problem in a user's input file, explained in one paragraph."""

    def __init__(
        self,
        file: str | Path | None,
        problem: str,
        key_path: Sequence[str | int] = (),
        line: int | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.key_path: KeyPath = tuple(key_path)
        self.line = line
        self.problem = problem
        super().__init__(self.paragraph())

    def __reduce__(self) -> tuple[type[InputError], tuple[str | None, str, KeyPath, int | None]]:
        """Pickle by the constructor's arguments, so an error raised in a worker process arrives whole."""
        return (InputError, (self.file, self.problem, self.key_path, self.line))

    def paragraph(self) -> str:
        where = f"in {self.file}" if self.file else "in the input"
        if self.line is not None:
            where += f", line {self.line}"
        if self.key_path:
            where += f", at key '{format_key_path(self.key_path)}'"
        text = f"Error {where}: {self.problem}"
        return " ".join(text.split())
