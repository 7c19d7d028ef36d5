"""The interval dbt builds: the run's, widened back to raw the warehouse has not seen yet."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from drp.lake.connection import lake
from drp.settings import Settings
from drp.tasks import dbt_interval, warehouse_high_water, warehouse_stale
from tests.isolated_lake import isolated_lake

DAY = datetime(2025, 3, 11, tzinfo=UTC)
NEXT = datetime(2025, 3, 12, tzinfo=UTC)


@pytest.mark.unit
def test_a_run_in_step_with_the_warehouse_builds_its_own_interval() -> None:
    assert dbt_interval(DAY, NEXT, [], high_water=DAY) == (DAY, NEXT)


@pytest.mark.unit
def test_a_backfill_of_older_days_is_not_widened() -> None:
    assert dbt_interval(DAY, NEXT, [], high_water=datetime(2026, 11, 22, tzinfo=UTC)) == (DAY, NEXT)


@pytest.mark.unit
def test_a_gap_since_the_high_water_mark_is_built_too() -> None:
    # Dimension days loaded in between (by runs into another warehouse, or history loads) reach it.
    mark = datetime(2025, 1, 2, tzinfo=UTC)
    assert dbt_interval(DAY, NEXT, [], high_water=mark) == (mark, NEXT)


@pytest.mark.unit
def test_history_loaded_by_the_run_is_built() -> None:
    loads: list[dict[str, Any]] = [{"history_from": "2024-01-01T00:00:00+00:00"}, {"history_from": None}]
    assert dbt_interval(DAY, NEXT, loads, high_water=None) == (datetime(2024, 1, 1, tzinfo=UTC), NEXT)


@pytest.mark.unit
def test_a_build_from_nothing_covers_all_live_raw() -> None:
    # A new lake (or a full refresh) builds every raw row up to the end: the gate must judge it all.
    first = datetime(2024, 3, 1, tzinfo=UTC)
    assert dbt_interval(DAY, NEXT, [], high_water=None, first_build_from=first) == (first, NEXT)
    # Raw that starts later than the run (a backfill of an early day) does not narrow it.
    assert dbt_interval(DAY, NEXT, [], first_build_from=datetime(2026, 1, 1, tzinfo=UTC)) == (DAY, NEXT)


@pytest.mark.unit
def test_an_interval_whose_live_batch_changed_after_the_head_was_built_is_rebuilt() -> None:
    # A rerun of an earlier day loaded a new batch, then failed: the head still holds the old one.
    stale = (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 2, tzinfo=UTC))
    assert dbt_interval(DAY, NEXT, [], high_water=DAY, stale=stale) == (stale[0], NEXT)
    # A later day reloaded after it was built: the run of an earlier day rebuilds up to it too.
    later = (datetime(2025, 7, 15, tzinfo=UTC), datetime(2025, 7, 16, tzinfo=UTC))
    assert dbt_interval(DAY, NEXT, [], high_water=later[1], stale=later) == (DAY, later[1])


@pytest.mark.integration
def test_rows_of_batches_that_are_no_longer_live_are_found_at_the_head(settings: Settings) -> None:
    with isolated_lake(settings) as overrides:
        local = settings.model_copy(update=overrides)
        assert warehouse_stale(local) is None  # a new lake
        with lake(local) as con:
            con.execute("create schema staging")
            con.execute(
                "create table staging.orders "
                "(batch_id uuid, batch_interval_start timestamptz, batch_interval_end timestamptz)"
            )
        assert warehouse_stale(local) is None  # nothing built yet
        with lake(local) as con:
            # No batch with a random id is live in the registry: the row is stale.
            con.execute(
                "insert into staging.orders values (uuid(), '2025-03-05 00:00:00+00', '2025-03-06 00:00:00+00')"
            )
            con.execute(
                "insert into staging.orders values (uuid(), '2025-03-09 00:00:00+00', '2025-03-10 00:00:00+00')"
            )
        assert warehouse_stale(local) == (datetime(2025, 3, 5, tzinfo=UTC), datetime(2025, 3, 10, tzinfo=UTC))
        with lake(local) as con:
            # The list of what replaced batches held is made of such rows: it never makes a build wider.
            con.execute("create table staging.superseded_orders as from staging.orders")
            con.execute(
                "insert into staging.superseded_orders values (uuid(), '2025-01-02 00:00:00+00', '2025-01-03 00:00:00+00')"
            )
        assert warehouse_stale(local) == (datetime(2025, 3, 5, tzinfo=UTC), datetime(2025, 3, 10, tzinfo=UTC))


@pytest.mark.integration
def test_high_water_mark_of_new_and_built_lakes(settings: Settings) -> None:
    with isolated_lake(settings) as overrides:
        local = settings.model_copy(update=overrides)
        assert warehouse_high_water(local) is None  # a new lake
        with lake(local) as con:
            con.execute("create schema staging")
        assert warehouse_high_water(local) is None  # no staging yet
        with lake(local) as con:
            con.execute("create table staging.customer_versions (batch_interval_end timestamptz)")
            con.execute(
                "insert into staging.customer_versions values "
                "('2025-03-10 00:00:00+00'), ('2025-03-12 00:00:00+00')"
            )
        assert warehouse_high_water(local) == NEXT
        # The head, not an older snapshot: a later commit moves the mark, a rollback does not.
        with lake(local) as con:
            con.execute("insert into staging.customer_versions values ('2025-03-13 00:00:00+00')")
            con.execute("begin")
            con.execute("insert into staging.customer_versions values ('2025-03-20 00:00:00+00')")
            con.execute("rollback")
        assert warehouse_high_water(local) == datetime(2025, 3, 13, tzinfo=UTC)
