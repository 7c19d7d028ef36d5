"""Lake maintenance on a lake of its own: compaction keeps every row and is not mistaken for a
run's writes, expiry keeps what may still be read, cleanup frees the bytes of what may not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest

from drp.lake import maintenance
from drp.lake.connection import current_version, lake
from drp.lake.rollback import unpublished_snapshots
from drp.publish.snapshots import PublishError, export_published, mart_fingerprints, publish_snapshot
from drp.settings import Settings
from tests.drp.transform.dbt_helpers import isolated_database
from tests.isolated_lake import lake_bytes

pytestmark = [pytest.mark.integration, pytest.mark.isolated]
MART = "fct_orders"  # any name: the test's own table in the marts schema
FIRST, SECOND = date(2030, 1, 1), date(2030, 1, 2)


@pytest.fixture(scope="module")
def lake_settings(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with isolated_database(base_settings, tmp_path_factory.mktemp("maintenance")) as settings:
        yield settings


def files(settings: Settings) -> int:
    with lake(settings, read_only=True) as con:
        row = con.execute(
            "select count(*) from ducklake_list_files('lake', ?, schema => 'analytics')", [MART]
        ).fetchone()
    assert row is not None
    return int(row[0])


def write(settings: Settings, batches: int, first_id: int) -> int:
    """`batches` commits of 1,000 rows each (each its own Parquet file); returns the head."""
    with lake(settings) as con:
        con.execute("create schema if not exists analytics")
        con.execute(f"create table if not exists analytics.{MART} (id bigint, amount decimal(12, 2))")
        for n in range(batches):
            start = first_id + n * 1000
            con.execute(
                f"insert into analytics.{MART} select range, range / 100 from range({start}, {start + 1000})"
            )
        return current_version(con)


def test_compaction_merges_files_keeps_rows_and_is_not_a_runs_write(lake_settings: Settings) -> None:
    version = write(lake_settings, 8, 0)
    published = publish_snapshot(
        lake_settings, FIRST, run_id="m__first", lake_snapshot_id=version, models=[MART]
    )
    before = files(lake_settings)
    assert before >= 8

    result = maintenance.compact(lake_settings)

    assert files(lake_settings) < before
    assert result["records_processed"] >= 8 and f"analytics.{MART}" in result["tables"]
    with lake(lake_settings, read_only=True) as con:
        assert mart_fingerprints(con, [MART]) == published.marts  # same rows, fewer files
        assert not unpublished_snapshots(con, version)  # the next run will not restore over it


def test_expiry_keeps_what_may_be_read_and_cleanup_frees_the_rest(
    lake_settings: Settings, tmp_path: Path
) -> None:
    # Commits between publications (a build's intermediate snapshots), then a second publication.
    with lake(lake_settings) as con:
        con.execute(f"delete from analytics.{MART} where id < 4000")
    version = write(lake_settings, 3, 100_000)
    second = publish_snapshot(
        lake_settings, SECOND, run_id="m__second", lake_snapshot_id=version, models=[MART]
    )
    first = export_published(lake_settings, FIRST, tmp_path / "before", models=[MART])

    with lake(lake_settings, read_only=True) as con:
        expirable = maintenance.expirable_snapshots(lake_settings, con)
    assert expirable and version not in expirable
    result = maintenance.expire_snapshots(lake_settings)
    assert result["expired"] == len(expirable)
    bytes_before = lake_bytes(lake_settings)
    cleaned = maintenance.cleanup_files(lake_settings)
    assert cleaned["expired_files_deleted"] > 0
    assert lake_bytes(lake_settings) < bytes_before

    # Both published days are still exportable, as they were published.
    assert export_published(lake_settings, FIRST, tmp_path / "after", models=[MART]).keys() == first.keys()
    with lake(lake_settings, version=second.lake_snapshot_id) as con:
        assert mart_fingerprints(con, [MART]) == second.marts

    # Past retention, a day that is no longer the newest publication is expired too, and says so.
    with psycopg.connect(lake_settings.postgres_conninfo()) as conn:
        conn.execute(
            "update ops.published_snapshots set published_at = now() - interval '400 days' where run_id = 'm__first'"
        )
    assert maintenance.expire_snapshots(lake_settings)["expired"] >= 1
    maintenance.cleanup_files(lake_settings)
    with pytest.raises(PublishError, match="DRP_LAKE_SNAPSHOT_RETENTION_DAYS"):
        export_published(lake_settings, FIRST, tmp_path / "expired", models=[MART])
    with lake(lake_settings, version=second.lake_snapshot_id) as con:
        assert mart_fingerprints(con, [MART]) == second.marts
