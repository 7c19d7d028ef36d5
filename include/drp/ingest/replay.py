"""Replay: re-ingest an interval from what the platform already holds, without calling the API.

`replay_interval` takes the records of one committed batch of the interval and loads them again
through `loader.load_interval(records=..., replay_of=...)`: a new batch, checked against the
*current* contracts (`specs(settings.contracts_dir)`), with every guarantee of a load (one
transaction, the archive, the thresholds, supersession of the live batch). The usual case: a
schema drift quarantined a day, an alias was added to the contract, the day is replayed.

Two sources of records:

* `archive` (default): the batch's gzip NDJSON archive in the object store, every record received
  (duplicates included), so the replay's counts are the original load's under today's contract;
* `quarantine`: the batch's rows in raw, loaded then quarantined ones: the same records minus the
  duplicates the load skipped (a whole interval again, not only its rejects).

The batch is the one named, or the latest committed batch (live, replaced or held) of exactly
that interval that has an archive. The records read must number what the registry says the batch
holds, or the replay fails and nothing of it is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Final, Literal
from uuid import UUID

import psycopg

from drp.errors import PlatformError
from drp.ingest import archive, loader, registry
from drp.ingest.contract import specs
from drp.ingest.errors import format_window
from drp.intervals import to_utc
from drp.settings import Settings
from drp.storage import object_store
from drp_domain import Entity

log = logging.getLogger("drp.ingest.replay")

SOURCES: Final = ("archive", "quarantine")
ReplayFrom = Literal["archive", "quarantine"]


class ReplayError(PlatformError):
    """A replay cannot start, or its source does not hold what the registry says. Nothing of it
    was committed."""


def replay_interval(
    settings: Settings,
    entity: str,
    start: datetime,
    end: datetime,
    *,
    source: ReplayFrom = "archive",
    batch_id: UUID | None = None,
    source_system: str = loader.DEFAULT_SOURCE,
    page_size: int = 5_000,
) -> loader.BatchResult:
    """Re-ingest `[start, end)` of `entity` from a batch's archive or raw rows, as a new batch.

    Args:
        settings: platform settings (`contracts_dir` is the contract the records are checked with).
        entity: `orders`, `customers` or `products`.
        start / end: the interval, exactly a batch's (timezone-aware).
        source: `archive` or `quarantine` (see the module docstring).
        batch_id: the batch to replay; default: the latest committed one of the interval with an
            archive.
        source_system: whose batches to look at (ignored when `batch_id` is given: the batch's).
        page_size: records per page handed to the loader.

    Returns:
        The new batch's result (`replay_of` on its registry row names the replayed batch).

    Raises:
        ReplayError: bad arguments, no such batch, or the source disagrees with the registry.
        IngestError: the load failed (`BatchRejectedError`: past a threshold, as for any load).
    """
    try:
        kind = Entity(entity)
    except ValueError:
        raise ReplayError(
            f"unknown entity {entity!r}: expected one of {', '.join(e.value for e in Entity)}"
        ) from None
    if source not in SOURCES:
        raise ReplayError(f"unknown replay source {source!r}: expected archive or quarantine")
    start, end = to_utc(start, name="start"), to_utc(end, name="end")
    if end <= start:
        raise ReplayError(f"empty interval: end {end.isoformat()} is not after start {start.isoformat()}")
    window = f"{kind.value} {format_window(start, end)}"
    conninfo = settings.postgres_conninfo()
    try:
        with psycopg.connect(conninfo) as conn:
            chosen = registry.replay_source(
                conn, source_system=source_system, entity=kind.value, start=start, end=end, batch_id=batch_id
            )
    except psycopg.Error as exc:
        raise ReplayError(f"{window}: cannot read {registry.TABLE}: {exc}") from exc
    chosen = _check_choice(chosen, window, kind, start, end, batch_id=batch_id, source=source)
    log.info("%s: replaying batch %s (%s) from its %s", window, chosen.batch_id, chosen.status, source)

    def load(records: Iterable[list[Any]]) -> loader.BatchResult:
        return loader.load_interval(
            settings, kind.value, start, end,
            source_system=chosen.source_system, records=records, replay_of=chosen.batch_id,
        )  # fmt: skip

    if source == "archive":
        assert chosen.archive_key is not None  # checked by `_check_choice`
        s3 = object_store.client(settings)
        pages = archive.read_pages(s3, settings.s3_bucket_raw, chosen.archive_key, page_size=page_size)
        return load(_all_of(pages, chosen.received, f"the archive of batch {chosen.batch_id}"))
    spec = specs(settings.contracts_dir)[kind]
    # The read transaction stays open while the load streams from it (a server-side cursor).
    with psycopg.connect(conninfo) as conn:
        pages = loader.batch_payloads(conn, spec, chosen.batch_id, page_size=page_size)
        stored = chosen.loaded + chosen.quarantined
        return load(_all_of(pages, stored, f"the raw rows of batch {chosen.batch_id}"))


def _check_choice(
    chosen: registry.ReplaySource | None,
    window: str,
    kind: Entity,
    start: datetime,
    end: datetime,
    *,
    batch_id: UUID | None,
    source: str,
) -> registry.ReplaySource:
    if chosen is None:
        if batch_id is not None:
            raise ReplayError(f"{window}: no batch {batch_id} in {registry.TABLE}")
        raise ReplayError(f"{window}: no committed batch of exactly this interval has an archive")
    name = f"batch {chosen.batch_id}"
    if chosen.entity != kind.value:
        raise ReplayError(f"{window}: {name} holds {chosen.entity}, not {kind.value}")
    if (chosen.start, chosen.end) != (start, end):
        raise ReplayError(
            f"{window}: {name} covers {format_window(chosen.start, chosen.end)}; replay that exact interval"
        )
    if chosen.status not in ("succeeded", "replaced", "held"):
        raise ReplayError(f"{window}: {name} is {chosen.status}, not committed: nothing of it to replay")
    if source == "archive" and not chosen.archive_key:
        raise ReplayError(f"{window}: {name} has no archive")
    if source == "quarantine" and chosen.purged:
        raise ReplayError(
            f"{window}: the raw rows of {name} were purged (retention); replay it from the archive"
        )
    return chosen


def _all_of(pages: Iterator[list[Any]], expected: int, what: str) -> Iterator[list[Any]]:
    """The pages, then a check that they held `expected` records (raised inside the load, which
    then fails and commits nothing)."""
    seen = 0
    for page in pages:
        seen += len(page)
        yield page
    if seen != expected:
        raise ReplayError(f"{what} holds {seen} records, the registry says {expected}")
