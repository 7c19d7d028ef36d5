"""Helpers for the dbt tests: an isolated Postgres database per module, table snapshots.

The shared `drp` database belongs to everyone working on this machine, so these tests never
touch it: each module creates `drp_test_dbt_<random>` through the admin DSN, migrates it, and
drops it at the end, with a lake of its own (`tests.isolated_lake`). dbt's target directory and
the extension directory live under pytest's temporary directories.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from drp.db.migrate import upgrade
from drp.lake.connection import lake
from drp.settings import Settings, load_settings
from drpctl.db_admin import create_database, drop_database
from tests.isolated_lake import isolated_lake

STAGING_RELATIONS = (
    "staging.orders",
    "staging.order_lines",
    "staging.customers",
    "staging.customer_versions",
    "staging.products",
)
MART_RELATIONS = (
    "intermediate.int_order_lines_aggregated",
    "intermediate.int_customers_referenced_by_orders",
    "intermediate.int_products_referenced_by_order_lines",
    "analytics.fct_orders",
    "analytics.fct_order_lines",
    "analytics.daily_order_metrics",
    "analytics.dim_customers",
    "analytics.dim_products",
    "analytics.dim_date",
)
ALL_RELATIONS = STAGING_RELATIONS + MART_RELATIONS


@contextmanager
def isolated_database(base: Settings, state_dir: Path) -> Iterator[Settings]:
    """A fresh, migrated database `drp_test_dbt_<random>` and a lake of its own; dropped on exit."""
    name = f"drp_test_dbt_{secrets.token_hex(4)}"
    create_database(base.postgres_admin_dsn, name, base.postgres_user)
    try:
        with isolated_lake(base) as lake_settings:
            settings = load_settings(
                postgres_db=name,
                state_dir=state_dir,
                lake_catalog_db=lake_settings["lake_catalog_db"],
                lake_data_prefix=lake_settings["lake_data_prefix"],
            )
            upgrade(settings)
            yield settings
    finally:
        drop_database(base.postgres_admin_dsn, name)


def connect(settings: Settings) -> psycopg.Connection[Any]:
    return psycopg.connect(settings.postgres_conninfo())


def _normalise(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()  # the instant, whatever zone the driver attached
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def fetch_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    normalised = [tuple(_normalise(v) for v in row) for row in rows]
    return sorted(normalised, key=lambda row: tuple((v is None, str(v)) for v in row))


def lake_snapshot(
    settings: Settings, relations: tuple[str, ...] = ALL_RELATIONS, *, version: int | None = None
) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every relation in the lake (its head, or snapshot `version`), normalised and sorted."""
    with lake(settings, version=version, read_only=True) as conn:
        return {rel: fetch_rows(conn.execute(f"select * from {rel}").fetchall()) for rel in relations}


def postgres_snapshot(
    settings: Settings, relations: tuple[str, ...] = ALL_RELATIONS
) -> dict[str, list[tuple[Any, ...]]]:
    with connect(settings) as conn:
        return {rel: fetch_rows(conn.execute(f"select * from {rel}").fetchall()) for rel in relations}


def checksum(snapshot: dict[str, list[tuple[Any, ...]]]) -> str:
    digest = hashlib.sha256()
    for rel in sorted(snapshot):
        digest.update(rel.encode())
        for row in snapshot[rel]:
            digest.update(repr(row).encode())
    return digest.hexdigest()
