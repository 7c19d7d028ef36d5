"""The warehouse, whichever engine holds it (`DRP_WAREHOUSE_ENGINE`): the lake (a DuckLake, the
default) or Postgres (`drp.warehouse.postgres`).

Every reader after dbt (the gate, reconciliation, publish, export) opens the warehouse here, as a
DuckDB connection in which `staging.<table>` and `analytics.<mart>` name the build's tables, at
the head or pinned at one snapshot. One SQL dialect serves both engines: on Postgres, DuckDB
reads the tables through its postgres extension. Snapshot ids are the engine's: the lake's
catalog snapshots, or the snapshots the gate freezes on Postgres; `identity` says whose.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING

import psycopg

from drp.lake import connection as lake_connection
from drp.lake.extensions import duckdb_connection
from drp.lake.rollback import Restore
from drp.settings import Settings
from drp.warehouse import postgres

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "Restore",
    "build_lock",
    "descends_problem",
    "identity",
    "open_warehouse",
    "restore_head",
    "snapshot_head",
    "warehouse",
]

POSTGRES_ALIAS = "wh"
"""The alias the Postgres warehouse is attached under."""


def identity(settings: Settings) -> str:
    """Which warehouse this is (`ops.published_snapshots.lake`): snapshot ids are only meaningful
    within one."""
    if settings.warehouse_engine == "lake":
        return lake_connection.lake_identity(settings)
    return postgres.identity(settings)


BUILD_LOCK_WAIT = "15min"


def build_lock_key(settings: Settings) -> str:
    return f"drp lake build {identity(settings)}"


@contextmanager
def build_lock(settings: Settings) -> Iterator[None]:
    """Hold the warehouse build's session advisory lock: one dbt build writes a warehouse's head,
    and on Postgres the gate's freeze waits for it (`snapshot_head`)."""
    with psycopg.connect(settings.postgres_conninfo(), autocommit=True, connect_timeout=10) as conn:
        conn.execute(f"set lock_timeout = '{BUILD_LOCK_WAIT}'")
        conn.execute("select pg_advisory_lock(hashtextextended(%s, 0))", [build_lock_key(settings)])
        try:
            yield
        finally:
            conn.execute("select pg_advisory_unlock(hashtextextended(%s, 0))", [build_lock_key(settings)])


def _postgres_attach_sql(settings: Settings) -> str:
    conninfo = lake_connection.quoted_conninfo(settings, settings.postgres_db, "drp_warehouse_reader")
    return f"attach {lake_connection.sql_literal(conninfo)} as {POSTGRES_ALIAS} (type postgres, read_only)"


def _open_postgres(settings: Settings, version: int | None) -> duckdb.DuckDBPyConnection:
    tables = postgres.snapshot_tables(settings, version) if version is not None else None
    conn = duckdb_connection(settings)
    try:
        conn.execute("set TimeZone = 'UTC'")
        conn.execute(lake_connection.s3_secret_sql(settings))  # `drp export --out s3://…`
        conn.execute(_postgres_attach_sql(settings))
        if tables is None:
            conn.execute(f"use {POSTGRES_ALIAS}")
            return conn
        # Views named as at the head, over the snapshot's copies.
        assert version is not None
        for schema, names in tables.items():
            conn.execute(f'create schema memory."{schema}"')
            source = postgres.snapshot_schema(version, schema)
            for name in names:
                relation = f'{POSTGRES_ALIAS}."{source}"."{name}"'
                conn.execute(f'create view memory."{schema}"."{name}" as select * from {relation}')
        conn.execute("use memory")
    except Exception:
        conn.close()
        raise
    return conn


def open_warehouse(
    settings: Settings, *, version: int | None = None, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """A new DuckDB connection on the warehouse, at its head or pinned at snapshot `version`.
    On Postgres it is always read-only: dbt and `drp.warehouse.postgres` write that warehouse."""
    if settings.warehouse_engine == "lake":
        return lake_connection.open_lake(settings, version=version, read_only=read_only)
    return _open_postgres(settings, version)


def warehouse(
    settings: Settings, *, version: int | None = None, read_only: bool = False
) -> closing[duckdb.DuckDBPyConnection]:
    """`open_warehouse` as a context manager: the connection is closed on exit."""
    return closing(open_warehouse(settings, version=version, read_only=read_only))


def snapshot_head(settings: Settings) -> int:
    """The id of a snapshot holding the head as it is now: the lake's current catalog snapshot,
    or on Postgres a frozen copy of the head (`drp.warehouse.postgres.snapshot_head`)."""
    if settings.warehouse_engine == "lake":
        with lake_connection.lake(settings, read_only=True) as head:
            return lake_connection.current_version(head)
    # Not while a build writes the head (another run's, beside a backfill).
    with build_lock(settings):
        return postgres.snapshot_head(settings)


def restore_head(settings: Settings, published: int | None) -> Restore:
    """Put the head back to snapshot `published` if a run wrote it since: the "abort" of
    write-audit-publish, before every build."""
    if settings.warehouse_engine == "lake":
        from drp.lake import rollback  # noqa: PLC0415

        return rollback.restore_head(settings, published)
    return postgres.restore_head(settings, published)


def descends_problem(settings: Settings, published: int, candidate: int) -> str | None:
    """Why snapshot `candidate` must not be published after `published` (None: it may).

    Two runs that overlap (a backfill beside a scheduled run) can interleave: B restores the
    head while A's build waits to publish, A publishes, then B's snapshot lacks A's writes.
    Publishing it would take consumers back in time; it must be rebuilt on A's publication.
    """
    if settings.warehouse_engine == "postgres":
        return postgres.descends_problem(settings, published, candidate)
    from drp.lake.rollback import restore_message  # noqa: PLC0415

    with lake_connection.lake(settings, read_only=True) as con:
        rows = con.execute(
            "select snapshot_id, commit_message from lake.snapshots() "
            "where snapshot_id > ? and snapshot_id <= ? and commit_message like ? order by snapshot_id",
            [published, candidate, restore_message(None).replace("None", "%")],
        ).fetchall()
    # The last restore decides: one back to `published` re-establishes the line (the next run's).
    for snapshot_id, message in rows[-1:]:
        if message != restore_message(published):
            return (
                f"lake snapshot {candidate} was built after snapshot {snapshot_id} ({message}), which undid "
                f"the published snapshot {published}: another run published meanwhile; rerun the day"
            )
    return None
