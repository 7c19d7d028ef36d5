"""Exact-duplicate detection within a batch in a fixed amount of memory.

A duplicate is a valid record whose canonical JSON is identical to one already loaded in the same
batch (so: same id, same `updated_at`, same content). Remembering every record would make memory
grow with the window, so `SeenKeys` is a Bloom filter of fixed size (16 MB, 6 probes) over each
record's 64-bit key (`key64`, SipHash of its sha256), probed and filled a page at a time with
numpy; within a page a small exact set is used.

A Bloom filter can say "seen" for a record it has not seen (a false positive: about 1 in 10⁸ at a
million records, 1 in 500 at ten million). So "seen" only makes a record a *suspect*: the loader
skips it, keeps its full sha256 and, at the end, checks that a loaded row with exactly that
`record_hash` exists. A suspect without a loaded twin is reloaded from the batch's archive spool.
The counts are therefore exact, and memory is 16 MB plus 32 bytes per duplicate.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

BITS_LOG2: Final = 27  # 2^27 bits = 16 MiB
PROBES: Final = 6
_MASK64: Final = (1 << 64) - 1


def key64(sha256_digest: bytes) -> int:
    """A 64-bit key for a record from its sha256 (keyed by the process's random hash secret)."""
    return hash(sha256_digest) & _MASK64


class SeenKeys:
    """Approximate set membership for 64-bit keys in constant memory (see the module docstring)."""

    def __init__(self, bits_log2: int = BITS_LOG2, probes: int = PROBES) -> None:
        self._bits = np.zeros(1 << (bits_log2 - 3), dtype=np.uint8)
        self._mask = np.uint64((1 << bits_log2) - 1)
        self._steps = np.arange(probes, dtype=np.uint64)
        self._page: set[int] = set()
        self._pending: list[int] = []
        self._size = 0

    def __len__(self) -> int:
        """How many keys were added (not deduplicated against false positives)."""
        return self._size

    def _positions(self, keys: list[int]) -> npt.NDArray[np.uint64]:
        k = np.fromiter(keys, dtype=np.uint64, count=len(keys))
        low, high = k & np.uint64(0xFFFFFFFF), (k >> np.uint64(32)) | np.uint64(1)
        # Double hashing: probe i is low + i * high (mod the filter size).
        positions: npt.NDArray[np.uint64] = (low[:, None] + self._steps[None, :] * high[:, None]) & self._mask
        return positions

    def in_runs(self, keys: list[int]) -> list[bool]:
        """For each key, whether the filter has it from earlier pages (call once per page)."""
        if not keys or not self._size:
            return [False] * len(keys)
        pos = self._positions(keys)
        hit = (self._bits[pos >> np.uint64(3)] >> (pos & np.uint64(7)).astype(np.uint8)) & 1
        result: list[bool] = hit.all(axis=1).tolist()
        return result

    def add(self, key: int, in_runs: bool) -> bool:
        """Record `key`; True when it was (probably) present already (`in_runs` from `in_runs`)."""
        if in_runs or key in self._page:
            return True
        self._page.add(key)
        self._pending.append(key)
        return False

    def end_page(self) -> None:
        """Add the page's keys to the filter (only between pages: `in_runs` answers for the filter
        as it was when the page started)."""
        if not self._pending:
            return
        pos = self._positions(self._pending).ravel()
        np.bitwise_or.at(
            self._bits, pos >> np.uint64(3), np.left_shift(1, pos & np.uint64(7)).astype(np.uint8)
        )
        self._size += len(self._pending)
        self._pending = []
        self._page.clear()

    @property
    def nbytes(self) -> int:
        """Memory held by the filter."""
        return int(self._bits.nbytes)
