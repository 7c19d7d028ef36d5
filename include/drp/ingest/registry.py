"""The batch registry `ops.ingest_batches`: one row per (source, entity, interval) load.

Every statement on the table lives here. A load (`loader.load_interval`, which owns `raw`) enters
through these calls, in this order:

1. `Registry(conninfo)`: the registry's own autocommit connection, open as long as the load;
   `Registry.start` takes the batch's session lock on it and inserts the `running` row.
2. In the load's one transaction (`conn`): `lock_interval`, then `Registry.reap_abandoned`
   (autocommit), then `live_overlapping` (the loader refuses a window straddling a live batch
   before fetching anything).
3. The loader streams rows into `raw` and uploads the archive.
   Before finalizing, `weekday_history` (the volume threshold's history, see `thresholds`).
4. Finalize, still in the load's transaction: `lock_entity`, `live_overlapping(for_update=True)`
   (the live batches this window covers), then either `supersede` (they become `replaced`, their
   rows stay) and `succeed` (this batch becomes `succeeded`), or, when the batch is past a
   threshold and live batches cover the interval, `hold` (this batch becomes `held`, they stay
   live); the loader commits.
5. On any error before the commit: `Registry.fail`, from the autocommit connection (the load's
   transaction is rolled back, so nothing of steps 2-4 stays). A batch past a threshold is not
   an error here: it is committed (`hold`, or `succeed` on a first load), then the loader raises.

The retention purge (`retention.purge_superseded_raw`) uses `purgeable` and `mark_purged`, in one
transaction per batch with the loader's `delete_batch_rows`.

`missing_days` answers the DAG's question for a dimension's history: which days no live batch
covers.

Lifecycle of a row:

* `running` - written in its own autocommit connection when a load starts, so operators see it
  while the load's data is still invisible inside the load's transaction;
* `succeeded` - set inside the load's transaction, in the same commit as the rows (a first load
  past a threshold too, with `threshold_violations`: its quarantine must be visible);
* `replaced` - a later load of the same interval (or of a window containing it) took its place,
  in the same commit as that load (`superseded_by`, `superseded_at`); its raw rows stay until the
  retention purge (`purged_at`, `purged_rows`);
* `held` - committed with its rows but never live: it was past a threshold while an earlier live
  batch covered the interval (`threshold_violations` says why); purged like `replaced`;
* `failed` - written from the autocommit connection with `error_message` when a load fails
  before its commit.

Locks. Two transaction-level advisory locks on the load's connection: one on (source, entity,
interval), held for the whole load, so two loads of one interval run one after the other; one on
(source, entity), taken only for the short finalize step, so loads of overlapping windows replace
each other one at a time. And a *session* advisory lock named after its batch id, on the registry
connection for as long as the load runs. A process killed with -9 never writes `failed`, but its
session ends and frees the lock: the next load of that entity finds the `running` row whose lock it
can take and marks it `failed` ("abandoned"). A row is inserted only after its lock is held, so a
live load is never mistaken for a dead one.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

log = logging.getLogger("drp.ingest.registry")

TABLE: Final = "ops.ingest_batches"
ABANDONED_MESSAGE: Final = "abandoned: the loading process ended without finishing (killed or crashed)"
MAX_ERROR_CHARS: Final = 4_000


def lock_key(*parts: object) -> int:
    """A signed 64-bit advisory-lock key from printable parts (stable across processes)."""
    text = "\x1f".join(str(p) for p in ("drp.ingest", *parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big", signed=True)


def interval_lock_key(source_system: str, entity: str, start: datetime, end: datetime) -> int:
    """Serializes loads of one (source, entity, interval)."""
    return lock_key("interval", source_system, entity, start.isoformat(), end.isoformat())


def entity_lock_key(source_system: str, entity: str) -> int:
    """Serializes the short finalize step of all loads of one (source, entity)."""
    return lock_key("entity", source_system, entity)


def batch_lock_key(batch_id: UUID) -> int:
    """Held (session-level) by the process running `batch_id`, for as long as it runs."""
    return lock_key("batch", batch_id)


@dataclass(frozen=True, slots=True)
class Counts:
    received: int = 0
    loaded: int = 0
    quarantined: int = 0
    duplicates: int = 0


@dataclass(frozen=True, slots=True)
class LiveBatch:
    batch_id: UUID
    start: datetime
    end: datetime


class Registry:
    """Registry writes that must survive the load's transaction (autocommit connection).

    Use as a context manager; the connection (and with it the batch's session lock) lives as long
    as the load.
    """

    def __init__(self, conninfo: str) -> None:
        self._conn = psycopg.connect(conninfo, autocommit=True, application_name="drp-ingest-registry")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(
        self,
        batch_id: UUID,
        source_system: str,
        entity: str,
        start: datetime,
        end: datetime,
        *,
        replay_of: UUID | None = None,
    ) -> None:
        """Take the batch's session lock, then insert its `running` row (`replay_of`: the batch
        whose archive or quarantine a replay re-ingests)."""
        self._conn.execute("select pg_advisory_lock(%s)", [batch_lock_key(batch_id)])
        self._conn.execute(
            f"""insert into {TABLE} (batch_id, source_system, entity, data_interval_start,
                    data_interval_end, status, started_at, replay_of)
                values (%s, %s, %s, %s, %s, 'running', clock_timestamp(), %s)""",
            [batch_id, source_system, entity, start, end, replay_of],
        )

    def reap_abandoned(self, source_system: str, entity: str, *, exclude: UUID) -> list[UUID]:
        """Mark `running` rows whose process is gone as `failed`; returns their batch ids."""
        rows = self._conn.execute(
            f"select batch_id from {TABLE} where source_system = %s and entity = %s "
            "and status = 'running' and batch_id <> %s",
            [source_system, entity, exclude],
        ).fetchall()
        reaped = []
        for (batch_id,) in rows:
            key = batch_lock_key(batch_id)
            got = self._conn.execute("select pg_try_advisory_lock(%s)", [key]).fetchone()
            if not got or not got[0]:
                continue  # its process is alive and loading
            try:
                cur = self._conn.execute(
                    f"""update {TABLE} set status = 'failed', error_message = %s,
                            ended_at = clock_timestamp(),
                            duration_seconds = extract(epoch from clock_timestamp() - started_at)
                        where batch_id = %s and status = 'running'""",
                    [ABANDONED_MESSAGE, batch_id],
                )
                if cur.rowcount:
                    reaped.append(batch_id)
            finally:
                self._conn.execute("select pg_advisory_unlock(%s)", [key])
        if reaped:
            log.warning("%s/%s: marked abandoned batches failed: %s", source_system, entity, reaped)
        return reaped

    def fail(
        self,
        batch_id: UUID,
        message: str,
        counts: Counts,
        *,
        duration_seconds: float,
        drift: Mapping[str, int] | None = None,
    ) -> None:
        """Record the failure (best effort: a broken registry connection is logged, not raised,
        so the original error reaches the caller)."""
        try:
            self._conn.execute(
                f"""update {TABLE} set status = 'failed', error_message = %s, received = %s, loaded = %s,
                        quarantined = %s, duplicates = %s, drift = %s, ended_at = clock_timestamp(),
                        duration_seconds = %s
                    where batch_id = %s and status = 'running'""",
                [
                    message[:MAX_ERROR_CHARS], counts.received, counts.loaded, counts.quarantined,
                    counts.duplicates, Jsonb(dict(drift or {})), duration_seconds, batch_id,
                ],
            )  # fmt: skip
        except psycopg.Error as exc:
            log.error("could not mark batch %s failed in %s: %s", batch_id, TABLE, exc)


# The functions below run on the load's connection, inside its one transaction.


def lock_interval(
    conn: psycopg.Connection[Any], source_system: str, entity: str, start: datetime, end: datetime
) -> None:
    """Wait for, then hold until commit, the lock on (source, entity, interval)."""
    conn.execute("select pg_advisory_xact_lock(%s)", [interval_lock_key(source_system, entity, start, end)])


def lock_entity(conn: psycopg.Connection[Any], source_system: str, entity: str) -> None:
    """Wait for, then hold until commit, the finalize lock on (source, entity)."""
    conn.execute("select pg_advisory_xact_lock(%s)", [entity_lock_key(source_system, entity)])


def live_overlapping(
    conn: psycopg.Connection[Any],
    source_system: str,
    entity: str,
    start: datetime,
    end: datetime,
    *,
    for_update: bool = False,
) -> list[LiveBatch]:
    """Succeeded batches of (source, entity) whose interval overlaps `[start, end)`, oldest first.

    `for_update` locks their rows until commit (the finalize step, before `supersede`).
    """
    rows = conn.execute(
        f"""select batch_id, data_interval_start, data_interval_end from {TABLE}
            where source_system = %s and entity = %s and status = 'succeeded'
              and data_interval_start < %s and data_interval_end > %s
            order by data_interval_start{" for update" if for_update else ""}""",
        [source_system, entity, end, start],
    ).fetchall()
    return [LiveBatch(r[0], r[1], r[2]) for r in rows]


def supersede(conn: psycopg.Connection[Any], batch_ids: Sequence[UUID], *, by: UUID) -> None:
    """Mark live batches `replaced` by batch `by` (their raw rows stay: raw is append-only)."""
    conn.execute(
        f"""update {TABLE} set status = 'replaced', superseded_by = %s, superseded_at = clock_timestamp()
            where batch_id = any(%s) and status = 'succeeded'""",
        [by, list(batch_ids)],
    )


def succeed(
    conn: psycopg.Connection[Any],
    batch_id: UUID,
    counts: Counts,
    *,
    drift: Mapping[str, int],
    archive_key: str,
    duration_seconds: float,
    violations: Sequence[Mapping[str, Any]] | None = None,
) -> bool:
    """Mark the batch `succeeded` (live) with its counts; False if its row is no longer `running`
    (another process marked it), in which case the caller must not commit. `violations`: the
    thresholds a first load passed (it goes live anyway, and the load raises)."""
    return _finish(conn, batch_id, "succeeded", counts, drift, archive_key, duration_seconds, violations)


def hold(
    conn: psycopg.Connection[Any],
    batch_id: UUID,
    counts: Counts,
    *,
    drift: Mapping[str, int],
    archive_key: str,
    duration_seconds: float,
    violations: Sequence[Mapping[str, Any]],
) -> bool:
    """Mark the batch `held`: committed with its rows, but not live (it looks broken and an
    earlier live batch covers the interval). False as for `succeed`."""
    return _finish(conn, batch_id, "held", counts, drift, archive_key, duration_seconds, violations)


def _finish(  # noqa: PLR0917 - private, called from succeed/hold only
    conn: psycopg.Connection[Any],
    batch_id: UUID,
    status: str,
    counts: Counts,
    drift: Mapping[str, int],
    archive_key: str,
    duration_seconds: float,
    violations: Sequence[Mapping[str, Any]] | None,
) -> bool:
    cur = conn.execute(
        f"""update {TABLE} set status = %s, received = %s, loaded = %s,
                quarantined = %s, duplicates = %s, drift = %s, archive_key = %s,
                threshold_violations = %s, error_message = null, ended_at = clock_timestamp(),
                duration_seconds = %s
            where batch_id = %s and status = 'running'""",
        [
            status, counts.received, counts.loaded, counts.quarantined, counts.duplicates,
            Jsonb(dict(drift)), archive_key, Jsonb(list(violations)) if violations else None,
            duration_seconds, batch_id,
        ],
    )  # fmt: skip
    return cur.rowcount == 1


def weekday_history(
    conn: psycopg.Connection[Any], source_system: str, entity: str, start: datetime, *, weeks: int
) -> list[int]:
    """Records received by the live one-day batches of (source, entity) that start on the same
    weekday and time as `start`, 1..`weeks` weeks earlier (the volume threshold's history)."""
    rows = conn.execute(
        f"""select received from {TABLE}
            where source_system = %s and entity = %s and status = 'succeeded'
              and data_interval_end - data_interval_start = interval '1 day'
              and data_interval_start = any(
                  select %s::timestamptz - make_interval(weeks => n) from generate_series(1, %s) as n
              )
            order by data_interval_start""",
        [source_system, entity, start, weeks],
    ).fetchall()
    return [int(r[0]) for r in rows]


@dataclass(frozen=True, slots=True)
class SetAside:
    """A `replaced` or `held` batch whose raw rows the retention purge may delete."""

    batch_id: UUID
    source_system: str
    entity: str
    status: str
    set_aside_at: datetime


def purgeable(
    conn: psycopg.Connection[Any],
    older_than: datetime,
    *,
    source_system: str | None = None,
    limit: int = 100,
) -> list[SetAside]:
    """`replaced` / `held` batches not purged yet, set aside before `older_than` (a replaced
    batch when it was superseded, a held one when it ended), oldest first. Locks the rows until
    commit; rows another purge holds are skipped."""
    rows = conn.execute(
        f"""select batch_id, source_system, entity, status, coalesce(superseded_at, ended_at)
            from {TABLE}
            where status in ('replaced', 'held') and purged_at is null
              and coalesce(superseded_at, ended_at) < %s
              and (%s::text is null or source_system = %s)
            order by coalesce(superseded_at, ended_at)
            limit %s
            for update skip locked""",
        [older_than, source_system, source_system, limit],
    ).fetchall()
    return [SetAside(*r) for r in rows]


def mark_purged(conn: psycopg.Connection[Any], batch_id: UUID, rows: int) -> None:
    """Record that the batch's raw rows (`rows` of them) were purged; its archive stays."""
    conn.execute(
        f"""update {TABLE} set purged_at = clock_timestamp(), purged_rows = %s
            where batch_id = %s and status in ('replaced', 'held') and purged_at is null""",
        [rows, batch_id],
    )


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """A finished batch as operators read it back."""

    batch_id: UUID
    status: str  # succeeded (live) | held | failed
    start: datetime
    end: datetime
    counts: Counts
    drift: dict[str, Any]
    threshold_violations: list[str]  # their messages
    error_message: str | None
    ended_at: datetime | None


def finished_batches(
    conn: psycopg.Connection[Any], entity: str, start: datetime, end: datetime
) -> list[BatchRecord]:
    """The entity's finished batches (live, held or failed) whose window overlaps [start, end),
    newest first (`replaced` ones are history). A window may be wider than the interval (a
    multi-day load replaces the daily batches it covers)."""
    rows = conn.execute(
        f"""
        select batch_id, status, data_interval_start, data_interval_end, received, loaded,
               quarantined, duplicates, drift, threshold_violations, error_message, ended_at
        from {TABLE}
        where entity = %s and data_interval_start < %s and data_interval_end > %s
          and status in ('succeeded', 'held', 'failed')
        order by coalesce(ended_at, started_at) desc
        """,
        (entity, end, start),
    ).fetchall()
    return [
        BatchRecord(
            batch_id=row[0],
            status=row[1],
            start=row[2],
            end=row[3],
            counts=Counts(*(value or 0 for value in row[4:8])),
            drift=row[8] or {},
            # Stored as thresholds.Violation.as_dict() (a string in rows older than that).
            threshold_violations=[v["message"] if isinstance(v, dict) else str(v) for v in row[9] or []],
            error_message=row[10],
            ended_at=row[11],
        )
        for row in rows
    ]


def live_batch_ids(conn: psycopg.Connection[Any]) -> list[UUID]:
    """Every live (`succeeded`) batch, of any source and entity."""
    return [row[0] for row in conn.execute(f"select batch_id from {TABLE} where status = 'succeeded'")]


def earliest_live_start(conn: psycopg.Connection[Any]) -> datetime | None:
    """The start of the earliest interval a live batch covers (None: no live batch)."""
    row = conn.execute(f"select min(data_interval_start) from {TABLE} where status = 'succeeded'").fetchone()
    return row[0] if row else None


def missing_days(
    conn: psycopg.Connection[Any], source_system: str, entity: str, first: datetime, before: datetime
) -> list[datetime]:
    """The whole days from `first` that end by `before` and that no live batch of (source, entity)
    overlaps, oldest first."""
    rows = conn.execute(
        f"""
        select day
        from generate_series(%(first)s::timestamptz, %(before)s::timestamptz, interval '1 day') as day
        where day + interval '1 day' <= %(before)s
          and not exists (
            select 1 from {TABLE} as b
            where b.status = 'succeeded' and b.entity = %(entity)s and b.source_system = %(source)s
              and b.data_interval_start < day + interval '1 day' and b.data_interval_end > day
        )
        order by day
        """,
        {"first": first, "before": before, "entity": entity, "source": source_system},
    ).fetchall()
    return [row[0] for row in rows]


# --- reads for replay (drp.ingest.replay) ---------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReplaySource:
    """A committed batch a replay can re-ingest: its interval, counts and archive."""

    batch_id: UUID
    source_system: str
    entity: str
    start: datetime
    end: datetime
    status: str
    archive_key: str | None
    received: int
    loaded: int
    quarantined: int
    duplicates: int
    purged: bool


def replay_source(
    conn: psycopg.Connection[Any],
    *,
    source_system: str,
    entity: str,
    start: datetime,
    end: datetime,
    batch_id: UUID | None = None,
) -> ReplaySource | None:
    """Batch `batch_id` (whatever its source, entity and interval: the caller checks them), or the
    latest committed batch of (source, entity) with exactly `[start, end)` that has an archive,
    whatever its status (`succeeded`, `replaced`, `held`); None when there is none."""
    columns = f"""select batch_id, source_system, entity, data_interval_start, data_interval_end,
                         status, archive_key, received, loaded, quarantined, duplicates,
                         purged_at is not null
                  from {TABLE}"""
    if batch_id is not None:
        row = conn.execute(f"{columns} where batch_id = %s", [batch_id]).fetchone()
    else:
        row = conn.execute(
            f"""{columns}
                where source_system = %s and entity = %s and data_interval_start = %s
                  and data_interval_end = %s and archive_key is not null
                  and status in ('succeeded', 'replaced', 'held')
                order by started_at desc
                limit 1""",
            [source_system, entity, start, end],
        ).fetchone()
    return None if row is None else ReplaySource(*row)
