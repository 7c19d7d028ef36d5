"""Data intervals: the one place that turns a bound into a plain UTC `datetime`.

Every interval in the platform is half-open, `[start, end)`, in UTC. Airflow hands tasks pendulum
`DateTime`s, whose arithmetic can drop the zone (`DateTime + timedelta` came back naive, which broke
window splitting), and GX and DuckDB want stdlib values; so each bound is rebuilt as a stdlib
`datetime` with `tzinfo=UTC` before anything computes with it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from drp.errors import ConfigError, IntervalError


def to_utc(value: datetime | str, *, name: str = "bound", assume_utc: bool = False) -> datetime:
    """A bound as a plain stdlib `datetime` in UTC.

    Args:
        value: an aware datetime (pendulum's included) or an ISO-8601 string (`Z` allowed).
        name: what the bound is, for the error message.
        assume_utc: read a naive value as UTC (the trigger form's overrides) instead of refusing it.

    Returns:
        The same instant as a `datetime` whose `tzinfo` is `UTC`.

    Raises:
        IntervalError: the value is not a timestamp, or is naive and `assume_utc` is off.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise IntervalError(f"{name} {value!r} is not an ISO-8601 timestamp") from None
    if value.tzinfo is None:
        if not assume_utc:
            raise IntervalError(f"{name} must be timezone-aware (got naive {value.isoformat()})")
        value = value.replace(tzinfo=UTC)
    v = value.astimezone(UTC)
    return datetime(v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, tzinfo=UTC)


def resolve_interval(
    data_interval_start: datetime | str,
    data_interval_end: datetime | str,
    params: dict[str, Any] | None = None,
) -> tuple[datetime, datetime]:
    """A run's half-open interval: the data interval, unless the trigger form overrides it.

    Overrides without a zone are read as UTC.

    Raises:
        ConfigError: the end is not after the start.
    """
    params = params or {}
    start = to_utc(
        params.get("interval_start") or data_interval_start, name="interval start", assume_utc=True
    )
    end = to_utc(params.get("interval_end") or data_interval_end, name="interval end", assume_utc=True)
    if end <= start:
        raise ConfigError(f"interval end {end.isoformat()} is not after start {start.isoformat()}")
    return start, end
