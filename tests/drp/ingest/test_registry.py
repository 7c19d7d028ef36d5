"""The batch registry's lifecycle against real Postgres, call by call, as the loader makes them.

`test_load.py` covers the same lifecycle through whole loads; here each registry call is checked
on its own: which connection sees what, when, and which rows it may touch.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from drp.ingest import registry
from drp.ingest.registry import ABANDONED_MESSAGE, MAX_ERROR_CHARS, Counts, LiveBatch, Registry
from drp.settings import Settings
from tests.drp.ingest.source import day

pytestmark = pytest.mark.integration

ENTITY = "products"


def _row(pg: psycopg.Connection, batch_id: UUID) -> dict[str, Any]:
    cur = pg.execute("select * from ops.ingest_batches where batch_id = %s", [batch_id])
    names = [c.name for c in cur.description or []]
    row = cur.fetchone()
    assert row is not None, f"no registry row for {batch_id}"
    return dict(zip(names, row, strict=True))


def _key(batch_id: UUID) -> str:
    return f"pytest-registry/{batch_id}"  # never uploaded: only the registry row names it


def _status(pg: psycopg.Connection, batch_id: UUID) -> str:
    return str(_row(pg, batch_id)["status"])


def _started(settings: Settings, source: str, start_day: int, end_day: int) -> tuple[Registry, UUID]:
    reg = Registry(settings.postgres_conninfo())
    batch_id = uuid4()
    reg.start(batch_id, source, ENTITY, day(start_day), day(end_day))
    return reg, batch_id


def _succeed(
    settings: Settings, source: str, batch_id: UUID, start_day: int, end_day: int
) -> tuple[UUID, ...]:
    """The loader's finalize step: replace what the window covers, then succeed, then commit."""
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        registry.lock_entity(conn, source, ENTITY)
        live = registry.live_overlapping(conn, source, ENTITY, day(start_day), day(end_day), for_update=True)
        ids = [b.batch_id for b in live]
        registry.supersede(conn, ids, by=batch_id)
        assert registry.succeed(
            conn,
            batch_id,
            Counts(3, 2, 1, 0),
            drift={"brand": 2},
            archive_key=_key(batch_id),
            duration_seconds=1.5,
        )
        conn.commit()
    return tuple(ids)


def test_start_succeed_supersede(settings: Settings, source: str, pg: psycopg.Connection) -> None:
    reg, first = _started(settings, source, 0, 1)
    with reg:
        row = _row(pg, first)
        assert row["status"] == "running" and row["started_at"] is not None and row["ended_at"] is None
        with psycopg.connect(settings.postgres_conninfo()) as conn:
            registry.lock_interval(conn, source, ENTITY, day(0), day(1))
            assert registry.live_overlapping(conn, source, ENTITY, day(0), day(1)) == []
            assert registry.succeed(
                conn,
                first,
                Counts(5, 3, 1, 1),
                drift={"brand": 3},
                archive_key=_key(first),
                duration_seconds=2.0,
            )
            # Inside the load's transaction: nobody else sees it succeed before the commit.
            assert _status(pg, first) == "running"
            conn.commit()
    row = _row(pg, first)
    assert row["status"] == "succeeded" and row["ended_at"] is not None
    assert (row["received"], row["loaded"], row["quarantined"], row["duplicates"]) == (5, 3, 1, 1)
    assert (
        row["drift"] == {"brand": 3} and row["archive_key"] == _key(first) and row["duration_seconds"] == 2.0
    )

    # A wider window replaces the live batch it contains, in the same commit as its own success.
    reg, wider = _started(settings, source, 0, 2)
    with reg:
        with psycopg.connect(settings.postgres_conninfo()) as conn:
            assert registry.live_overlapping(conn, source, ENTITY, day(0), day(2)) == [
                LiveBatch(first, day(0), day(1))
            ]
        assert _succeed(settings, source, wider, 0, 2) == (first,)
    superseded = _row(pg, first)
    assert superseded["status"] == "replaced" and superseded["superseded_by"] == wider
    assert superseded["superseded_at"] is not None and superseded["purged_at"] is None
    assert _status(pg, wider) == "succeeded"
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        assert registry.live_overlapping(conn, source, ENTITY, day(1), day(3)) == [
            LiveBatch(wider, day(0), day(2))
        ]
        assert registry.live_overlapping(conn, source, ENTITY, day(2), day(3)) == []  # half-open
        # Only a `running` row can succeed: a second call changes nothing.
        assert not registry.succeed(
            conn, wider, Counts(), drift={}, archive_key="other", duration_seconds=0.0
        )
        conn.commit()
    assert _row(pg, wider)["archive_key"] == _key(wider)


def test_supersede_touches_only_live_batches(settings: Settings, source: str, pg: psycopg.Connection) -> None:
    reg, running = _started(settings, source, 3, 4)
    with reg, psycopg.connect(settings.postgres_conninfo()) as conn:
        registry.supersede(conn, [running], by=uuid4())
        conn.commit()
        row = _row(pg, running)
        assert row["status"] == "running" and row["superseded_by"] is None


