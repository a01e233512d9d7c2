"""A small per-process cache of values that follow from a scenario alone (its city, land, demand surface,
police sites), so that every replication in a process builds them once. Bounded: a sweep over many
scenarios keeps only the most recent few."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class ScenarioCache(Generic[T]):
    """The last `size` values built, by key (oldest dropped first)."""

    def __init__(self, size: int = 4) -> None:
        self._size = size
        self._values: dict[str, T] = {}

    def get(self, key: str, build: Callable[[], T]) -> T:
        """The value for `key`, built by `build()` the first time it is asked for."""
        value = self._values.get(key)
        if value is None:
            value = build()
            if len(self._values) >= self._size:
                self._values.pop(next(iter(self._values)))
            self._values[key] = value
        return value
