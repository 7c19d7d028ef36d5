"""dbt build over hand-made raw data, on DuckDB and on Postgres, full and incremental.

One isolated database holds the three-day story of `raw_fixtures`; the DuckDB builds go to
lakes of their own (`tests.isolated_lake`): the module's lake holds the full build, the
incremental story builds a second lake from the same raw. dbt runs through
`drp.transform.run_dbt` (a subprocess per invocation).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from drp.lake.connection import current_version, lake
from drp.settings import Settings
from drp.transform import DbtError, DbtResult, generate_docs, run_dbt
from drp.transform.dbt_runner import DBT_MANIFEST_PATH
from tests.isolated_lake import isolated_lake

from .dbt_helpers import (
    checksum,
    connect,
    isolated_database,
    lake_snapshot,
    postgres_snapshot,
)
from .raw_fixtures import (
    DAY1,
    DAY2,
    DAY3,
    DAY4,
    EXPECTED_ORDERS_PER_DATE,
    EXPECTED_STATUSES,
    EXPECTED_TOTAL_AMOUNT,
    load_all_days,
)

pytestmark = [pytest.mark.integration, pytest.mark.isolated]

INTERVALS = ((DAY1, DAY2), (DAY2, DAY3), (DAY3, DAY4))


@dataclass
class Story:
    settings: Settings  # isolated database with the three days loaded; its lake = full build
    base: Settings
    tmp: Path
    full_build: DbtResult
    full_version: int  # the lake's snapshot right after the full build

    def full(self, relations: tuple[str, ...] | None = None) -> dict[str, list[tuple[object, ...]]]:
        """The full build, read at its own snapshot (later tests may write to the lake's head)."""
        if relations is None:
            return lake_snapshot(self.settings, version=self.full_version)
        return lake_snapshot(self.settings, relations, version=self.full_version)

    @contextmanager
    def other_lake(self) -> Iterator[Settings]:
        """The story's raw (same database) with a new, empty lake of its own."""
        with isolated_lake(self.base) as overrides:
            yield self.settings.model_copy(update=overrides)


@pytest.fixture(scope="module")
def story(
    base_settings: Settings, transform_state_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Story]:
    tmp = tmp_path_factory.mktemp("dbt_story")
    with isolated_database(base_settings, transform_state_dir) as settings:
        with connect(settings) as conn:
            load_all_days(conn)
        result = run_dbt(settings, "build", target_path=tmp / "target")
        with lake(settings, read_only=True) as conn:
            version = current_version(conn)
        yield Story(settings=settings, base=base_settings, tmp=tmp, full_build=result, full_version=version)


def test_full_build_on_duckdb_passes_and_gets_the_story_right(story: Story) -> None:
    result = story.full_build
    assert result.success
    assert not result.tests_failed and not result.models_failed
    assert len(result.models_built) == 15  # 14 + staging.superseded_orders
    unit_tests = [n.name for n in result.nodes if n.resource_type == "unit_test" and n.status == "pass"]
    assert len(unit_tests) == 5
    assert "assert_staging_orders_reconcile_with_raw" in result.tests_passed

    with lake(story.settings, version=story.full_version) as conn:
        statuses = dict(conn.execute("select source_order_id, status from staging.orders").fetchall())
        assert statuses == EXPECTED_STATUSES
        amount_type = conn.execute(
            "select data_type from information_schema.columns "
            "where table_schema = 'staging' and table_name = 'orders' and column_name = 'amount'"
        ).fetchone()
        assert amount_type == ("DECIMAL(12,2)",)
        per_date = dict(
            conn.execute("select order_date, total_orders from analytics.daily_order_metrics").fetchall()
        )
        assert per_date == EXPECTED_ORDERS_PER_DATE
        total = conn.execute("select sum(total_amount) from analytics.daily_order_metrics").fetchone()
        assert total == (EXPECTED_TOTAL_AMOUNT,)
        # O-1006's day-3 version dropped one of its two lines.
        lines = conn.execute(
            "select count(*) from staging.order_lines where source_order_id = 'O-1006'"
        ).fetchone()
        assert lines == (1,)
        # SCD2: C-1 moved (2 versions), C-2 changed segment (2), C-3 re-sent unchanged (1).
        history = conn.execute(
            "select customer_id, city, segment, is_current from analytics.dim_customers "
            "order by customer_id, valid_from"
        ).fetchall()
        assert history == [
            ("C-1", "Paris", "retail", False),
            ("C-1", "Lyon", "retail", True),
            ("C-2", "London", "smb", False),
            ("C-2", "London", "enterprise", True),
            ("C-3", "Berlin", "enterprise", True),
        ]
        day1 = conn.execute(
            "select cancelled_orders, returned_orders, cancellation_rate, return_rate "
            "from analytics.daily_order_metrics where order_date = ?",
            [date(2026, 11, 1)],
        ).fetchone()
        assert day1 is not None
        assert day1[:2] == (1, 1)  # O-1004 cancelled, O-1003 returned (of 5)
        assert str(day1[2]) == "0.2000" and str(day1[3]) == "0.2000"


def test_incremental_days_equal_full_refresh_and_reruns_are_idempotent(story: Story) -> None:
    target = story.tmp / "target_incremental"
    with story.other_lake() as settings:
        metrics_after: list[dict[date, int]] = []
        for start, end in INTERVALS:
            result = run_dbt(
                settings, "build", data_interval_start=start, data_interval_end=end, target_path=target
            )
            assert result.success and not result.tests_failed
            with lake(settings, read_only=True) as conn:
                rows = conn.execute(
                    "select order_date, total_orders from analytics.daily_order_metrics"
                ).fetchall()
                metrics_after.append(dict(rows))

        # Day 1 alone: 4 orders; the late O-1008 (created day 1, delivered day 3) lands on day 1 later.
        assert metrics_after[0] == {date(2026, 11, 1): 4}
        assert metrics_after[1] == {date(2026, 11, 1): 4, date(2026, 11, 2): 2}
        assert metrics_after[2] == EXPECTED_ORDERS_PER_DATE

        full = story.full()
        incremental = lake_snapshot(settings)
        for relation in full:
            assert incremental[relation] == full[relation], relation
        reference = checksum(incremental)

        # Rerunning an interval changes nothing, even an earlier one after a later one: day 2's
        # versions of O-1001, O-1003, O-1005 and O-1006 must not win over day 3's already merged.
        start, end = INTERVALS[1]
        run_dbt(settings, "build", data_interval_start=start, data_interval_end=end, target_path=target)
        assert checksum(lake_snapshot(settings)) == reference

        # --full-refresh over the same lake rebuilds everything from raw: still the same.
        refreshed = run_dbt(settings, "build", full_refresh=True, target_path=target)
        assert refreshed.success and "--full-refresh" in refreshed.args
        assert checksum(lake_snapshot(settings)) == reference


def test_reconciliation_fails_when_a_record_goes_missing(story: Story) -> None:
    settings = story.settings
    # After the build: a raw order appears in a live batch (staging never saw it), and a staging
    # row disappears from the lake's head (the marts still have it). The other tests read the
    # full build at its own snapshot, which this does not change.
    with connect(settings) as conn:
        conn.execute(
            "insert into raw.orders_raw (source_order_id, customer_id, status, currency, amount, "
            "order_created_at, updated_at, batch_id, source_system, data_interval_start, "
            "data_interval_end, record_hash, raw_payload) "
            "select 'O-9999', 'C-1', 'placed', 'USD', 1.00, %s, %s, batch_id, source_system, "
            "data_interval_start, data_interval_end, 'x', '{}' from ops.ingest_batches "
            "where entity = 'orders' and data_interval_start = %s",
            (DAY3, DAY3, DAY3),
        )
    with lake(settings) as conn:
        deleted = conn.execute("delete from staging.orders where source_order_id = 'O-1001'").fetchone()
    assert deleted == (1,)
    try:
        with pytest.raises(DbtError) as raised:
            run_dbt(settings, "test", select="test_type:singular", target_path=story.tmp / "target_tampered")
    finally:
        with connect(settings) as conn:
            conn.execute("delete from raw.orders_raw where source_order_id = 'O-9999'")
        with lake(settings) as conn:  # put the row back from the full build's snapshot
            conn.execute(
                "insert into staging.orders select * from staging.orders "
                f"at (version => {story.full_version}) where source_order_id = 'O-1001'"
            )
    assert lake_snapshot(settings, ("staging.orders",)) == story.full(("staging.orders",))

    failed = {node.name: node.failures for node in raised.value.failed_nodes}
    assert failed == {
        "assert_staging_orders_reconcile_with_raw": 2,  # O-9999 and O-1001 missing from staging
        "assert_fct_orders_reconcile_with_staging": 1,  # O-1001 in the mart, not in staging
        "assert_daily_metrics_reconcile_with_staging": 1,  # day 1 totals differ
    }
    assert "assert_staging_orders_reconcile_with_raw" in str(raised.value)
    result = raised.value.result
    assert result is not None and sorted(result.tests_passed) == [
        "assert_fct_order_lines_reconcile_with_staging",
        "assert_staging_holds_only_live_batches",
    ]


def test_postgres_target_incremental_matches_duckdb_full_build(story: Story) -> None:
    target = story.tmp / "target_postgres"
    # A first build for day 1, then one incremental run over days 2 and 3 together.
    for start, end in ((DAY1, DAY2), (DAY2, DAY4)):
        result = run_dbt(
            story.settings,
            "build",
            target="postgres",
            data_interval_start=start,
            data_interval_end=end,
            target_path=target,
        )
        assert result.success and not result.tests_failed
        assert result.target == "postgres" and len(result.models_built) == 15
    with connect(story.settings) as conn:
        amount_type = conn.execute(
            "select data_type, numeric_precision, numeric_scale from information_schema.columns "
            "where table_schema = 'staging' and table_name = 'orders' and column_name = 'amount'"
        ).fetchone()
    assert amount_type == ("numeric", 12, 2)
    # The same data in both engines, row for row (the staging lineage columns included).
    assert postgres_snapshot(story.settings) == story.full()


def test_docs_generate_writes_a_static_index(story: Story) -> None:
    """Under the state dir: never over the manifest the DAG is parsed from."""
    manifest = DBT_MANIFEST_PATH.stat().st_mtime_ns if DBT_MANIFEST_PATH.exists() else None
    index = generate_docs(story.settings)
    assert index.name == "static_index.html"
    assert index.is_relative_to(story.settings.state_dir.resolve())
    assert (DBT_MANIFEST_PATH.stat().st_mtime_ns if DBT_MANIFEST_PATH.exists() else None) == manifest
    text = index.read_text()
    assert "daily_order_metrics" in text and "published_marts" in text


def test_bad_interval_fails_with_a_dbt_error(story: Story) -> None:
    with pytest.raises(DbtError, match="data_interval_start"):
        run_dbt(
            story.settings,
            "compile",
            select="stg_generator__orders",
            extra_vars={"data_interval_start": "yesterday", "data_interval_end": "today"},
            target_path=story.tmp / "target_bad",
        )


def test_source_freshness_is_measured_at_the_interval_end(story: Story) -> None:
    """Orders' newest change in the interval's live batches, against the interval's end."""

    def freshness(start: object = None, end: object = None) -> tuple[str, str | None]:
        result = run_dbt(
            story.settings, "source freshness", target="postgres", data_interval_start=start,
            data_interval_end=end, target_path=story.tmp / "target_freshness", check=False,
        )  # fmt: skip
        [node] = result.nodes  # only orders change often enough to tell (_generator__sources.yml)
        return node.name, node.status

    # DAY3's newest order change is at 13:00: 11 hours before the interval's end (warn after 3).
    assert freshness(DAY3, DAY4) == ("raw.orders_raw", "warn")
    # An interval nothing was delivered for is infinitely stale.
    assert freshness(DAY4, DAY4 + (DAY4 - DAY3)) == ("raw.orders_raw", "error")
    # Without an interval, against the clock: the story's November 2026 is long past.
    assert freshness() == ("raw.orders_raw", "error")
