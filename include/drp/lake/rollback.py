"""Put the lake's head back to a published snapshot: the "abort" of write-audit-publish.

A run writes its interval at the head of the lake, which consumers never read (they read
published snapshots, `drp.publish`). A run that fails or dies before publish leaves its writes
there; the next run calls `restore_head` first, so it builds on exactly what was published and
no unvalidated row can ride along with a later publish. One DuckLake transaction: every table
that changed comes back from the published version, tables created since are dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from drp.lake.connection import LAKE, attach_sql, current_version, lake
from drp.settings import Settings

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

# Snapshot changes that rewrite files without changing any row (lake maintenance).
MAINTENANCE_CHANGES = frozenset({"merge_adjacent"})
PINNED = "lake_published"


@dataclass
class Restore:
    """What `restore_head` did."""

    published_version: int | None
    head_before: int
    head_after: int
    tables_restored: list[str] = field(default_factory=list)
    tables_dropped: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.tables_restored or self.tables_dropped)


def restore_message(published: int | None) -> str:
    """The commit message of a restore; a restore's snapshot holds the same data as `published`."""
    return f"restore head to published snapshot {published}"


def unpublished_snapshots(conn: duckdb.DuckDBPyConnection, published: int | None) -> list[int]:
    """Snapshots that changed data since `published` (or since the last restore to it);
    maintenance-only snapshots excluded."""
    since = -1 if published is None else published
    row = conn.execute(
        f"select max(snapshot_id) from {LAKE}.snapshots() where snapshot_id > ? and commit_message = ?",
        [since, restore_message(published)],
    ).fetchone()
    if row and row[0] is not None:
        since = int(row[0])
    rows = conn.execute(
        f"select snapshot_id, changes from {LAKE}.snapshots() where snapshot_id > ? order by 1", [since]
    ).fetchall()
    return [
        int(sid) for sid, changes in rows if set(changes or {}) - MAINTENANCE_CHANGES - {"schemas_created"}
    ]


def _tables(conn: duckdb.DuckDBPyConnection, database: str) -> set[str]:
    rows = conn.execute(
        "select schema_name || '.' || table_name from duckdb_tables() where database_name = ?", [database]
    ).fetchall()
    return {str(r[0]) for r in rows}


def _quoted(name: str) -> str:
    schema, table = name.split(".", 1)
    return f'"{schema}"."{table}"'


def restore_head(settings: Settings, published: int | None) -> Restore:
    """Make the head equal the `published` snapshot (None: nothing published, an empty lake).

    Does nothing when no data changed after `published`. Otherwise, in one transaction, every
    table is re-created from the published version and every table that did not exist then is
    dropped. The copy costs about a full read of the lake, paid only after a failed run.
    """
    with lake(settings) as conn:
        head = current_version(conn)
        result = Restore(published, head, head)
        if not unpublished_snapshots(conn, published):
            return result
        before = _tables(conn, LAKE)
        at_published: set[str] = set()
        if published is not None:
            conn.execute(attach_sql(settings, version=published).replace(f" as {LAKE} ", f" as {PINNED} "))
            at_published = _tables(conn, PINNED)
        conn.execute("begin transaction")
        try:
            for name in sorted(before - at_published):
                conn.execute(f"drop table {LAKE}.{_quoted(name)}")
                result.tables_dropped.append(name)
            for name in sorted(at_published):
                schema = name.split(".", 1)[0]
                conn.execute(f'create schema if not exists {LAKE}."{schema}"')
                conn.execute(
                    f"create or replace table {LAKE}.{_quoted(name)} as from {PINNED}.{_quoted(name)}"
                )
                result.tables_restored.append(name)
            conn.execute(
                "call ducklake_set_commit_message(?, 'drp', ?)",
                [LAKE, restore_message(published)],
            )
            conn.execute("commit")
        except Exception:
            conn.execute("rollback")
            raise
        result.head_after = current_version(conn)
    log.warning(
        "lake head %s had unpublished writes: restored %d tables to published snapshot %s, dropped %s",
        head,
        len(result.tables_restored),
        published,
        ", ".join(result.tables_dropped) or "none",
    )
    return result
