"""What the campaign looks at after each run: read-only views of the platform's tables, the
generator's ground truth (over HTTP: the tooling never imports the simulator), the published lake
and a clean rebuild of it.

The reads here are written against the tables, not through the platform's own modules, on purpose:
an audit that reads through the code it audits would share its bugs. Nothing here writes a
platform table; the rebuild writes only a lake of its own, dropped on exit.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import duckdb
import httpx
import psycopg

from drp.lake.connection import init_lake, lake
from drp.publish.snapshots import publications, published_lake
from drp.settings import Settings
from drp.storage.object_store import client as s3_client
from drp.transform.dbt_runner import run_dbt
from drp.transform.manifest import published_marts
from drp.warehouse import identity
from drp_domain import ENTITIES
from drpctl.chaos.invariants import (
    BatchObservation,
    FailedRun,
    GateScope,
    MartSlice,
    Publication,
    PublishedBatch,
    TaskAuditRow,
)
from drpctl.db_admin import create_database, drop_database

TRUTH_MAX_DAYS: Final = 31  # the generator's longest window
# Columns that say when or in which batch a row was loaded, not what it is: a rebuild differs there.
LINEAGE: Final = ("batch_id", "ingested_at")
# A dimension version closes when a later version arrives: later knowledge, not this day's.
LATER_KNOWLEDGE: Final = ("valid_to", "is_current")
# Marts sliced by day (`order_date`); `dim_customers` is sliced by the customers of those days.
DAY_COLUMN: Final = "order_date"
EPOCH: Final = datetime(2024, 1, 1, tzinfo=UTC)  # the generator serves data from here


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


# --- the generator's ground truth ------------------------------------------------------------


class Truth:
    """`GET /v1/truth/{entity}`: how many records a window serves under given faults (cached)."""

    def __init__(self, settings: Settings) -> None:
        headers = {"X-API-Key": settings.generator_api_key.get_secret_value()}
        self._http = httpx.Client(base_url=settings.generator_url, headers=headers, timeout=120)
        self._cache: dict[tuple[str, datetime, datetime, tuple[tuple[str, str], ...]], int] = {}

    def close(self) -> None:
        self._http.close()

    def served(self, entity: str, start: datetime, end: datetime, faults: Mapping[str, str]) -> int:
        """Records served in `[start, end)` (summed over windows the generator accepts)."""
        params = tuple(
            sorted((k if k.startswith("fault_") else f"fault_{k}", str(v)) for k, v in faults.items())
        )
        key = (entity, start, end, params)
        if key not in self._cache:
            total, lo = 0, start
            while lo < end:
                hi = min(end, lo + timedelta(days=TRUTH_MAX_DAYS))
                response = self._http.get(
                    f"/v1/truth/{entity}",
                    params={"start": lo.isoformat(), "end": hi.isoformat(), **dict(params)},
                )
                response.raise_for_status()
                total += int(response.json()["served"])
                lo = hi
            self._cache[key] = total
        return self._cache[key]


# --- raw and the batch registry --------------------------------------------------------------


def append_only(settings: Settings) -> bool:
    """Whether raw keeps superseded batches (migration 0400 adds `superseded_by`)."""
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        row = conn.execute(
            "select count(*) from information_schema.columns "
            "where table_schema = 'ops' and table_name = 'ingest_batches' and column_name = 'superseded_by'"
        ).fetchone()
    return bool(row and row[0])


def batch_rows(settings: Settings, since: datetime) -> list[dict[str, Any]]:
    """Batches started at or after `since`, with what raw holds for each."""
    kept_only = append_only(settings)
    purged = "purged_at is not null" if kept_only else "false"
    entity_counts = []
    for entity in ENTITIES:
        entity_counts.append(
            f"""
            select b.batch_id,
                (select count(*) from raw.{entity}_raw r where r.batch_id = b.batch_id) as raw_rows,
                (select count(*) - count(distinct record_hash) from raw.{entity}_raw r
                    where r.batch_id = b.batch_id) as repeated_rows,
                (select count(*) from raw.{entity}_rejected q where q.batch_id = b.batch_id) as rejected_rows
            from ops.ingest_batches b where b.entity = '{entity}' and b.started_at >= %(since)s
            """
        )
    query = f"""
        with counts as ({" union all ".join(entity_counts)})
        select b.batch_id::text, b.entity, b.data_interval_start, b.data_interval_end, b.status,
            b.received, b.loaded, b.quarantined, b.duplicates, b.started_at, {purged} as purged,
            c.raw_rows, c.repeated_rows, c.rejected_rows
        from ops.ingest_batches b join counts c using (batch_id)
        order by b.started_at
    """
    with psycopg.connect(settings.postgres_conninfo()) as conn, conn.cursor() as cur:
        cur.execute(query, {"since": since})
        names = [d.name for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def observe_batch(row: Mapping[str, Any], served: int | None) -> BatchObservation:
    return BatchObservation(
        batch_id=row["batch_id"],
        entity=row["entity"],
        window=f"[{row['data_interval_start']:%Y-%m-%d %H:%M}, {row['data_interval_end']:%Y-%m-%d %H:%M})",
        status=row["status"],
        received=row["received"],
        loaded=row["loaded"],
        quarantined=row["quarantined"],
        duplicates=row["duplicates"],
        raw_rows=row["raw_rows"],
        rejected_rows=row["rejected_rows"],
        repeated_rows=row["repeated_rows"],
        served=served,
        purged=bool(row["purged"]),
    )


# --- publications and gates ------------------------------------------------------------------


def published_with_gates(settings: Settings, days: Sequence[date]) -> list[Publication]:
    """The current publication of each of `days` that has one, with its run's gate results."""
    current = {p.snapshot_date: p for p in publications(settings)}
    wanted = [current[d] for d in sorted(set(days)) if d in current]
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        rows = conn.execute(
            """
            select run_id, data_interval_start, count(*), count(*) filter (where blocking)
            from ops.quality_results where run_id = any(%s)
            group by run_id, data_interval_start
            """,
            [[p.run_id for p in wanted]],
        ).fetchall()
    gates = {(run_id, start.astimezone(UTC).date()): (n, blocking) for run_id, start, n, blocking in rows}
    return [
        Publication(p.snapshot_date.isoformat(), p.run_id, *gates.get((p.run_id, p.snapshot_date), (0, 0)))
        for p in wanted
    ]


