"""Stable hashing and seeding helpers: the only sources of randomness in the generator.

Python's `hash()` of strings changes between processes, so seeds are derived with BLAKE2b and
per-record draws with the SplitMix64 finalizer, both stable across runs and machines.
"""

from __future__ import annotations

import hashlib
from random import Random
from typing import Final

MASK64: Final = (1 << 64) - 1
_TWO64: Final = float(1 << 64)


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from any printable parts, identical in every process."""
    text = "\x1f".join(str(part) for part in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def stable_unit(*parts: object) -> float:
    """A uniform float in [0, 1) from printable parts (for rare, per-request decisions)."""
    return stable_seed(*parts) / _TWO64


def rng_for(*parts: object) -> Random:
    """A `random.Random` seeded from the parts."""
    return Random(stable_seed(*parts))


def mix64(value: int) -> int:
    """SplitMix64 finalizer: a fast, well-spread 64-bit hash of an integer."""
    z = (value + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def unit(value: int) -> float:
    """Uniform float in [0, 1) hashed from an integer."""
    return mix64(value) / _TWO64
