"""Retention purge of superseded and held raw batches: real loads, real Postgres and object store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from drp.ingest import BatchRejectedError, load_interval
from drp.ingest.retention import purge_superseded_raw
from drp.settings import Settings
from drp.storage.object_store import client as s3_client
from tests.drp.ingest.source import Generator, day

pytestmark = pytest.mark.integration

TABLES = ("orders_raw", "order_lines_raw", "orders_rejected")


def _rows(pg: psycopg.Connection, batch_id: UUID) -> int:
    total = 0
    for table in TABLES:
        row = pg.execute(
            sql.SQL("select count(*) from {} where batch_id = %s").format(sql.Identifier("raw", table)),
            [batch_id],
        ).fetchone()
        assert row is not None
        total += int(row[0])
    return total


def _row(pg: psycopg.Connection, batch_id: UUID) -> dict[str, Any]:
    cur = pg.execute("select * from ops.ingest_batches where batch_id = %s", [batch_id])
    names = [c.name for c in cur.description or []]
    row = cur.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


def test_purge_deletes_old_superseded_rows_only_and_keeps_archives(
    settings: Settings, generator: Generator, source: str, pg: psycopg.Connection
) -> None:
    start, end = day(40), day(41)

    def load(**kw: Any) -> Any:
        return load_interval(
            settings, "orders", start, end, api_base_url=generator.url, source_system=source, **kw
        )

    replaced = load(faults={"invalid": "0.02"})
    live = load(faults={"invalid": "0.02"})
    with pytest.raises(BatchRejectedError) as info:
        load(faults={"drift_from": start.date().isoformat(), "drift": "both"})
    held = info.value.result
    assert held is not None and held.status == "held"
    sizes = {b.batch_id: _rows(pg, b.batch_id) for b in (replaced, live, held)}
    assert all(sizes.values())

    # Within the retention: nothing to purge.
    assert purge_superseded_raw(settings, source_system=source)["batches_purged"] == 0

    # Past it: the replaced and the held batch lose their raw rows, and say so.
    later = datetime.now(UTC) + timedelta(days=settings.raw_superseded_retention_days, minutes=1)
    report = purge_superseded_raw(settings, now=later, source_system=source)
    assert report["batches_purged"] == 2
    assert report["records_processed"] == sizes[replaced.batch_id] + sizes[held.batch_id]
    assert {b["batch_id"]: b["rows"] for b in report["batches"]} == {
        str(replaced.batch_id): sizes[replaced.batch_id],
        str(held.batch_id): sizes[held.batch_id],
    }
    for batch in (replaced, held):
        row = _row(pg, batch.batch_id)
        assert row["purged_at"] is not None and row["purged_rows"] == sizes[batch.batch_id]
        assert _rows(pg, batch.batch_id) == 0
    assert _row(pg, replaced.batch_id)["status"] == "replaced"
    assert _row(pg, held.batch_id)["status"] == "held"

    # The live batch is untouched, and every archive is still in the object store.
    live_row = _row(pg, live.batch_id)
    assert live_row["status"] == "succeeded" and live_row["purged_at"] is None
    assert _rows(pg, live.batch_id) == sizes[live.batch_id]
    s3 = s3_client(settings)
    for batch in (replaced, live, held):
        stat = s3.stat_object(settings.s3_bucket_raw, batch.archive_key)
        assert stat.size == batch.archive_bytes

    # A second purge finds nothing more: every purge is recorded once.
    assert purge_superseded_raw(settings, now=later, source_system=source)["batches_purged"] == 0
    assert _row(pg, replaced.batch_id)["purged_rows"] == sizes[replaced.batch_id]