def published_batches(
    settings: Settings, days: Sequence[date]
) -> tuple[str, list[PublishedBatch], list[GateScope]]:
    """The orders batches of `days` that the newest publication holds, and what every
    publication's gate validated (from the gate summary the publication records)."""
    current = publications(settings)
    wanted = set(days)
    if not current or not wanted:
        return "", [], []
    newest = max(current, key=lambda p: p.lake_snapshot_id)
    with published_lake(settings, newest.snapshot_date) as (_, con):
        rows = con.execute(
            "select distinct batch_id::varchar, batch_interval_start, batch_interval_end from staging.orders"
        ).fetchall()
    rows = [r for r in rows if r[1].astimezone(UTC).date() in wanted]
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        loaded: dict[str, datetime] = dict(
            conn.execute(
                "select batch_id::text, ended_at from ops.ingest_batches where batch_id = any(%s::uuid[])",
                [[r[0] for r in rows]],
            ).fetchall()
        )
        published = conn.execute(
            "select run_id, published_at, details -> 'quality' from ops.published_snapshots where lake = %s",
            [identity(settings)],
        ).fetchall()
    # A batch the registry has no committed row for was judged by no gate: it counts as loaded
    # at the end of time, so no gate covers it and the check names it.
    never = datetime.max.replace(tzinfo=UTC)
    batches = [PublishedBatch(b, start, end, loaded.get(b) or never) for b, start, end in rows]
    scopes = []
    for run_id, published_at, quality in published:
        gate = quality or {}
        start = gate.get("scope_start") or gate.get("data_interval_start")
        end = gate.get("scope_end") or gate.get("data_interval_end")
        validated = gate.get("validated_at")
        if start and end:
            scopes.append(
                GateScope(
                    run_id,
                    datetime.fromisoformat(validated) if validated else published_at,
                    datetime.fromisoformat(start),
                    datetime.fromisoformat(end),
                )
            )
    return newest.run_id, batches, scopes


# --- the audit table -------------------------------------------------------------------------


def failed_run(settings: Settings, dag_id: str, run_id: str, failed_tasks: list[str]) -> FailedRun:
    """What `ops.pipeline_flow_audit` says about a run Airflow failed."""
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        run_rows = conn.execute(
            """
            select metadata, error_message from ops.pipeline_flow_audit
            where flow_name = %s and flow_run_id = %s and task_id is null and status = 'failed'
            order by recorded_at desc limit 1
            """,
            [dag_id, run_id],
        ).fetchall()
        task_rows = conn.execute(
            """
            select distinct on (task_id) task_id, status, error_message from ops.pipeline_flow_audit
            where flow_name = %s and flow_run_id = %s and task_id is not null
            order by task_id, try_number desc nulls last, recorded_at desc
            """,
            [dag_id, run_id],
        ).fetchall()
    named: list[str] = []
    if run_rows:
        metadata, message = run_rows[0]
        named = list((metadata or {}).get("failed_tasks") or [])
        # The run row's message names the failed tasks too ("failed tasks: a, b; ...").
        named += [t for t in failed_tasks if t in (message or "")]
    return FailedRun(
        run_id=run_id,
        failed_tasks=failed_tasks,
        run_row=bool(run_rows),
        run_row_tasks=sorted(set(named)),
        task_rows={t: TaskAuditRow(t, s, m) for t, s, m in task_rows},
    )


