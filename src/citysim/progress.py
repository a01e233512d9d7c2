"""Progress of the long commands, on stderr: a tqdm bar with an ETA on a terminal, a few plain lines in a
log or CI, nothing with `-q`. Progress is never part of a result: what a command prints on stdout and
writes to its folder is the same whichever of the three it gets.

A command makes one `Reporter` and hands it down; the code that runs replications only sees the
`Progress` it is given (`SILENT` unless a command asked), and counts what finishes.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TextIO

from tqdm import tqdm

#: A log gets a line each time another tenth of the work is done, but not more often than every 30 s,
#: so a long run writes about ten lines and a short one only its last.
LINE_STEP = 0.1
LINE_INTERVAL_S = 30.0
#: The terminal's size where it does not give its own: a pseudo-terminal opened without a size (`script`,
#: `docker exec -t`, some CI runners) reports 0 x 0, and tqdm then draws an empty line.
FALLBACK_COLUMNS, FALLBACK_ROWS = 80, 24


class Progress:
    """Counts finished work against the most that may be needed. This base is silent: what the library's
    functions get unless a command asks for progress."""

    def advance(self, done: int = 1) -> None:
        """`done` more units of work are finished (run, read back from the store, or failed)."""

    def shrink(self, units: int) -> None:
        """`units` of the expected total will not be needed (an adaptive rule stopped early)."""

    def close(self, completed: bool) -> None:
        """The work ended: `completed` if it ran to its end, not if it was interrupted or failed."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close(completed=kind is None)


SILENT = Progress()


class _Bar(Progress):
    """A tqdm bar: 'claim check:  42%|####      | 40/96 pairs [03:01<04:10]' (time taken < time left); kept
    on screen at the end."""

    def __init__(self, label: str, total: int, unit: str, stream: TextIO) -> None:
        columns, rows = _screen(stream)
        self._bar = tqdm(total=total, desc=label, file=stream, ncols=columns, nrows=rows, leave=True,
                         bar_format=f"{{l_bar}}{{bar}}| {{n_fmt}}/{{total_fmt}} {unit}s [{{elapsed}}<{{remaining}}]")

    def advance(self, done: int = 1) -> None:
        self._bar.update(done)

    def shrink(self, units: int) -> None:
        self._bar.total = max(self._bar.n, (self._bar.total or 0) - units)
        self._bar.refresh()

    def close(self, completed: bool) -> None:
        if completed:
            self.shrink((self._bar.total or 0) - self._bar.n)  # an upper bound not reached ends full
        self._bar.close()


class _Lines(Progress):
    """Plain lines for a log: 'claim check: 40/96 pairs, 04:10 left', then the total and the time taken."""

    def __init__(self, label: str, total: int, unit: str, stream: TextIO, clock: Callable[[], float]) -> None:
        self._label, self._total, self._unit, self._stream, self._clock = label, total, unit, stream, clock
        self._done = self._done_at_line = 0
        self._started = self._line_at = clock()

    def advance(self, done: int = 1) -> None:
        self._done += done
        now = self._clock()
        if (self._done < self._total and self._done - self._done_at_line >= LINE_STEP * self._total
                and now - self._line_at >= LINE_INTERVAL_S):
            left = (now - self._started) / self._done * (self._total - self._done)
            self._line(f"{self._done}/{self._total} {self._unit}s, {tqdm.format_interval(left)} left")
            self._done_at_line, self._line_at = self._done, now

    def shrink(self, units: int) -> None:
        self._total = max(self._done, self._total - units)

    def close(self, completed: bool) -> None:
        if completed:
            self._line(f"{self._done} {self._unit}s done in {tqdm.format_interval(self._clock() - self._started)}")

    def _line(self, text: str) -> None:
        print(f"{self._label}: {text}", file=self._stream, flush=True)


@dataclass(frozen=True)
class Reporter:
    """How a command reports its progress: `quiet` (`-q`) silences notes and counters, never warnings;
    `stream` is where they go (default: sys.stderr when used); `clock` times the plain lines."""

    quiet: bool = False
    stream: TextIO | None = None
    clock: Callable[[], float] = time.monotonic

    def note(self, text: str) -> None:
        """A line of progress in words (a situation starts, a long run is announced), above any bar."""
        if not self.quiet:
            tqdm.write(text, file=self._target())

    def counter(self, label: str, total: int, unit: str = "run") -> Progress:
        """A counter of at most `total` units of work (`unit`: a singular noun that takes an s, "run"): a bar on
        a terminal, plain lines elsewhere, silent if quiet. Use it as a context manager, so it closes."""
        if self.quiet:
            return SILENT
        stream = self._target()
        if _is_terminal(stream):
            return _Bar(label, total, unit, stream)
        return _Lines(label, total, unit, stream, self.clock)

    def _target(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stderr


#: What library calls report by default: nothing.
QUIET = Reporter(quiet=True)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or file-less stream
        return False


def _screen(stream: TextIO) -> tuple[int, int]:
    """The terminal's columns and rows, each replaced by its fallback where the terminal reports none."""
    try:
        size = os.get_terminal_size(stream.fileno())
        columns, rows = size.columns, size.lines
    except (AttributeError, OSError, ValueError):
        columns = rows = 0
    return columns or FALLBACK_COLUMNS, rows or FALLBACK_ROWS
