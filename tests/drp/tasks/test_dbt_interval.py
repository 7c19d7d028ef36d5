"""The interval dbt builds: the run's, widened back to raw the warehouse has not seen yet."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from drp.settings import Settings
from drp.tasks import dbt_interval, warehouse_high_water

pytestmark = pytest.mark.unit
DAY = datetime(2025, 3, 11, tzinfo=UTC)
NEXT = datetime(2025, 3, 12, tzinfo=UTC)


def test_a_run_in_step_with_the_warehouse_builds_its_own_interval() -> None:
    assert dbt_interval(DAY, NEXT, [], high_water=DAY) == (DAY, NEXT)


def test_a_backfill_of_older_days_is_not_widened() -> None:
    assert dbt_interval(DAY, NEXT, [], high_water=datetime(2026, 11, 22, tzinfo=UTC)) == (DAY, NEXT)


def test_a_gap_since_the_high_water_mark_is_built_too() -> None:
    # Dimension days loaded in between (by runs into another warehouse, or history loads) reach it.
    mark = datetime(2025, 1, 2, tzinfo=UTC)
    assert dbt_interval(DAY, NEXT, [], high_water=mark) == (mark, NEXT)


def test_history_loaded_by_the_run_is_built() -> None:
    loads = [{"history_from": "2024-01-01T00:00:00+00:00"}, {"history_from": None}]
    assert dbt_interval(DAY, NEXT, loads, high_water=None) == (datetime(2024, 1, 1, tzinfo=UTC), NEXT)


def test_high_water_mark_of_new_and_built_warehouses(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "wh.duckdb"
    local = settings.model_copy(update={"duckdb_path": path})
    assert warehouse_high_water(local) is None  # no file
    with duckdb.connect(str(path)) as con:
        con.execute("create schema staging")
    assert warehouse_high_water(local) is None  # no staging yet
    with duckdb.connect(str(path)) as con:
        con.execute("create table staging.customer_versions (batch_interval_end timestamptz)")
        con.execute(
            "insert into staging.customer_versions values ('2025-03-10 00:00:00+00'), ('2025-03-12 00:00:00+00')"
        )
    assert warehouse_high_water(local) == NEXT
