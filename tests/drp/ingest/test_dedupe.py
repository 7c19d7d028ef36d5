"""SeenKeys: never misses a key it was given; false positives are rare and only provisional."""

from __future__ import annotations

import random

import pytest

from drp.ingest import dedupe
from drp.ingest.dedupe import SeenKeys

pytestmark = pytest.mark.unit


def test_no_false_negatives_across_pages() -> None:
    rng = random.Random(1)
    universe = [rng.getrandbits(64) for _ in range(20_000)]
    seen = SeenKeys()
    truth: set[int] = set()
    false_positives = 0
    for _ in range(40):
        page = [rng.choice(universe) for _ in range(1_000)]
        hits = seen.in_runs(page)
        for key, hit in zip(page, hits, strict=True):
            present = seen.add(key, hit)
            if key in truth:
                assert present  # a key seen before is always reported
            elif present:
                false_positives += 1
            truth.add(key)
        seen.end_page()
    assert false_positives == 0  # 16 MB for 20k keys: practically never
    assert seen.nbytes == 16 * 2**20


def test_false_positives_exist_but_stay_rare_when_small() -> None:
    # A deliberately tiny filter (1 KiB) shows the loader must verify suspects.
    seen = SeenKeys(bits_log2=13, probes=2)
    rng = random.Random(2)
    keys = [rng.getrandbits(64) for _ in range(5_000)]
    hits = 0
    for start in range(0, len(keys), 500):
        page = keys[start : start + 500]
        flags = seen.in_runs(page)
        hits += sum(seen.add(k, f) for k, f in zip(page, flags, strict=True))
        seen.end_page()
    assert hits > 0


def test_key64_is_unsigned_64_bit() -> None:
    key = dedupe.key64(b"\x01" * 32)
    assert 0 <= key < 2**64
