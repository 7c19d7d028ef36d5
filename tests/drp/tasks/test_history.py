"""A dimension's history is loaded once, day by day, filling only the days no live batch covers."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from drp.ingest.loader import load_interval
from drp.settings import Settings
from drp.tasks import load_missing_history, missing_history_days

pytestmark = pytest.mark.integration


def _day(d: int) -> datetime:
    return datetime(2024, 8, d, tzinfo=UTC)


def test_missing_days_are_loaded_once_and_existing_days_kept(settings: Settings) -> None:
    source = f"test-history-{uuid.uuid4().hex[:8]}"
    local = settings.model_copy(update={"source_history_start": date(2024, 8, 1)})
    try:
        kept = load_interval(local, "products", _day(3), _day(4), source_system=source)
        assert missing_history_days(local, "products", _day(6), source_system=source) == [
            _day(1),
            _day(2),
            _day(4),
            _day(5),
        ]
        loaded = load_missing_history(local, "products", _day(6), source_system=source)
        assert sorted(r.start for r in loaded) == [_day(1), _day(2), _day(4), _day(5)]
        assert all(r.end - r.start == timedelta(days=1) for r in loaded)
        assert missing_history_days(local, "products", _day(6), source_system=source) == []
        assert load_missing_history(local, "products", _day(6), source_system=source) == []
        with psycopg.connect(settings.postgres_conninfo()) as conn:
            live = conn.execute(
                "select batch_id from ops.ingest_batches where source_system = %s and status = 'succeeded'",
                (source,),
            ).fetchall()
        assert len(live) == 5 and (kept.batch_id,) in live  # the existing batch was not replaced
    finally:
        with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as conn:
            conn.execute("delete from raw.products_raw where source_system = %s", (source,))
            conn.execute("delete from raw.products_rejected where source_system = %s", (source,))
            conn.execute("delete from ops.ingest_batches where source_system = %s", (source,))
