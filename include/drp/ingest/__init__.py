"""Ingestion: source API -> Postgres `raw`, exactly once per interval, nothing lost, archived.

Callable without Airflow: `load_interval(settings, "orders", start, end)`; CLI: `drp ingest`.
See docs/ingestion.md.
"""

from __future__ import annotations

from drp.ingest.client import ClientConfig
from drp.ingest.errors import (
    BatchRejectedError,
    IngestError,
    IntegrityError,
    IntervalConflictError,
    SourceError,
)
from drp.ingest.loader import BatchResult, load_interval

__all__ = [
    "BatchRejectedError",
    "BatchResult",
    "ClientConfig",
    "IngestError",
    "IntegrityError",
    "IntervalConflictError",
    "SourceError",
    "load_interval",
]
