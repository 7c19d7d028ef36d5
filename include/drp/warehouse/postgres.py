"""The Postgres engine's snapshots: write-audit-publish on schemas that have no time travel.

On this engine dbt builds staging, intermediate and marts as schemas of the platform database,
next to raw: that is the warehouse's *head*, which consumers never read. The quality gate
freezes the head into a snapshot (`snapshot_head`): in one transaction, a copy of every table of
those schemas into `snapshot_<id>__<schema>`, with its id from `ops.warehouse_versions`. The gate
validates that copy and publish records its id, as the lake's catalog snapshot ids are recorded,
so readers of a published day read exactly what was validated while later runs write the head.

A run that fails before publishing leaves its writes at the head. `ops.warehouse_heads.clean_at`
names the snapshot the head equals; `restore_head` (the next run's `prepare_warehouse`) copies the
published snapshot back over the head unless the head is that snapshot, and marks the head as
written, since the build follows. Snapshots cost a copy of the warehouse per gated run, inside
Postgres; lake maintenance drops the ones no publication needs (`expire`), as it expires the
lake's.

Every statement on `ops.warehouse_versions` and `ops.warehouse_heads` lives here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from drp.lake.rollback import Restore
from drp.settings import Settings

log = logging.getLogger(__name__)

WAREHOUSE_SCHEMAS = ("staging", "intermediate", "analytics")
"""The schemas dbt writes (dbt_project.yml's folders), which a snapshot copies."""


def identity(settings: Settings) -> str:
    """Which Postgres warehouse this is: snapshot ids mean something only within one."""
    return f"postgres {settings.postgres_db}"


def snapshot_schema(version: int, schema: str) -> str:
    """The schema holding `schema` as snapshot `version` froze it."""
    return f"snapshot_{int(version)}__{schema}"


def _connect(settings: Settings) -> psycopg.Connection[Any]:
    return psycopg.connect(settings.postgres_conninfo(), application_name="drp_warehouse")


def _lock_key(settings: Settings) -> str:
    return f"drp warehouse {identity(settings)}"


def _lock(conn: psycopg.Connection[Any], settings: Settings) -> None:
    """Serialize snapshots, restores and expiry of one warehouse (held until the transaction ends)."""
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (_lock_key(settings),))


@contextmanager
def _session_lock(conn: psycopg.Connection[Any], settings: Settings) -> Iterator[None]:
    """`_lock` held by an autocommit session, released on exit."""
    conn.execute("select pg_advisory_lock(hashtext(%s))", (_lock_key(settings),))
    try:
        yield
    finally:
        conn.execute("select pg_advisory_unlock(hashtext(%s))", (_lock_key(settings),))


def _tables(conn: psycopg.Connection[Any], schema: str) -> list[str]:
    rows = conn.execute(
        "select table_name from information_schema.tables "
        "where table_schema = %s and table_type = 'BASE TABLE' order by table_name",
        (schema,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def _copy(conn: psycopg.Connection[Any], source: str, target: str, table: str) -> None:
    conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(target)))
    conn.execute(
        sql.SQL("create table {} as table {}").format(
            sql.Identifier(target, table), sql.Identifier(source, table)
        )
    )


