"""What both builders (``vgmed build vgmed``, :mod:`vgmed_data.builders.vgmed`; ``vgmed build sequences``,
:mod:`vgmed_data.builders.sequences`) share: seeded randomness and subject-level splits, both drawn from a hash
of the seed and the item's ids, so any subset of the inputs (one part of a sharded build) draws the same values.
The third shared piece, the skip records of the build report, is :mod:`vgmed_data.builders.policy`.

Two hashings exist because each builder's released outputs were made with its own; changing either would move
the bytes of every earlier build (docs/architecture.md, "Compatibility rules"), so each builder names its
:class:`Hashing` and everything else is one code path:

* :attr:`Hashing.JOINED` (the VGMED builder): SHA-256 of the parts as text joined by U+001F, the first 8 bytes
  read big-endian;
* :attr:`Hashing.JSON` (the sequences builder): SHA-256 of the parts as a ``json.dumps`` list (default
  separators; integers as numbers, everything else as text), the first 8 bytes read little-endian.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np


class Hashing(Enum):
    JOINED = "joined"
    JSON = "json"

    def text(self, parts: Sequence[object]) -> bytes:
        if self is Hashing.JOINED:
            return "\x1f".join(str(part) for part in parts).encode()
        return json.dumps([part if type(part) is int else str(part) for part in parts]).encode()

    def number(self, parts: Sequence[object]) -> int:
        """A 64-bit number drawn from ``parts``."""
        digest = hashlib.sha256(self.text(parts)).digest()
        return int.from_bytes(digest[:8], "big" if self is Hashing.JOINED else "little")


@dataclass(frozen=True)
class Seeding:
    """A build's seed and its builder's hashing; every draw hashes ``(seed, *parts)``."""

    seed: int
    hashing: Hashing

    def fraction(self, *parts: object) -> float:
        """A number in [0, 1)."""
        return self.hashing.number((self.seed, *parts)) / 2**64

    def split(self, *parts: object, splits: Sequence[tuple[str, float]]) -> str:
        """The split of the unit named by ``parts`` (e.g. source and patient): each split takes its fraction of
        [0, 1), in the order given; every item of the unit gets the same split."""
        u = self.fraction(*parts)
        total = 0.0
        for name, share in splits:
            total += share
            if u < total:
                return name
        return splits[-1][0]

    def order_key(self, *parts: object) -> str:
        """A sort key: the hex SHA-256 of ``(seed, *parts)`` (items sorted by it come in a seeded order)."""
        return hashlib.sha256(self.hashing.text((self.seed, *parts))).hexdigest()

    def random(self, *parts: object) -> random.Random:
        """An independent, reproducible ``random.Random`` stream per ``parts``."""
        return random.Random(self.hashing.number((self.seed, *parts)))

    def generator(self, *parts: object) -> np.random.Generator:
        """An independent, reproducible numpy stream per ``parts``."""
        return np.random.default_rng(self.hashing.number((self.seed, *parts)))
