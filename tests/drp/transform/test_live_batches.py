"""The warehouse follows raw's live batches (finding 1's "silent success").

A day loads cleanly and is built; the day is loaded again with a legitimate, smaller batch
(the generator quarantines ~10% of its records, under the held threshold), which replaces the
first one while raw keeps the first one's rows; an incremental build of that day must leave the
warehouse equal to raw's live batches: an order only the superseded batch held is gone from
staging and every mart, an order the new batch no longer updates falls back to its previous
live version, and the day's metrics count what is live. A later day loaded meanwhile, but not
built yet, stays out: a rerun of an earlier day builds raw as of that day's end. Run on both dbt
targets.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from drp.ingest.loader import load_interval
from drp.lake.connection import current_version, lake
from drp.quality.reconcile import reconcile_interval
from drp.settings import Settings
from drp.storage.object_store import client as s3_client
from drp.transform import run_dbt
from drp.transform.dbt_runner import Target
from drp_generator.config import GeneratorConfig
from tests.drp.transform.dbt_helpers import connect, fetch_rows, isolated_database
from tests.drp_generator.served import serve

pytestmark = [pytest.mark.integration, pytest.mark.isolated]

EPOCH = date(2026, 10, 1)

# The newest version of each key among raw's live batches before an interval's end, computed in
# Postgres without dbt.
LIVE_ORDERS = """
    select distinct on (o.source_order_id) o.source_order_id, o.status, o.amount, o.updated_at,
        o.order_created_at
    from raw.orders_raw as o
    join ops.ingest_batches as b on b.batch_id = o.batch_id and b.status = 'succeeded'
    where b.data_interval_start < %(end)s
    order by o.source_order_id, o.updated_at desc, o.ingested_at desc
"""
LIVE_CUSTOMER_VERSIONS = """
    select distinct c.source_customer_id, c.updated_at
    from raw.customers_raw as c
    join ops.ingest_batches as b on b.batch_id = c.batch_id and b.status = 'succeeded'
    where b.data_interval_start < %(end)s
