"""dbt over raw filled by the real ingestion from the real generator API (with data faults).

The generator serves duplicates, late records (delivered 1-3 days after their `updated_at`)
and invalid records (quarantined by the ingestion); run interval by interval, dbt must build,
pass every test (late customers/products only warn, as inferred members), and leave in
staging exactly the newest version of every order in raw.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from drp.ingest.loader import load_interval
from drp.lake.connection import lake
from drp.settings import Settings
from drp.storage.object_store import client as s3_client
from drp.transform import run_dbt
from drp_generator.config import GeneratorConfig
from tests.drp.transform.dbt_helpers import connect, fetch_rows, isolated_database
from tests.drp_generator.served import serve

pytestmark = [pytest.mark.integration, pytest.mark.isolated]

EPOCH = date(2026, 10, 1)  # customers and products from the epoch, orders from the day after
FAULTS = {"dupes": "0.02", "late": "0.05", "invalid": "0.01"}


def _day(offset: int) -> datetime:
    return datetime(EPOCH.year, EPOCH.month, EPOCH.day, tzinfo=UTC) + timedelta(days=offset)


def _answers(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


@pytest.fixture(scope="module")
def generator_url(base_settings: Settings) -> Iterator[str]:
    config = GeneratorConfig(
        seed=5, orders_per_day=300, epoch=EPOCH, api_key=base_settings.generator_api_key.get_secret_value()
    )
    with serve(config) as served:
        yield served.url


def test_interval_builds_over_ingested_raw(
    base_settings: Settings, transform_state_dir: Path, tmp_path: Path, generator_url: str
) -> None:
    if not _answers(base_settings.s3_host, base_settings.s3_port):
        pytest.fail("the object store (ingestion archives) does not answer: run `make up`")
    try:
        s3_client(base_settings).bucket_exists(base_settings.s3_bucket_raw)
    except Exception as exc:  # noqa: BLE001 - any failure means the archives cannot be written
        pytest.fail(f"the object store refuses the platform's credentials: {exc}")

    with isolated_database(base_settings, transform_state_dir) as settings:
        try:
            for entity in ("customers", "products"):
                load_interval(settings, entity, _day(0), _day(1), api_base_url=generator_url, faults=FAULTS)
            for offset in (1, 2, 3):
                for entity in ("customers", "products", "orders"):
                    load_interval(
                        settings,
                        entity,
                        _day(offset),
                        _day(offset + 1),
                        api_base_url=generator_url,
                        faults=FAULTS,
                    )
            with connect(settings) as conn:
                counts = conn.execute(
                    "select (select count(*) from raw.orders_raw), "
                    "(select count(distinct source_order_id) from raw.orders_raw), "
                    "(select count(*) from raw.orders_rejected)"
                ).fetchone()
            assert counts is not None and counts[0] > counts[1] > 500  # versions and re-deliveries

            # A first build up to day 2, then one incremental run over days 2 and 3.
            for start, end in ((_day(0), _day(2)), (_day(2), _day(4))):
                result = run_dbt(
                    settings, "build", data_interval_start=start, data_interval_end=end,
                    target_path=tmp_path / "target",
                )  # fmt: skip
                assert result.success and not result.tests_failed, result.tests_failed
                assert "assert_staging_orders_reconcile_with_raw" in result.tests_passed

            # staging.orders is exactly the newest version of every order raw holds, computed
            # here independently of dbt.
            with connect(settings) as conn:
                expected = conn.execute(
                    "select distinct on (source_order_id) source_order_id, status, amount, updated_at "
                    "from raw.orders_raw order by source_order_id, updated_at desc, ingested_at desc"
                ).fetchall()
            with lake(settings, read_only=True) as warehouse:
                staged = warehouse.execute(
                    "select source_order_id, status, amount, updated_at from staging.orders"
                ).fetchall()
            assert fetch_rows(staged) == fetch_rows(expected)
        finally:
            with connect(settings) as conn:
                keys = conn.execute(
                    "select archive_key from ops.ingest_batches where archive_key is not null"
                ).fetchall()
            s3 = s3_client(settings)
            for (key,) in keys:
                with suppress(Exception):
                    s3.remove_object(settings.s3_bucket_raw, key)