def test_hold_keeps_the_live_batch_and_records_why(
    settings: Settings, source: str, pg: psycopg.Connection
) -> None:
    reg, live = _started(settings, source, 7, 8)
    with reg:
        _succeed(settings, source, live, 7, 8)
    reg, broken = _started(settings, source, 7, 8)
    replay_id = uuid4()
    with reg:
        reg.start(replay_id, source, ENTITY, day(7), day(8), replay_of=broken)
        with psycopg.connect(settings.postgres_conninfo()) as conn:
            violations = [{"kind": "quarantined_share", "observed": 1.0, "limit": 0.2, "message": "m"}]
            assert registry.hold(
                conn, broken, Counts(4, 0, 4, 0), drift={}, archive_key=_key(broken),
                duration_seconds=1.0, violations=violations,
            )  # fmt: skip
            conn.commit()
        held = _row(pg, broken)
        assert held["status"] == "held" and held["threshold_violations"] == violations
        assert held["ended_at"] is not None and held["superseded_by"] is None
        assert _status(pg, live) == "succeeded"
        assert _row(pg, replay_id)["replay_of"] == broken
        reg.fail(replay_id, "test over", Counts(), duration_seconds=0.0)


def test_fail_records_the_error_once(settings: Settings, source: str, pg: psycopg.Connection) -> None:
    reg, batch_id = _started(settings, source, 5, 6)
    with reg:
        reg.fail(batch_id, "x" * (MAX_ERROR_CHARS + 10), Counts(7, 4, 2, 1), duration_seconds=3.0,
                 drift={"brand": 4})  # fmt: skip
        row = _row(pg, batch_id)
        assert row["status"] == "failed" and row["error_message"] == "x" * MAX_ERROR_CHARS
        assert (row["received"], row["loaded"], row["quarantined"], row["duplicates"]) == (7, 4, 2, 1)
        assert row["drift"] == {"brand": 4} and row["ended_at"] is not None
        # A failed batch stays failed: neither a second failure nor a success rewrites it.
        reg.fail(batch_id, "later", Counts(), duration_seconds=9.0)
        assert _row(pg, batch_id)["error_message"] == "x" * MAX_ERROR_CHARS
        with psycopg.connect(settings.postgres_conninfo()) as conn:
            assert not registry.succeed(
                conn, batch_id, Counts(), drift={}, archive_key="k", duration_seconds=0
            )
            conn.commit()
    assert _status(pg, batch_id) == "failed"


def test_fail_on_a_broken_registry_connection_does_not_raise(
    settings: Settings, source: str, pg: psycopg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    reg, batch_id = _started(settings, source, 7, 8)
    reg.close()
    reg.fail(batch_id, "boom", Counts(), duration_seconds=0.1)  # the original error must win
    assert "could not mark batch" in caplog.text
    assert _status(pg, batch_id) == "running"


def test_reap_abandoned_spares_live_loads(settings: Settings, source: str, pg: psycopg.Connection) -> None:
    live_reg, live = _started(settings, source, 9, 10)
    # A `running` row whose process is gone: nobody holds its session lock.
    ghost = uuid4()
    pg.execute(
        "insert into ops.ingest_batches (batch_id, source_system, entity, data_interval_start, "
        "data_interval_end, status) values (%s, %s, %s, %s, %s, 'running')",
        [ghost, source, ENTITY, day(11), day(12)],
    )
    reaper, own = _started(settings, source, 13, 14)
    with reaper:
        assert reaper.reap_abandoned(source, ENTITY, exclude=own) == [ghost]
        row = _row(pg, ghost)
        assert row["status"] == "failed" and row["error_message"] == ABANDONED_MESSAGE
        assert row["ended_at"] is not None and row["duration_seconds"] is not None
        assert _status(pg, live) == "running"  # its process holds the lock
        assert _status(pg, own) == "running"  # excluded
        live_reg.close()  # the session ends, like a process killed with -9
        assert reaper.reap_abandoned(source, ENTITY, exclude=own) == [live]
        assert reaper.reap_abandoned(source, ENTITY, exclude=own) == []
    assert _status(pg, live) == "failed"


def test_locks_serialize_loads(settings: Settings, source: str, pg: psycopg.Connection) -> None:
    def free(key: int) -> bool:
        with pg.transaction():
            row = pg.execute("select pg_try_advisory_xact_lock(%s)", [key]).fetchone()
        return bool(row and row[0])

    interval = registry.interval_lock_key(source, ENTITY, day(0), day(1))
    entity = registry.entity_lock_key(source, ENTITY)
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        registry.lock_interval(conn, source, ENTITY, day(0), day(1))
        assert not free(interval) and free(entity)
        assert free(registry.interval_lock_key(source, ENTITY, day(0), day(2)))  # another interval
        registry.lock_entity(conn, source, ENTITY)
        assert not free(entity)
        conn.rollback()  # the transaction's end frees both
    assert free(interval) and free(entity)


def test_missing_days(settings: Settings, source: str) -> None:
    for start_day, end_day in ((2, 3), (4, 6)):
        reg, batch_id = _started(settings, source, start_day, end_day)
        with reg:
            _succeed(settings, source, batch_id, start_day, end_day)
    reg, failed = _started(settings, source, 1, 2)
    with reg:
        reg.fail(failed, "boom", Counts(), duration_seconds=0.1)
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        # Day 1's only batch failed, so it is missing; day 7 is not whole before `before`.
        assert registry.missing_days(conn, source, ENTITY, day(0), day(7, hours=12)) == [
            day(0),
            day(1),
            day(3),
            day(6),
        ]
        assert registry.missing_days(conn, source, "customers", day(0), day(2)) == [day(0), day(1)]
        assert registry.missing_days(conn, source, ENTITY, day(4), day(6)) == []
        assert registry.missing_days(conn, source, ENTITY, day(0), day(0, hours=23)) == []
