"""Retention of superseded raw: purge the rows of batches set aside long ago, keep their archives.

Raw is append-only (`loader`): a rerun marks the previous batch `replaced` and a batch that looks
broken is kept as `held`; both keep their rows so nothing is lost and a bad day can be compared
with the good one. After `raw_superseded_retention_days` (counted from `superseded_at` for a
replaced batch, from `ended_at` for a held one) `purge_superseded_raw` deletes their raw, line and
rejected rows. The gzip archive in the object store stays (`drp replay` reads it), and the
batch's registry row records the purge (`purged_at`, `purged_rows`). Live batches are never
touched: only `replaced` and `held` rows are selected, and neither ever becomes live again.

Ownership: the statements on `ops.ingest_batches` are in `registry` (`purgeable`,
`mark_purged`), those on the raw tables in `loader` (`delete_batch_rows`), the owner of raw.
This module only sequences them: one transaction per batch, so a purge that stops half way has
recorded exactly what it deleted. The `lake_maintenance` DAG runs it daily.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import psycopg

from drp.ingest import registry
from drp.ingest.contract import specs
from drp.ingest.loader import delete_batch_rows
from drp.settings import Settings
from drp_domain import Entity

log = logging.getLogger("drp.ingest.retention")

REPORTED_BATCHES: Final = 100  # the result lists at most this many batches (the counts are whole)


def purge_superseded_raw(
    settings: Settings,
    *,
    now: datetime | None = None,
    source_system: str | None = None,
) -> dict[str, Any]:
    """Delete the raw rows of `replaced` and `held` batches set aside more than the retention ago.

    Args:
        now: the reference time (default: the current time).
        source_system: purge only this source's batches (default: every source).

    Returns:
        A JSON-able summary: `records_processed` (rows deleted, for the audit table),
        `batches_purged`, `retention_days`, `set_aside_before` and up to 100 `batches`.
    """
    now = now or datetime.now(UTC)
    before = now - timedelta(days=settings.raw_superseded_retention_days)
    contracts = specs(settings.contracts_dir)
    purged: list[dict[str, Any]] = []
    total = 0
    with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as conn:
        while True:
            with conn.transaction():
                found = registry.purgeable(conn, before, source_system=source_system, limit=1)
                if not found:
                    break
                batch = found[0]
                rows = delete_batch_rows(conn, contracts[Entity(batch.entity)], [batch.batch_id])
                registry.mark_purged(conn, batch.batch_id, rows)
            total += rows
            purged.append({
                "batch_id": str(batch.batch_id),
                "source_system": batch.source_system,
                "entity": batch.entity,
                "status": batch.status,
                "set_aside_at": batch.set_aside_at.isoformat(),
                "rows": rows,
            })  # fmt: skip
    if purged:
        log.info("purged the raw rows of %d superseded or held batch(es): %d rows", len(purged), total)
    return {
        "records_processed": total,
        "batches_purged": len(purged),
        "retention_days": settings.raw_superseded_retention_days,
        "set_aside_before": before.isoformat(),
        "batches": purged[:REPORTED_BATCHES],
    }
