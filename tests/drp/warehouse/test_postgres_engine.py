"""Write-audit-publish on the Postgres engine (DRP_WAREHOUSE_ENGINE=postgres): dbt builds in
Postgres, the gate freezes the head into a snapshot and validates it, publish records it, and a
run that fails its gate changes nothing published while the next run builds on exactly what was.

One story per module, in order: an isolated Postgres database, a small generator of its own
(300 orders a day), days from EPOCH. The same tasks as the DAG's, on the other engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from drp import tasks
from drp.lake import maintenance
from drp.publish.layout import MART_SCHEMA
from drp.publish.snapshots import (
    PublishError,
    export_published,
    mart_fingerprints,
    publication,
    published_lake,
)
from drp.quality.errors import QualityGateError
from drp.settings import Settings, load_settings
from drp.storage.object_store import client
from drp.transform.dbt_runner import run_dbt
from drp.transform.manifest import published_marts
from drp.warehouse import descends_problem, identity, open_warehouse, postgres, warehouse
from drp_domain import ENTITIES
from drp_generator.config import GeneratorConfig
from tests.drp.transform.dbt_helpers import isolated_database
from tests.drp_generator.served import serve

pytestmark = [pytest.mark.integration, pytest.mark.isolated]

EPOCH = date(2026, 9, 1)
MARTS = published_marts()


def day(offset: int) -> datetime:
    return datetime(EPOCH.year, EPOCH.month, EPOCH.day, tzinfo=UTC) + timedelta(days=offset)


@dataclass
class Story:
    settings: Settings
    tmp: Path


@pytest.fixture(scope="module")
def story(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    tmp = tmp_path_factory.mktemp("postgres_engine")
    config = GeneratorConfig(
        seed=13, orders_per_day=300, epoch=EPOCH, api_key=base_settings.generator_api_key.get_secret_value()
    )
    with serve(config) as served, isolated_database(base_settings, tmp / "state") as isolated:
        host, port = served.url.removeprefix("http://").split(":")
        yield Story(
            load_settings(
                warehouse_engine="postgres",
                postgres_db=isolated.postgres_db,
                lake_catalog_db=isolated.lake_catalog_db,
                lake_data_prefix=isolated.lake_data_prefix,
                state_dir=str(tmp / "state"),
                generator_host=host,
                generator_port=int(port),
                generator_orders_per_day=300,
                source_history_start=EPOCH.isoformat(),
            ),
            tmp,
        )


def run_day(story: Story, offset: int, faults: dict[str, str] | None = None) -> dict[str, Any]:
    """Load, prepare and build one day as the DAG does; returns prepare's result."""
    settings = story.settings
    loads = [
        tasks.ingest(e.value, day(offset), day(offset + 1), faults=faults, settings=settings)
        for e in ENTITIES
    ]
    prepared = tasks.prepare_warehouse(day(offset), day(offset + 1), loads, settings=settings)
    tasks.transform(*tasks.build_interval(prepared), settings=settings)
    return prepared


def gate(story: Story, run_id: str, offset: int, prepared: dict[str, Any]) -> dict[str, Any]:
    built = tasks.build_interval(prepared)
    return tasks.quality_gate(run_id, day(offset), day(offset + 1), built=built, settings=story.settings)


def head_marts(settings: Settings) -> dict[str, dict[str, Any]]:
    with warehouse(settings, read_only=True) as con:
        return mart_fingerprints(con, MARTS)


def schemas(settings: Settings) -> set[str]:
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        return {str(r[0]) for r in conn.execute("select nspname from pg_namespace").fetchall()}


def test_a_day_is_built_in_postgres_gated_on_a_frozen_snapshot_and_published(story: Story) -> None:
    settings = story.settings
    prepared = run_day(story, 1)
    assert prepared["published_lake_snapshot"] is None
    # dbt built the warehouse in Postgres, next to raw: the lake holds nothing.
    assert {"staging", "intermediate", "analytics"} <= schemas(settings)
    checked = gate(story, "pg__day1", 1, prepared)
    snapshot = checked["lake_snapshot_id"]
    assert {postgres.snapshot_schema(snapshot, s) for s in postgres.WAREHOUSE_SCHEMAS} <= schemas(settings)
    assert checked["reconciliation"]["lake_snapshot_id"] == snapshot
    # A retried gate validates the same snapshot: nothing wrote the head since it was frozen.
    assert postgres.snapshot_head(settings) == snapshot

    result = tasks.publish("pg__day1", day(1), snapshot, settings=settings, end=day(2))
    assert result["lake_snapshot_id"] == snapshot and result["rows"]["fct_orders"] > 200
    pub = publication(settings)
    assert pub.lake_snapshot_id == snapshot and pub.marts == head_marts(settings)
    assert identity(settings) == f"postgres {settings.postgres_db}"


def test_the_lake_publishes_the_same_marts_from_the_same_raw(story: Story) -> None:
    """The engines agree: day 1 built, gated and published on the lake from the same raw batches
    gives the Postgres publication's marts, row for row (same types, same row hashes)."""
    on_postgres = publication(story.settings, day(1).date())
    lake = story.settings.model_copy(update={"warehouse_engine": "lake"})
    prepared = tasks.prepare_warehouse(day(1), day(2), [], settings=lake)
    tasks.transform(*tasks.build_interval(prepared), settings=lake)
    built = tasks.build_interval(prepared)
    checked = tasks.quality_gate("pg__day1_lake", day(1), day(2), built=built, settings=lake)
    tasks.publish("pg__day1_lake", day(1), checked["lake_snapshot_id"], settings=lake, end=day(2))
    on_lake = publication(lake, day(1).date())
    assert identity(lake) != identity(story.settings)
    assert on_lake.marts == on_postgres.marts


