"""Lake maintenance: compaction, snapshot expiry and file cleanup (the `lake_maintenance` DAG).

Each step returns a JSON-able dict with `records_processed`, which the DAG's audit callbacks write
to `ops.pipeline_flow_audit`. Expiry keeps what consumers and the next run need:
- each date's current publication for `lake_snapshot_retention_days` after it was published
  (`drp export` of those days keeps working);
- the newest publication whatever its age (the head is restored to it after a failed run);
- everything after the newest publication (a run in flight).
Every other snapshot older than the newest publication is expired: the intermediate commits of
dbt builds, and publications past retention. Their files go at the next cleanup.

On the Postgres engine (`drp.warehouse.postgres`) the same rule picks the gate's snapshots to
drop; compaction and file cleanup have nothing to do there.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from drp.lake.connection import LAKE, current_version, lake, sql_literal
from drp.publish import registry
from drp.settings import Settings
from drp.warehouse import identity, postgres

ORPHAN_MIN_AGE = timedelta(hours=1)
"""Files younger than this are never orphans: a writer may not have committed them yet."""


def compact(settings: Settings) -> dict[str, Any]:
    """Merge small adjacent Parquet files of every table (one new snapshot, no row changes)."""
    if settings.warehouse_engine == "postgres":
        return {"records_processed": 0, "tables": {}, "engine": "postgres"}
    with lake(settings) as conn:
        rows = conn.execute(f"call ducklake_merge_adjacent_files({sql_literal(LAKE)})").fetchall()
    merged = {f"{r[0]}.{r[1]}": {"files_merged": int(r[2]), "files_written": int(r[3])} for r in rows}
    return {
        "records_processed": sum(m["files_merged"] for m in merged.values()),
        "tables": merged,
    }


def expirable_snapshots(settings: Settings, conn: Any, now: datetime | None = None) -> list[int]:
    """Snapshot ids that `expire_snapshots` would expire now (see the module docstring); `conn`
    is a lake connection (unused on the Postgres engine)."""
    now = now or datetime.now(UTC)
    since = now - timedelta(days=settings.lake_snapshot_retention_days)
    with psycopg.connect(settings.postgres_conninfo()) as pg:
        kept = registry.kept_lake_snapshots(pg, identity(settings), since)
        newest = registry.latest_lake_snapshot(pg, identity(settings))
    if newest is None:
        return []  # nothing published: nothing to keep track of yet
    if settings.warehouse_engine == "postgres":
        return [v for v in postgres.live_snapshots(settings) if v < newest and v not in kept]
    head = current_version(conn)
    rows = conn.execute(
        f"select snapshot_id from {LAKE}.snapshots() where snapshot_id < ?", [newest]
    ).fetchall()
    return sorted(int(r[0]) for r in rows if int(r[0]) not in kept and int(r[0]) != head)


def expire_snapshots(settings: Settings) -> dict[str, Any]:
    """Expire the snapshots nobody may read any more (their files become deletable)."""
    if settings.warehouse_engine == "postgres":
        versions = postgres.expire(settings, expirable_snapshots(settings, None))
    else:
        with lake(settings) as conn:
            versions = expirable_snapshots(settings, conn)
            if versions:
                expire = f"call ducklake_expire_snapshots({sql_literal(LAKE)}, versions => ?)"
                conn.execute(expire, [versions])
    return {
        "records_processed": len(versions),
        "expired": len(versions),
        "oldest": versions[0] if versions else None,
        "newest": versions[-1] if versions else None,
    }


def cleanup_files(settings: Settings) -> dict[str, Any]:
    """Delete the files of expired snapshots, and files no snapshot knows (a crashed writer's)."""
    if settings.warehouse_engine == "postgres":
        return {"records_processed": 0, "expired_files_deleted": 0, "orphan_files_deleted": 0}
    older = datetime.now(UTC) - ORPHAN_MIN_AGE
    with lake(settings) as conn:
        old = conn.execute(
            f"call ducklake_cleanup_old_files({sql_literal(LAKE)}, cleanup_all => true)"
        ).fetchall()
        orphans = conn.execute(
            f"call ducklake_delete_orphaned_files({sql_literal(LAKE)}, older_than => ?)", [older]
        ).fetchall()
    return {
        "records_processed": len(old) + len(orphans),
        "expired_files_deleted": len(old),
        "orphan_files_deleted": len(orphans),
    }