def _clean_at(conn: psycopg.Connection[Any], settings: Settings) -> int | None:
    row = conn.execute(
        "select clean_at from ops.warehouse_heads where warehouse = %s", (identity(settings),)
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def _set_clean_at(conn: psycopg.Connection[Any], settings: Settings, version: int | None) -> None:
    conn.execute(
        """insert into ops.warehouse_heads (warehouse, clean_at) values (%s, %s)
           on conflict (warehouse) do update set clean_at = excluded.clean_at""",
        (identity(settings), version),
    )


def _newest(conn: psycopg.Connection[Any], settings: Settings) -> int:
    row = conn.execute(
        "select coalesce(max(id), 0) from ops.warehouse_versions where warehouse = %s", (identity(settings),)
    ).fetchone()
    return int(row[0]) if row else 0


def snapshot_head(settings: Settings) -> int:
    """Freeze the head into a snapshot and return its id; the head's own snapshot when nothing
    wrote it since it was frozen (a retried gate copies nothing).

    The copies are one REPEATABLE READ transaction, so every table is copied as of one moment;
    the lock is taken before it starts (a transaction's snapshot is taken at its first statement,
    which would otherwise be the wait). The caller keeps builds out (`drp.warehouse.build_lock`).
    """
    with _connect(settings) as conn:
        conn.autocommit = True
        with _session_lock(conn, settings):
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            with conn.transaction():
                clean_at = _clean_at(conn, settings)
                if clean_at is not None and _live(conn, clean_at, settings):
                    return clean_at
                row = conn.execute(
                    "insert into ops.warehouse_versions (warehouse, kind) "
                    "values (%s, 'snapshot') returning id",
                    (identity(settings),),
                ).fetchone()
                assert row is not None
                version = int(row[0])
                for schema in WAREHOUSE_SCHEMAS:
                    target = snapshot_schema(version, schema)
                    conn.execute(sql.SQL("create schema {}").format(sql.Identifier(target)))
                    for table in _tables(conn, schema):
                        _copy(conn, schema, target, table)
                _set_clean_at(conn, settings, version)
    return version


def mark_written(settings: Settings) -> None:
    """Record that something is about to write the head (a dbt command on the `postgres` target):
    the head no longer equals a snapshot, so the next gate freezes it anew and the next run
    restores it."""
    with _connect(settings) as conn:
        _set_clean_at(conn, settings, None)


def _live(conn: psycopg.Connection[Any], version: int, settings: Settings) -> bool:
    """Whether `version` is a snapshot of this warehouse whose copy is still there."""
    row = conn.execute(
        "select expired_at is null from ops.warehouse_versions "
        "where id = %s and warehouse = %s and kind = 'snapshot'",
        (version, identity(settings)),
    ).fetchone()
    return bool(row and row[0])


def snapshot_tables(settings: Settings, version: int) -> dict[str, list[str]]:
    """Each warehouse schema's tables in snapshot `version`.

    Raises:
        LookupError: no such snapshot of this warehouse, or maintenance expired it.
    """
    with _connect(settings) as conn:
        row = conn.execute(
            "select expired_at from ops.warehouse_versions "
            "where id = %s and warehouse = %s and kind = 'snapshot'",
            (version, identity(settings)),
        ).fetchone()
        if row is None:
            raise LookupError(f"the warehouse {identity(settings)!r} has no snapshot {version}")
        if row[0] is not None:
            raise LookupError(f"snapshot {version} was expired by lake maintenance on {row[0]:%Y-%m-%d}")
        return {schema: _tables(conn, snapshot_schema(version, schema)) for schema in WAREHOUSE_SCHEMAS}


def restore_head(settings: Settings, published: int | None) -> Restore:
    """Make the head equal snapshot `published` (None: nothing published, an empty warehouse)
    unless it already does, then mark it as about to be written (the build follows)."""
    with _connect(settings) as conn, conn.transaction():
        _lock(conn, settings)
        head = _newest(conn, settings)
        result = Restore(published, head, head)
        if published is not None and not _live(conn, published, settings):
            raise LookupError(
                f"published snapshot {published} of the warehouse {identity(settings)!r} is gone: "
                "the head cannot be restored to it"
            )
        if _clean_at(conn, settings) != published or published is None:
            kept = {
                schema: set(_tables(conn, snapshot_schema(published, schema))) if published else set()
                for schema in WAREHOUSE_SCHEMAS
            }
            for schema in WAREHOUSE_SCHEMAS:
                for table in _tables(conn, schema):
                    conn.execute(sql.SQL("drop table {}").format(sql.Identifier(schema, table)))
                    if table not in kept[schema]:
                        result.tables_dropped.append(f"{schema}.{table}")
                for table in sorted(kept[schema]):
                    _copy(conn, snapshot_schema(int(published or 0), schema), schema, table)
                    result.tables_restored.append(f"{schema}.{table}")
            if result.changed:
                row = conn.execute(
                    "insert into ops.warehouse_versions (warehouse, kind, source) "
                    "values (%s, 'restore', %s) returning id",
                    (identity(settings), published),
                ).fetchone()
                assert row is not None
                result.head_after = int(row[0])
        _set_clean_at(conn, settings, None)
    if result.changed:
        log.warning(
            "warehouse head had unpublished writes: restored %d tables to published snapshot %s, dropped %s",
            len(result.tables_restored),
            published,
            ", ".join(result.tables_dropped) or "none",
        )
    return result


def descends_problem(settings: Settings, published: int, candidate: int) -> str | None:
    """Why snapshot `candidate` may not be published after `published` (None: it may): a restore
    between them put the head back to another snapshot, so `candidate` lacks `published`'s writes."""
    with _connect(settings) as conn:
        row = conn.execute(
            "select id, source from ops.warehouse_versions where warehouse = %s and kind = 'restore' "
            "and id > %s and id <= %s order by id desc limit 1",
            (identity(settings), published, candidate),
        ).fetchone()
    if row is None or row[1] == published:
        return None
    return (
        f"warehouse snapshot {candidate} was built after restore {row[0]} (to snapshot {row[1]}), "
        f"which undid the published snapshot {published}: another run published meanwhile; rerun the day"
    )


def live_snapshots(settings: Settings) -> list[int]:
    """The ids of this warehouse's snapshots that are not expired, oldest first."""
    with _connect(settings) as conn:
        rows = conn.execute(
            "select id from ops.warehouse_versions where warehouse = %s and kind = 'snapshot' "
            "and expired_at is null order by id",
            (identity(settings),),
        ).fetchall()
    return [int(r[0]) for r in rows]


def expire(settings: Settings, versions: list[int]) -> list[int]:
    """Drop the copies of snapshots `versions` (lake maintenance decides which); returns the ids
    it expired. Their rows stay, marked expired, so a reader of one gets a clear error."""
    with _connect(settings) as conn, conn.transaction():
        _lock(conn, settings)
        rows = conn.execute(
            "update ops.warehouse_versions set expired_at = now() where warehouse = %s "
            "and kind = 'snapshot' and expired_at is null and id = any(%s) returning id",
            (identity(settings), versions),
        ).fetchall()
        expired = sorted(int(r[0]) for r in rows)
        for version in expired:
            for schema in WAREHOUSE_SCHEMAS:
                conn.execute(
                    sql.SQL("drop schema if exists {} cascade").format(
                        sql.Identifier(snapshot_schema(version, schema))
                    )
                )
    return expired
