"""Named random streams for common random numbers.

Replication k of a run with root seed s uses `SeedSequence(s, spawn_key=(k,))` (child k of the root,
as `SeedSequence(s).spawn(...)[k]` would give); each stochastic input then draws from its own stream,
keyed by a stable hash of its name. Adding a stream never shifts another, and two scenarios that
differ only in a lever consume identical numbers for everything the lever does not touch.
"""

from __future__ import annotations

import hashlib

import numpy as np

from citysim.arrays import FloatArray


def _name_key(name: str) -> int:
    """A stable 32-bit key for a stream name (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:4], "little")


class Streams:
    """The random streams of one replication."""

    def __init__(self, seed: int, replication: int) -> None:
        self.seed = seed
        self.replication = replication
        self._base = np.random.SeedSequence(seed, spawn_key=(replication,))

    def generator(self, name: str) -> np.random.Generator:
        """A fresh generator for stream `name`; calling twice gives the same sequence."""
        sequence = np.random.SeedSequence(self._base.entropy, spawn_key=(*self._base.spawn_key, _name_key(name)))
        return np.random.Generator(np.random.PCG64(sequence))

    def uniforms(self, name: str, shape: int | tuple[int, ...]) -> FloatArray:
        """A batch of U(0, 1) draws from stream `name`."""
        return self.generator(name).random(shape)
