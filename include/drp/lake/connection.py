"""Open the lake: a DuckDB connection with the DuckLake attached as `lake` and selected.

Every reader and writer goes through here (dbt through `dbt_project/profiles.yml`, which states
the same ATTACH): extensions from the local directory, the object-store secret, the catalog in
its own Postgres database, data under `s3://<analytics bucket>/<lake prefix>/`. Queries name
tables as `<schema>.<table>` (`analytics.fct_orders`), as dbt builds them.
"""

from __future__ import annotations

from contextlib import closing
from typing import TYPE_CHECKING

from drp.lake.extensions import duckdb_connection
from drp.settings import Settings

if TYPE_CHECKING:
    import duckdb

LAKE = "lake"
"""The alias the lake is attached under, in our connections and in dbt's."""


def lake_identity(settings: Settings) -> str:
    """Which lake this is (its catalog database and data path): snapshot ids are only
    meaningful within one lake, so publications are recorded and read per lake."""
    return f"{settings.lake_catalog_db} {settings.lake_data_path}"


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def conninfo_value(value: str) -> str:
    """A libpq key/value conninfo value, quoted so any password survives."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quoted_conninfo(settings: Settings, database: str, application_name: str) -> str:
    """libpq conninfo of `database` as the platform role, every value quoted (for an ATTACH)."""
    parts = {
        "host": settings.postgres_host,
        "port": str(settings.postgres_port),
        "dbname": database,
        "user": settings.postgres_user,
        "password": settings.postgres_password.get_secret_value(),
        "application_name": application_name,
    }
    return " ".join(f"{key}={conninfo_value(value)}" for key, value in parts.items())


def catalog_conninfo(settings: Settings) -> str:
    """libpq conninfo of the catalog database, as the platform role."""
    return quoted_conninfo(settings, settings.lake_catalog_db, "drp_lake")


def s3_secret_sql(settings: Settings) -> str:
    """The DuckDB secret for the object store (temporary: it lives with the connection)."""
    return (
        "create or replace temporary secret drp_s3 (type s3, "
        f"key_id {sql_literal(settings.s3_access_key.get_secret_value())}, "
        f"secret {sql_literal(settings.s3_secret_key.get_secret_value())}, "
        f"endpoint {sql_literal(settings.s3_endpoint)}, use_ssl {str(settings.s3_secure).lower()}, "
        f"url_style 'path', region {sql_literal(settings.s3_region)})"
    )


def attach_sql(settings: Settings, *, version: int | None = None, read_only: bool = False) -> str:
    """ATTACH the lake; `version` pins a read-only view of that catalog snapshot (time travel)."""
    options = [f"data_path {sql_literal(settings.lake_data_path)}"]
    if version is not None:
        options.append(f"snapshot_version {int(version)}")
    if read_only or version is not None:
        options.append("read_only")
    target = sql_literal(f"ducklake:postgres:{catalog_conninfo(settings)}")
    return f"attach {target} as {LAKE} ({', '.join(options)})"


def open_lake(
    settings: Settings, *, version: int | None = None, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection with the lake attached and in use. Close it when done."""
    conn = duckdb_connection(settings)
    try:
        conn.execute("set TimeZone = 'UTC'")  # dates derive from timestamptz in UTC, as in dbt
        conn.execute(s3_secret_sql(settings))
        conn.execute(attach_sql(settings, version=version, read_only=read_only))
        conn.execute(f"use {LAKE}")
    except Exception:
        conn.close()
        raise
    return conn


def lake(
    settings: Settings, *, version: int | None = None, read_only: bool = False
) -> closing[duckdb.DuckDBPyConnection]:
    """`open_lake` as a context manager: the connection is closed on exit."""
    return closing(open_lake(settings, version=version, read_only=read_only))


def init_lake(settings: Settings) -> int:
    """Create the lake's catalog tables if this is the first ATTACH (idempotent); returns the head.

    `make up` runs it once, so runs never race to create the catalog."""
    with lake(settings) as conn:
        return current_version(conn)


def current_version(conn: duckdb.DuckDBPyConnection) -> int:
    """The lake's latest committed snapshot id, as this connection sees it."""
    row = conn.execute(f"select id from ducklake_current_snapshot({sql_literal(LAKE)})").fetchone()
    if row is None:
        raise RuntimeError("the lake has no snapshot")
    return int(row[0])
