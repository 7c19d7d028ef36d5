"""The one interval helper: every bound becomes a plain stdlib UTC datetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pendulum
import pytest

from drp.errors import ConfigError, IntervalError
from drp.intervals import resolve_interval, to_utc

pytestmark = pytest.mark.unit


def test_to_utc_returns_a_plain_datetime_for_every_kind_of_bound() -> None:
    expected = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    cet = timezone(timedelta(hours=1))
    bounds = [
        expected,
        datetime(2025, 3, 1, 13, 0, tzinfo=cet),
        pendulum.datetime(2025, 3, 1, 12, tz="UTC"),
        "2025-03-01T12:00:00Z",
        "2025-03-01T13:00:00+01:00",
    ]
    for bound in bounds:
        value = to_utc(bound)
        assert value == expected
        assert type(value) is datetime and value.tzinfo is UTC, bound
    # pendulum's DateTime lost its zone in `+ timedelta`; the plain value keeps it.
    assert (to_utc(pendulum.datetime(2025, 3, 1, tz="UTC")) + timedelta(hours=1)).tzinfo is UTC


def test_to_utc_refuses_naive_and_malformed_bounds_by_name() -> None:
    with pytest.raises(IntervalError, match="start must be timezone-aware"):
        to_utc(datetime(2025, 3, 1), name="start")
    with pytest.raises(IntervalError, match="end 'tomorrow' is not an ISO-8601 timestamp"):
        to_utc("tomorrow", name="end")
    assert to_utc("2025-03-01T00:00:00", assume_utc=True) == datetime(2025, 3, 1, tzinfo=UTC)
    assert isinstance(IntervalError("x"), ValueError)  # callers that caught ValueError still do


def test_interval_override_and_validation() -> None:
    default = ("2025-01-01T00:00:00+00:00", "2025-01-02T00:00:00+00:00")
    assert resolve_interval(*default) == (datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC))
    # Overrides without a zone are UTC.
    override = {"interval_start": "2025-02-01T00:00:00", "interval_end": "2025-02-03T00:00:00+00:00"}
    assert resolve_interval(*default, override) == (
        datetime(2025, 2, 1, tzinfo=UTC),
        datetime(2025, 2, 3, tzinfo=UTC),
    )
    # Empty overrides (the trigger form's defaults) keep the data interval.
    assert resolve_interval(*default, {"interval_start": None, "interval_end": ""}) == resolve_interval(
        *default
    )
    with pytest.raises(ConfigError, match="is not after start"):
        resolve_interval(*default, {"interval_start": "2025-02-01T00:00:00"})