"""


def _day(offset: int) -> datetime:
    return datetime(EPOCH.year, EPOCH.month, EPOCH.day, tzinfo=UTC) + timedelta(days=offset)


@pytest.fixture(scope="module")
def generator_url(base_settings: Settings) -> Iterator[str]:
    config = GeneratorConfig(
        seed=11, orders_per_day=200, epoch=EPOCH, api_key=base_settings.generator_api_key.get_secret_value()
    )
    with serve(config) as served:
        yield served.url


def _live_batch(settings: Settings, entity: str, start: datetime) -> Any:
    with connect(settings) as conn:
        row = conn.execute(
            "select batch_id from ops.ingest_batches where entity = %s and data_interval_start = %s "
            "and status = 'succeeded'",
            [entity, start],
        ).fetchone()
    assert row is not None, f"no live {entity} batch for {start:%Y-%m-%d}"
    return row[0]


def _warehouse(settings: Settings, target: Target, query: str) -> list[tuple[Any, ...]]:
    if target == "postgres":
        with connect(settings) as conn:
            return fetch_rows(conn.execute(query).fetchall())
    with lake(settings, read_only=True) as conn:
        return fetch_rows(conn.execute(query).fetchall())


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_rerun_with_a_smaller_batch_leaves_no_superseded_row(
    base_settings: Settings, transform_state_dir: Path, tmp_path: Path, generator_url: str, target: Target
) -> None:
    with isolated_database(base_settings, transform_state_dir) as settings:
        try:
            for entity in ("customers", "products"):
                load_interval(settings, entity, _day(0), _day(1), api_base_url=generator_url)
            for offset in (1, 2):
                for entity in ("customers", "products", "orders"):
                    load_interval(
                        settings, entity, _day(offset), _day(offset + 1), api_base_url=generator_url
                    )
            result = run_dbt(
                settings, "build", target=target, data_interval_start=_day(0), data_interval_end=_day(3),
                target_path=tmp_path / "target",
            )  # fmt: skip
            assert result.success and not result.tests_failed, result.summary()
            before = {
                row[0] for row in _warehouse(settings, target, "select order_id from analytics.fct_orders")
            }

            # Day 3 arrives (live, not built yet): later versions of day 2's orders.
            for entity in ("customers", "products", "orders"):
                load_interval(settings, entity, _day(3), _day(4), api_base_url=generator_url)

            # Day 2 again: a legitimate batch that quarantines ~10% of the orders and customers.
            replaced = [_live_batch(settings, e, _day(2)) for e in ("orders", "customers")]
            for entity in ("customers", "orders"):
                batch = load_interval(
                    settings, entity, _day(2), _day(3), api_base_url=generator_url, faults={"invalid": "0.1"}
                )
                assert batch.quarantined > 0 and batch.replaced, batch.summary()
            with connect(settings) as conn:  # raw is append-only: the replaced rows stay
                kept = conn.execute(
                    "select count(*) from raw.orders_raw where batch_id = any(%s)", [replaced]
                ).fetchone()
            assert kept is not None and kept[0] > 0

            with connect(settings) as conn:
                live = fetch_rows(conn.execute(LIVE_ORDERS, {"end": _day(3)}).fetchall())
                live_versions = fetch_rows(conn.execute(LIVE_CUSTOMER_VERSIONS, {"end": _day(3)}).fetchall())
                later = conn.execute(LIVE_ORDERS, {"end": _day(4)}).fetchall()
            newest = {row[0]: row[3] for row in fetch_rows(later)}
            assert any(newest[row[0]] != row[3] for row in live), "day 3 should update earlier orders"
            live_ids = {row[0] for row in live}
            vanished = before - live_ids
            assert vanished, "the smaller batch should have left some orders with no live version"

            result = run_dbt(
                settings, "build", target=target, data_interval_start=_day(2), data_interval_end=_day(3),
                target_path=tmp_path / "target",
            )  # fmt: skip
            assert result.success and not result.tests_failed, result.summary()

            staged = _warehouse(
                settings, target,
                "select source_order_id, status, amount, updated_at, order_created_at from staging.orders",
            )  # fmt: skip
            assert {row[0] for row in staged} & vanished == set()
            assert staged == live, (
                "staging.orders is not the newest live version (before day 3) of every order"
            )

            facts = _warehouse(
                settings, target, "select order_id, status, amount, updated_at, order_created_at from analytics.fct_orders"
            )  # fmt: skip
            assert facts == live, "fct_orders does not follow raw's live batches"
            line_orders = {
                row[0] for row in _warehouse(settings, target, "select distinct order_id from analytics.fct_order_lines")
            }  # fmt: skip
            assert line_orders & vanished == set()
            assert line_orders <= live_ids
            aggregated = {
                row[0]
                for row in _warehouse(settings, target, "select order_id from intermediate.int_order_lines_aggregated")
            }  # fmt: skip
            assert aggregated & vanished == set()

            per_day: dict[date, int] = {}
            for row in live:
                day = datetime.fromtimestamp(row[4], UTC).date()
                per_day[day] = per_day.get(day, 0) + 1
            metrics = _warehouse(
                settings, target, "select order_date, total_orders from analytics.daily_order_metrics"
            )
            assert dict(metrics) == per_day, "daily_order_metrics counts orders that are not live"

            versions = _warehouse(
                settings, target, "select source_customer_id, updated_at from staging.customer_versions"
            )  # fmt: skip
            assert versions == live_versions, "staging.customer_versions keeps versions no live batch has"

            if target == "duckdb":  # the reconciliation the gate runs agrees (it reads the lake)
                with lake(settings, read_only=True) as conn:
                    snapshot = current_version(conn)
                reconcile_interval(settings, _day(2), _day(3), lake_snapshot_id=snapshot)
        finally:
            _remove_archives(settings)


def _remove_archives(settings: Settings) -> None:
    with suppress(psycopg.Error), connect(settings) as conn:
        keys = conn.execute(
            "select archive_key from ops.ingest_batches where archive_key is not null"
        ).fetchall()
        s3 = s3_client(settings)
        for (key,) in keys:
            with suppress(Exception):
                s3.remove_object(settings.s3_bucket_raw, key)