def test_a_failed_gate_changes_nothing_published_and_the_next_run_restores_the_head(story: Story) -> None:
    settings = story.settings
    before = publication(settings)
    prepared = run_day(story, 3, faults={"fault_future": "0.05"})
    with pytest.raises(QualityGateError, match="order_created_at_not_in_future"):
        gate(story, "pg__day3", 3, prepared)
    # The head holds the failed run's rows; readers of the publication never see them.
    assert head_marts(settings) != before.marts
    with published_lake(settings) as (found, con):
        assert found == before and mart_fingerprints(con, MARTS) == before.marts

    # The next run's prepare puts the head back to the publication before it builds.
    again = tasks.prepare_warehouse(day(2), day(3), [], settings=settings)
    assert again["published_lake_snapshot"] == before.lake_snapshot_id and again["tables_restored"]
    assert head_marts(settings) == before.marts


def test_a_second_day_publishes_and_the_first_stays_readable_as_published(story: Story) -> None:
    settings = story.settings
    first = publication(settings, day(1).date())
    prepared = run_day(story, 2)
    checked = gate(story, "pg__day2", 2, prepared)
    tasks.publish("pg__day2", day(2), checked["lake_snapshot_id"], settings=settings, end=day(3))
    second = publication(settings, day(2).date())
    assert second.lake_snapshot_id > first.lake_snapshot_id and second.marts != first.marts

    # Day 1 as published, exported from its own snapshot while the head has moved on.
    files = export_published(settings, day(1).date(), story.tmp / "exports")
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"create schema {MART_SCHEMA}")
        for model, path in files.items():
            con.execute(
                f"create view {MART_SCHEMA}.{model} as from read_parquet('{path}', hive_partitioning = false)"
            )
        assert {m: f["rows"] for m, f in mart_fingerprints(con, MARTS).items()} == {
            m: f["rows"] for m, f in first.marts.items()
        }
    # And to the object store, as `drp export --out s3://…` does.
    prefix = f"tests/{settings.postgres_db}/exports"
    s3 = client(settings)
    try:
        uploaded = export_published(settings, day(1).date(), f"s3://{settings.s3_bucket_analytics}/{prefix}")
        for path in uploaded.values():
            key = path.removeprefix(f"s3://{settings.s3_bucket_analytics}/")
            assert (s3.stat_object(settings.s3_bucket_analytics, key).size or 0) > 0, path
    finally:
        for obj in s3.list_objects(settings.s3_bucket_analytics, prefix=f"{prefix}/", recursive=True):
            if obj.object_name:
                s3.remove_object(settings.s3_bucket_analytics, obj.object_name)


def test_a_snapshot_built_after_a_restore_past_the_publication_is_refused(story: Story) -> None:
    settings = story.settings
    first = publication(settings, day(1).date())
    second = publication(settings, day(2).date())
    # Between day 1's snapshot and day 2's, the head was restored to day 1: day 2 descends from it.
    assert descends_problem(settings, first.lake_snapshot_id, second.lake_snapshot_id) is None
    # Had another snapshot been published in between (day 3's, whose gate failed), day 2's would
    # lack its writes and is refused.
    kept = {first.lake_snapshot_id, second.lake_snapshot_id}
    [failed] = [v for v in postgres.live_snapshots(settings) if v not in kept]
    assert first.lake_snapshot_id < failed < second.lake_snapshot_id
    problem = descends_problem(settings, failed, second.lake_snapshot_id)
    assert problem is not None and "rerun the day" in problem


def test_maintenance_expires_the_snapshots_no_publication_needs(story: Story) -> None:
    settings = story.settings
    first = publication(settings, day(1).date())
    second = publication(settings, day(2).date())
    kept = {first.lake_snapshot_id, second.lake_snapshot_id}
    unpublished = [
        v for v in postgres.live_snapshots(settings) if v not in kept and v < second.lake_snapshot_id
    ]
    assert unpublished  # day 3's failed gate froze one

    assert maintenance.expire_snapshots(settings)["expired"] == len(unpublished)
    assert postgres.live_snapshots(settings) == sorted(kept)
    assert not {postgres.snapshot_schema(v, "analytics") for v in unpublished} & schemas(settings)
    with pytest.raises(LookupError, match="expired"):
        open_warehouse(settings, version=unpublished[0])
    with pytest.raises(LookupError, match="is gone"):
        postgres.restore_head(settings, unpublished[0])
    # Published days stay readable; compaction and file cleanup have nothing to do here.
    with published_lake(settings, day(1).date()) as (_, con):
        assert mart_fingerprints(con, MARTS) == first.marts
    assert maintenance.compact(settings)["records_processed"] == 0
    with pytest.raises(PublishError, match="nothing published for"):
        publication(settings, day(9).date())


def test_any_dbt_build_outside_a_run_marks_the_head_for_the_next_gate_and_restore(story: Story) -> None:
    """A dbt command on the `postgres` target that no run prepared (by hand, a tool) writes the
    head: the next gate freezes it anew, and the next run puts the published state back first."""
    settings = story.settings
    published = publication(settings)
    assert postgres.snapshot_head(settings) == published.lake_snapshot_id  # the head is clean at it
    run_dbt(settings, "run", select="dim_date")
    frozen = postgres.snapshot_head(settings)
    assert frozen > published.lake_snapshot_id
    again = tasks.prepare_warehouse(day(4), day(5), [], settings=settings)
    assert "analytics.dim_date" in again["tables_restored"]
