"""After a campaign or a drill: its days loaded again from the source, without faults.

Drills write faulted batches into the platform's own raw, and they stay live. A day left that way
stops the line: every later day's build carries it in and its gate fails on it
(`docs/quality.md`), and a build from nothing (a new lake) gates all of raw. Healing appends a
clean batch per entity and day, which supersedes the faulted one; raw keeps both (append-only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta

from drp.errors import PlatformError
from drp.settings import Settings

HEAL_ORDER = ("customers", "products", "orders")  # dimensions first, as a run loads them


def heal_days(
    settings: Settings, days: Iterable[date], echo: Callable[[str], None] | None = None
) -> list[str]:
    """Load each of `days` again for every entity, without faults; returns what could not be
    loaded (one line each: a refused batch keeps the faulted one live)."""
    from drp.ingest.loader import load_interval  # noqa: PLC0415 - the loader is heavy to import

    refused = []
    for day in sorted(set(days)):
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        for entity in HEAL_ORDER:
            try:
                load_interval(settings, entity, start, start + timedelta(days=1))
            except PlatformError as exc:
                refused.append(f"{entity} {day.isoformat()}: {exc}")
                if echo:
                    echo(f"  could not heal {entity} {day.isoformat()}: {exc}")
    return refused
