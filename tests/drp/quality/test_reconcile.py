"""Reconciliation: raw's live batches, the warehouse and the published snapshot agree for a day.

One day is loaded from the real generator into a database and lake of their own and built by
dbt; the check passes on it, then names each planted disagreement: a staging row of a batch that
is not live, an order missing from the fact table, and a publication of another snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from drp.ingest.loader import load_interval
from drp.lake.connection import current_version, lake
from drp.publish.snapshots import publish_snapshot
from drp.quality.reconcile import ReconciliationError, reconcile_interval
from drp.settings import Settings
from drp.storage.object_store import client as s3_client
from drp.transform import run_dbt
from drp_generator.config import GeneratorConfig
from tests.drp.transform.dbt_helpers import connect, isolated_database
from tests.drp_generator.served import serve

pytestmark = [pytest.mark.integration, pytest.mark.isolated]

EPOCH = date(2026, 10, 1)
DAY = datetime(2026, 10, 2, tzinfo=UTC)
NEXT = DAY + timedelta(days=1)


@dataclass(frozen=True)
class Built:
    settings: Settings
    snapshot: int  # the lake snapshot of the clean build


@pytest.fixture(scope="module")
def built(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    config = GeneratorConfig(
        seed=3, orders_per_day=150, epoch=EPOCH, api_key=base_settings.generator_api_key.get_secret_value()
    )
    state = tmp_path_factory.mktemp("reconcile")
    with serve(config) as served, isolated_database(base_settings, state) as settings:
        try:
            for entity in ("customers", "products"):
                load_interval(settings, entity, DAY - timedelta(days=1), DAY, api_base_url=served.url)
            for entity in ("customers", "products", "orders"):
                load_interval(settings, entity, DAY, NEXT, api_base_url=served.url)
            result = run_dbt(
                settings, "build", data_interval_start=DAY - timedelta(days=1), data_interval_end=NEXT,
                target_path=state / "target",
            )  # fmt: skip
            assert result.success, result.summary()
            with lake(settings, read_only=True) as conn:
                yield Built(settings, current_version(conn))
        finally:
            with connect(settings) as conn:
                keys = conn.execute(
                    "select archive_key from ops.ingest_batches where archive_key is not null"
                )
                s3 = s3_client(settings)
                for (key,) in keys.fetchall():
                    with suppress(Exception):
                        s3.remove_object(settings.s3_bucket_raw, key)


def test_a_clean_day_reconciles_and_so_does_its_publication(built: Built) -> None:
    report = reconcile_interval(built.settings, DAY, NEXT, lake_snapshot_id=built.snapshot)
    assert report.passed
    orders = report.counts["orders"]
    assert orders["raw_live"] > 100 and orders["staging"] == orders["raw_live"]
    assert orders["raw_fingerprint"] == orders["staging_fingerprint"]

    publish_snapshot(built.settings, DAY.date(), run_id="reconcile-clean", lake_snapshot_id=built.snapshot)
    after = reconcile_interval(built.settings, DAY, NEXT, lake_snapshot_id=built.snapshot, published=True)
    assert after.published_snapshot_id == built.snapshot


def test_stale_rows_and_another_published_snapshot_are_named(built: Built) -> None:
    # A stale staging row (a batch the registry does not call live) and an order the fact lost.
    with lake(built.settings) as conn:
        conn.execute(
            "insert into staging.orders select 'O-STALE', customer_id, status, currency, amount, "
            "order_created_at, updated_at, ingested_at, uuid(), source_system, batch_interval_start, "
            "batch_interval_end, record_hash from staging.orders where batch_interval_start = ? limit 1",
            [DAY],
        )
        row = conn.execute(
            "select order_id from analytics.fct_orders where batch_interval_start = ? order by order_id limit 1",
            [DAY],
        ).fetchone()
        assert row is not None
        lost = row[0]
        conn.execute("delete from analytics.fct_orders where order_id = ?", [lost])
        planted = current_version(conn)

    with pytest.raises(ReconciliationError) as caught:
        reconcile_interval(built.settings, DAY, NEXT, lake_snapshot_id=planted)
    lines = caught.value.report.disagreements
    message = str(caught.value)
    assert any("staging.orders holds rows of batches that are not live" in line for line in lines), message
    assert any(
        "staging.orders holds 1 orders of the interval" in line and "O-STALE" in line for line in lines
    )
    assert any("missing from analytics.fct_orders" in line and lost in line for line in lines), message
    assert all("\n" not in line for line in lines)

    # The day is still published at the clean snapshot: the publication differs from the build.
    with pytest.raises(ReconciliationError) as caught:
        reconcile_interval(built.settings, DAY, NEXT, lake_snapshot_id=planted, published=True)
    published = [line for line in caught.value.report.disagreements if line.startswith("published:")]
    assert published == [
        f"published: the publication of {DAY.date().isoformat()} is lake snapshot {built.snapshot}, "
        f"not the reconciled snapshot {planted}"
    ]

    # Publishing the planted snapshot makes the published data itself disagree with raw.
    publish_snapshot(built.settings, DAY.date(), run_id="reconcile-planted", lake_snapshot_id=planted)
    with pytest.raises(ReconciliationError) as caught:
        reconcile_interval(built.settings, DAY, NEXT, lake_snapshot_id=planted, published=True)
    published = [line for line in caught.value.report.disagreements if line.startswith("published:")]
    assert any("O-STALE" in line for line in published), published
    assert any(lost in line for line in published), published
