"""Where published snapshots live in the analytics bucket.

No I/O and nothing heavy to import: the DAG names its Assets from these paths at parse time.
"""

from __future__ import annotations

from datetime import date

ANALYTICS_PREFIX = "analytics"


def mart_prefix(model: str) -> str:
    """The folder of every snapshot of one mart."""
    return f"{ANALYTICS_PREFIX}/{model}"


def snapshot_key(model: str, snapshot_date: date) -> str:
    return f"{mart_prefix(model)}/snapshot_date={snapshot_date.isoformat()}/{model}.parquet"


def manifest_key(snapshot_date: date) -> str:
    return f"{ANALYTICS_PREFIX}/_manifests/snapshot_date={snapshot_date.isoformat()}/manifest.json"