# --- published marts and a clean rebuild -----------------------------------------------------


def _columns(con: duckdb.DuckDBPyConnection, relation: str, dropped: Sequence[str]) -> str:
    columns = [r[0] for r in con.execute(f"describe {relation}").fetchall()]
    return ", ".join(f'"{c}"' for c in columns if c not in dropped)


def mart_slices(con: duckdb.DuckDBPyConnection, days: Sequence[date]) -> list[MartSlice]:
    """Count and order-independent checksum of each published mart's rows, per day in `days`."""
    slices: list[MartSlice] = []
    wanted = sorted(set(days))
    if not wanted:
        return slices
    for model in published_marts():
        relation = f"analytics.{model}"
        names = [r[0] for r in con.execute(f"describe {relation}").fetchall()]
        if DAY_COLUMN in names:
            cols = _columns(con, relation, LINEAGE)
            rows = con.execute(
                f"select {DAY_COLUMN}, count(*), coalesce(sum(hash({cols})::hugeint), 0)::varchar "
                f"from {relation} where {DAY_COLUMN} = any(?) group by all",
                [wanted],
            ).fetchall()
            found = {d: (n, c) for d, n, c in rows}
            for day in wanted:
                n, c = found.get(day, (0, "0"))
                slices.append(MartSlice(model, day.isoformat(), int(n), str(c)))
        elif "customer_id" in names and "valid_from" in names:
            # The versions, begun by the last day's end, of the customers the days' orders name.
            cols = _columns(con, relation, LINEAGE + LATER_KNOWLEDGE)
            row = con.execute(
                f"select count(*), coalesce(sum(hash({cols})::hugeint), 0)::varchar from {relation} "
                f"where valid_from < ? and customer_id in "
                f"(select customer_id from analytics.fct_orders where {DAY_COLUMN} = any(?))",
                [_day_start(wanted[-1] + timedelta(days=1)), wanted],
            ).fetchone()
            assert row is not None
            slices.append(MartSlice(model, "days", int(row[0]), str(row[1])))
    return slices


def published_slices(settings: Settings, days: Sequence[date]) -> tuple[str, list[date], list[MartSlice]]:
    """Which of `days` are published, and their slices in the newest publication of them (the
    one consumers read last), with that publication's run.

    A day whose run failed is not published, but its raw batches are live: the next run widens
    its dbt interval back over them (`drp.tasks.dbt_interval`), so the newest publication holds
    them, as the clean rebuild does.
    """
    current = [p for p in publications(settings) if p.snapshot_date in set(days)]
    if not current:
        return "", [], []
    newest = max(current, key=lambda p: p.lake_snapshot_id)
    published = sorted(p.snapshot_date for p in current)
    with published_lake(settings, newest.snapshot_date) as (_, con):
        return newest.run_id, published, mart_slices(con, published)


@contextmanager
def _own_lake(settings: Settings) -> Iterator[Settings]:
    """A fresh lake (catalog database and data prefix of its own), removed on exit. It is a lake
    whatever the platform's engine: both engines build the same marts from the same raw."""
    token = secrets.token_hex(4)
    own = settings.model_copy(
        update={
            "lake_catalog_db": f"drp_chaos_lake_{token}",
            "lake_data_prefix": f"chaos-lakes/{token}",
            "warehouse_engine": "lake",
        }
    )
    create_database(settings.postgres_admin_dsn, own.lake_catalog_db, settings.postgres_user)
    try:
        init_lake(own)
        yield own
    finally:
        drop_database(settings.postgres_admin_dsn, own.lake_catalog_db)
        s3 = s3_client(settings)
        bucket = settings.s3_bucket_analytics
        for obj in s3.list_objects(bucket, prefix=f"{own.lake_data_prefix}/", recursive=True):
            if obj.object_name:
                s3.remove_object(bucket, obj.object_name)


def rebuilt_slices(settings: Settings, days: Sequence[date]) -> list[MartSlice]:
    """The slices of `days` in a clean lake: one full-refresh dbt build from raw, up to the last
    day's end (the newest publication knows raw up to there)."""
    wanted = sorted(set(days))
    if not wanted:
        return []
    with _own_lake(settings) as own, tempfile.TemporaryDirectory(prefix="drp-chaos-dbt-") as tmp:
        run_dbt(
            own,
            "build",
            data_interval_start=EPOCH,
            data_interval_end=_day_start(wanted[-1] + timedelta(days=1)),
            full_refresh=True,
            exclude="resource_type:test",
            target_path=Path(tmp) / "target",
            log_path=Path(tmp) / "logs",
        )
        with lake(own, read_only=True) as con:
            return mart_slices(con, wanted)
