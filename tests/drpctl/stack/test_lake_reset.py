"""`make up` resets a lake whose catalog outlived its files (a new object store, an old Postgres)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import pytest

from drp.lake.connection import current_version, lake
from drp.publish.snapshots import publications, publish_snapshot
from drp.settings import Settings, load_settings
from drpctl.stack.lake import catalog_data_files, reset_orphaned_lake
from tests.drp.transform.dbt_helpers import isolated_database
from tests.isolated_lake import remove_objects

pytestmark = pytest.mark.integration


def test_an_orphaned_catalog_is_reset_and_a_whole_lake_is_left_alone(tmp_path: Path) -> None:
    base = load_settings()
    with isolated_database(base, tmp_path) as settings:
        with lake(settings) as con:
            con.execute("create schema analytics")
            con.execute("create table analytics.fct_orders as select range as id from range(100000)")
            version = current_version(con)
        publish_snapshot(
            settings, date(2032, 1, 1), run_id="r", lake_snapshot_id=version, models=["fct_orders"]
        )
        assert reset_orphaned_lake(settings, base.postgres_admin_dsn) is None  # files and catalog agree
        assert catalog_data_files(settings) >= 1

        remove_objects(settings, settings.lake_data_prefix)  # what `make clean` does to the store
        message = reset_orphaned_lake(settings, base.postgres_admin_dsn)

        assert message and "reset it and forgot 1 publications" in message
        assert catalog_data_files(settings) == 0 and publications(settings) == []
        with lake(settings) as con:  # a new, empty lake that works
            assert con.execute(
                "select count(*) from duckdb_tables() where database_name = 'lake'"
            ).fetchone() == (0,)
        assert _owner(settings) == settings.postgres_user


def _owner(settings: Settings) -> str:
    with psycopg.connect(settings.postgres_conninfo(settings.lake_catalog_db)) as conn:
        row = conn.execute(
            "select pg_get_userbyid(datdba) from pg_database where datname = current_database()"
        ).fetchone()
    assert row is not None
    return str(row[0])
