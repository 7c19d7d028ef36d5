"""Publication records a validated lake snapshot; exports read a published day back as files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import psycopg
import pytest
from typer.testing import CliRunner

from drp.lake.connection import current_version, lake
from drp.lake.rollback import restore_head
from drp.publish.snapshots import (
    PublishError,
    export_published,
    mart_fingerprints,
    publication,
    publications,
    publish_snapshot,
)
from drp.settings import Settings
from drpctl.cli import app
from tests.drp.transform.dbt_helpers import isolated_database

pytestmark = [pytest.mark.integration, pytest.mark.isolated]
MARTS = ["fct_orders", "dim_products"]  # the test's own tables in the marts schema
MONDAY, TUESDAY = date(2031, 3, 3), date(2031, 3, 4)


@pytest.fixture(scope="module")
def own(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with isolated_database(base_settings, tmp_path_factory.mktemp("publish")) as settings:
        yield settings


def write(settings: Settings, sql: str) -> int:
    with lake(settings) as con:
        con.execute("create schema if not exists analytics")
        con.execute(sql)
        return current_version(con)


def test_publish_records_the_snapshot_with_rows_and_checksums_once_per_run(own: Settings) -> None:
    write(
        own,
        "create table analytics.fct_orders as select range as order_id, range * 2 as amount from range(500)",
    )
    version = write(own, "create table analytics.dim_products as select range as product_id from range(20)")

    result = publish_snapshot(own, MONDAY, run_id="p__monday", lake_snapshot_id=version, models=MARTS)

    assert result.lake_snapshot_id == version and result.rows == {"fct_orders": 500, "dim_products": 20}
    again = publish_snapshot(own, MONDAY, run_id="p__monday", lake_snapshot_id=version, models=MARTS)
    assert again.marts == result.marts  # a retried task changes nothing
    with psycopg.connect(own.postgres_conninfo()) as conn:
        row = conn.execute(
            "select count(*) from ops.published_snapshots where run_id = 'p__monday'"
        ).fetchone()
    assert row == (1,)
    # The checksum is of the content: the same rows in another order, file or table agree.
    with lake(own, version=version) as con:
        con.execute("attach ':memory:' as scratch")
        con.execute("create schema scratch.analytics")
        con.execute(
            "create table scratch.analytics.fct_orders as from lake.analytics.fct_orders order by random()"
        )
        con.execute("use scratch")
        assert mart_fingerprints(con, ["fct_orders"])["fct_orders"] == result.marts["fct_orders"]


def test_a_snapshot_older_than_the_published_one_is_refused(own: Settings) -> None:
    published = publication(own, MONDAY)
    with pytest.raises(PublishError, match="older than the published snapshot"):
        publish_snapshot(
            own, TUESDAY, run_id="p__stale", lake_snapshot_id=published.lake_snapshot_id - 1, models=MARTS
        )
    assert publication(own).run_id == "p__monday"


def test_export_reads_each_day_as_it_was_published(own: Settings, tmp_path: Path) -> None:
    version = write(own, "insert into analytics.fct_orders select range, 0 from range(500, 600)")
    publish_snapshot(own, TUESDAY, run_id="p__tuesday", lake_snapshot_id=version, models=MARTS)
    assert [p.snapshot_date for p in publications(own)] == [MONDAY, TUESDAY]

    files = export_published(own, MONDAY, tmp_path, models=["fct_orders"])
    assert files == {"fct_orders": f"{tmp_path}/fct_orders/snapshot_date={MONDAY}/fct_orders.parquet"}
    with duckdb.connect() as con:
        assert con.execute(f"select count(*), max(order_id) from '{files['fct_orders']}'").fetchone() == (
            500,
            499,
        )
    with pytest.raises(PublishError, match="not a published mart: dim_nothing"):
        export_published(own, MONDAY, tmp_path, models=["dim_nothing"])
    with pytest.raises(PublishError, match="nothing published for 2031-03-05"):
        export_published(own, date(2031, 3, 5), tmp_path)


def test_cli_lists_publications_and_exports_with_one_line_errors(own: Settings, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DRP_POSTGRES_DB": own.postgres_db,
        "DRP_LAKE_CATALOG_DB": own.lake_catalog_db,
        "DRP_LAKE_DATA_PREFIX": own.lake_data_prefix,
        "DRP_STATE_DIR": str(own.state_dir),
    }
    runner = CliRunner()
    listed = runner.invoke(app, ["snapshot", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "2031-03-03" in listed.output and "p__tuesday" in listed.output

    out = tmp_path / "cli"
    exported = runner.invoke(
        app, ["export", "--date", "2031-03-04", "--mart", "fct_orders", "--out", str(out)], env=env
    )
    assert exported.exit_code == 0, exported.output
    assert (out / "fct_orders" / "snapshot_date=2031-03-04" / "fct_orders.parquet").is_file()

    missing = runner.invoke(app, ["export", "--date", "2031-03-09"], env=env)
    assert missing.exit_code == 1
    assert missing.output.strip().splitlines() == [
        "error: nothing published for 2031-03-09: see `drp snapshot list`"
    ]
    bad = runner.invoke(app, ["export", "--date", "yesterday"], env=env)
    assert bad.exit_code == 1 and "is not a date" in bad.output and "Traceback" not in bad.output


def test_a_snapshot_built_after_a_restore_past_a_newer_publication_is_refused(own: Settings) -> None:
    """Runs A and B overlap: B restores the head while A waits to publish; A publishes; B's
    snapshot lacks A's writes, and publishing it would take consumers back in time."""
    published = publication(own)
    a_validated = write(own, "insert into analytics.fct_orders select range, 1 from range(600, 700)")
    restore_head(own, published.lake_snapshot_id)  # run B's prepare
    b_validated = write(own, "insert into analytics.fct_orders select range, 2 from range(700, 710)")

    publish_snapshot(own, date(2031, 3, 6), run_id="p__a", lake_snapshot_id=a_validated, models=MARTS)
    with pytest.raises(PublishError, match=f"undid the published snapshot {a_validated}"):
        publish_snapshot(own, date(2031, 3, 7), run_id="p__b", lake_snapshot_id=b_validated, models=MARTS)
    assert publication(own).run_id == "p__a"
    # The next run restores to A's publication and builds on it: that snapshot publishes.
    restore_head(own, a_validated)
    rebuilt = write(own, "insert into analytics.fct_orders select range, 2 from range(700, 710)")
    assert publish_snapshot(
        own, date(2031, 3, 7), run_id="p__b2", lake_snapshot_id=rebuilt, models=MARTS
    ).rows == {
        "fct_orders": 710,
        "dim_products": 20,
    }


def test_publications_belong_to_their_lake(own: Settings) -> None:
    """Snapshot ids are numbers within one lake: another lake sees none of this lake's days."""
    assert publications(own)
    other = own.model_copy(update={"lake_data_prefix": f"{own.lake_data_prefix}-other"})
    assert publications(other) == []
    with pytest.raises(PublishError, match="nothing published yet"):
        publication(other)
