"""The ingestion tests' source system: the test generator's epoch, its days, a running generator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from drp_generator.config import GeneratorConfig

EPOCH = date(2003, 3, 1)  # the shared test generator's first day; windows are offsets from it


def day(offset: int, hours: int = 0) -> datetime:
    """Midnight UTC `offset` days after EPOCH (plus hours)."""
    return datetime(EPOCH.year, EPOCH.month, EPOCH.day, tzinfo=UTC) + timedelta(days=offset, hours=hours)


@dataclass(frozen=True)
class Generator:
    """A running test generator: its base URL and the config it serves."""

    url: str
    config: GeneratorConfig
