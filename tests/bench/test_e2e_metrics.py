"""The e2e bench's arithmetic: busy time as a union of intervals, latency statistics."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from types import ModuleType

import pytest

from drp.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit

T0 = datetime(2024, 6, 3, tzinfo=UTC)


def _e2e() -> ModuleType:
    sys.path.insert(0, str(PROJECT_ROOT / "bench"))  # e2e_bench imports bench/_common.py
    try:
        import e2e_bench  # noqa: PLC0415 - bench/ is no package: importable only while on sys.path
    finally:
        sys.path.remove(str(PROJECT_ROOT / "bench"))
    return e2e_bench


def _span(start: float, end: float) -> tuple[datetime, datetime]:
    return T0 + timedelta(seconds=start), T0 + timedelta(seconds=end)


def test_union_counts_overlapping_tasks_once() -> None:
    # three parallel loads (0-10, 1-12, 2-8), a gap, then dbt (15-40) and a task inside it (20-25)
    spans = [_span(0, 10), _span(1, 12), _span(2, 8), _span(15, 40), _span(20, 25)]
    assert _e2e()._union_seconds(spans) == pytest.approx(12 + 25)


def test_union_of_nothing_is_zero() -> None:
    assert _e2e()._union_seconds([]) == 0


def test_stats_and_negative_latencies_dropped() -> None:
    e2e = _e2e()
    assert e2e._stats([0.1, 0.3, 0.2]) == {"median": 0.2, "p90": 0.3, "max": 0.3, "n": 3}
    assert e2e._stats([]) is None
    assert e2e._nonnegative(-4.7) is None
    assert e2e._nonnegative(0.0) == 0.0
