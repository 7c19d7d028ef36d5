"""The lake at `make up`: a catalog whose data files are gone is reset, not left broken.

The lake is two halves: its catalog in Postgres and its Parquet files in the object store. A
project-local object store goes with the project's state directory (`make clean`, a fresh
clone), while an external Postgres server outlives it. A catalog left pointing at missing files
cannot be read, restored or published from. `reset_orphaned_lake` drops it, with the
publications that pointed into it; the next run rebuilds the lake from raw, which is intact.
"""

from __future__ import annotations

import psycopg

from drp.lake.connection import lake_identity
from drp.publish import registry
from drp.settings import Settings
from drp.storage.object_store import client
from drp.warehouse import identity, postgres
from drpctl.db_admin import create_database, drop_database


def catalog_data_files(settings: Settings) -> int:
    """Data files the catalog knows (0 for a catalog not yet initialised)."""
    with psycopg.connect(settings.postgres_conninfo(settings.lake_catalog_db)) as conn:
        exists = conn.execute("select to_regclass('public.ducklake_data_file')").fetchone()
        if not exists or exists[0] is None:
            return 0
        row = conn.execute("select count(*) from ducklake_data_file").fetchone()
    return int(row[0]) if row else 0


def stored_objects(settings: Settings) -> bool:
    """Whether any object exists under the lake's data prefix."""
    prefix = f"{settings.lake_data_prefix.strip('/')}/"
    for _ in client(settings).list_objects(settings.s3_bucket_analytics, prefix=prefix, recursive=True):
        return True
    return False


def reset_orphaned_lake(settings: Settings, admin_dsn: str) -> str | None:
    """Reset the lake when its catalog lists files but the object store holds none of them.

    Returns:
        What was done, for the operator, or None when the lake is whole.
    """
    files = catalog_data_files(settings)
    if files == 0 or stored_objects(settings):
        return None
    drop_database(admin_dsn, settings.lake_catalog_db)
    create_database(admin_dsn, settings.lake_catalog_db, settings.postgres_user)
    with psycopg.connect(settings.postgres_conninfo()) as conn, conn.transaction():
        forgotten = registry.forget_all(conn, lake_identity(settings))
    return (
        f"the lake catalog {settings.lake_catalog_db} listed {files} data files that are not in "
        f"{settings.lake_data_path} (a new object store): reset it and forgot {forgotten} publications; "
        "the next run rebuilds the lake from raw"
    )


def describe(settings: Settings) -> str:
    """One line for `drp status`: where the warehouse is, its head, and the newest published day."""
    from drp.lake.connection import current_version, lake  # noqa: PLC0415 - loads DuckDB

    with psycopg.connect(settings.postgres_conninfo()) as conn:
        newest = registry.latest(conn, identity(settings))
    published = (
        f"newest publication {newest.snapshot_date} at snapshot {newest.lake_snapshot_id}"
        if newest
        else "nothing published yet"
    )
    if settings.warehouse_engine == "postgres":
        snapshots = postgres.live_snapshots(settings)
        return (
            f"Warehouse: Postgres, database {settings.postgres_db} (DRP_WAREHOUSE_ENGINE=postgres); "
            f"{len(snapshots)} snapshots kept, {published}"
        )
    with lake(settings, read_only=True) as con:
        head = current_version(con)
    where = f"catalog {settings.lake_catalog_db}, data {settings.lake_data_path}"
    return f"Lake: {where}; head snapshot {head}, {published}"
