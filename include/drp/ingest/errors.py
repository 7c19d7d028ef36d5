"""Errors raised by ingestion. Each carries the entity, window and (when known) batch it concerns."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from drp.errors import PlatformError

if TYPE_CHECKING:
    from drp.ingest.loader import BatchResult


def format_window(start: datetime, end: datetime) -> str:
    """`[start, end)` in ISO-8601 UTC, as used in every ingestion message."""
    return f"[{_iso(start)}, {_iso(end)})"


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class IngestError(PlatformError):
    """A load of one (entity, interval) failed; nothing of it was committed (except for
    `BatchRejectedError`, whose batch is committed but refused as broken).

    Attributes:
        entity: `orders`, `customers` or `products`.
        start / end: the half-open interval being loaded.
        batch_id: the batch registry id (`ops.ingest_batches.batch_id`), when one was created.
    """

    def __init__(
        self,
        message: str,
        *,
        entity: str,
        start: datetime,
        end: datetime,
        batch_id: UUID | None = None,
    ) -> None:
        super().__init__(message)
        self.entity = entity
        self.start = start
        self.end = end
        self.batch_id = batch_id
        self.reason = message

    def __str__(self) -> str:
        # Built on demand: the loader attaches the batch id to errors raised below it.
        where = f"{self.entity} {format_window(self.start, self.end)}"
        if self.batch_id is not None:
            where = f"{where} batch {self.batch_id}"
        return f"{where}: {self.reason}"


class SourceError(IngestError):
    """The source API could not deliver a page: retry budget exhausted or a non-retryable answer.

    Attributes:
        page: 1-based number of the page that failed.
        cursor: the cursor of that page (None for the first page).
        attempts: how many attempts were made.
        last_status: the last HTTP status seen (None when no response came back).
    """

    def __init__(
        self,
        message: str,
        *,
        entity: str,
        start: datetime,
        end: datetime,
        page: int,
        cursor: str | None,
        attempts: int,
        last_status: int | None,
        batch_id: UUID | None = None,
    ) -> None:
        status = "no response" if last_status is None else f"HTTP {last_status}"
        detail = (
            f"page {page} (cursor={cursor or '-'}): {message}; {attempts} attempt(s), last status: {status}"
        )
        super().__init__(detail, entity=entity, start=start, end=end, batch_id=batch_id)
        self.page = page
        self.cursor = cursor
        self.attempts = attempts
        self.last_status = last_status


class IntervalConflictError(IngestError):
    """The interval partially overlaps a live batch of the same entity (loading it would double count)."""


class IntegrityError(IngestError):
    """A batch failed its end-of-load checks (e.g. received != loaded + quarantined + duplicates)."""


class BatchRejectedError(IngestError):
    """A load finished but its batch is past a threshold (`drp.ingest.thresholds`): it looks broken.

    The batch is committed either way, so nothing the source sent is lost. When an earlier live
    batch covers the interval, the new batch is `held` (kept, not live) and the earlier one stays
    live; a first load goes live, so its quarantine is visible. Retrying fetches the same data:
    callers should fail without retrying.

    Attributes:
        violations: one line per threshold passed (also in the message, `; `-separated).
        warnings: lines below the thresholds worth an alert (e.g. quarantined share above the
            warning share).
        held: True when the batch was kept as `held`; False when it went live (first load).
        kept_live: the live batches that stayed live (empty on a first load).
        result: the load's `BatchResult` (counts, drift, archive key).
    """

    def __init__(
        self,
        message: str,
        *,
        entity: str,
        start: datetime,
        end: datetime,
        batch_id: UUID | None = None,
        violations: tuple[str, ...] = (),
        warnings: tuple[str, ...] = (),
        held: bool = False,
        kept_live: tuple[UUID, ...] = (),
        result: BatchResult | None = None,
    ) -> None:
        super().__init__(message, entity=entity, start=start, end=end, batch_id=batch_id)
        self.violations = violations
        self.warnings = warnings
        self.held = held
        self.kept_live = kept_live
        self.result = result
