"""Fault configuration and the deterministic decisions that switch faults on.

Two families of faults:

* **HTTP faults** act on a whole response (a page, or a bulk stream): `http500`, `http429`
  (with `Retry-After`), `hang` (sleep `hang_seconds`, past a client's timeout), `truncate`
  (a 200 whose body is cut in half: invalid JSON / a partial NDJSON line) and `slow` (sleep
  `slow_seconds`, then answer normally). Each is a probability per (request, attempt). A request
  is identified by entity, form, window, limit and the position its cursor points at (not the
  cursor's text, which is signed with the API key); the attempt comes from the
  `X-Attempt` header, or, without it, from the server counting identical requests. Faults only
  fire on attempts `<= max_fault_attempts`, so a client that retries gets every page. When
  several fire, the first in the order above wins.
* **Data faults** act on records and are a pure function of (seed, entity, day, config):
  `dupes` (a record is served again 1–60 minutes later), `invalid` (the record breaks the
  contract; reason codes in `INVALID_REASONS`), `late` (served `late_min_hours`–`late_max_hours`
  after its `updated_at`), `drift_from`/`drift` (records arriving on or after that date carry an
  added field and/or a renamed one), and aggregate faults that pass any per-record contract:
  `orphans` (orders reference customers that never existed), `x100` (an order's prices and amount
  are 100× too large), `future` (timestamps `future_days` in the future) and `collapse` (the share
  of days whose order volume falls to `collapse_factor` of normal).

Rates are fractions in [0, 1]. `parse_faults("dupes=0.01,invalid=0.005")` builds a config from
text (the `DRP_GENERATOR_FAULTS` environment variable uses this form).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, Final, Literal

from drp_generator.errors import FaultConfigError
from drp_generator.model import Entity
from drp_generator.rng import stable_unit

DriftMode = Literal["add", "rename", "both"]

LATE_MAX_HOURS: Final = 7 * 24

INVALID_REASONS: Final[dict[Entity, tuple[str, ...]]] = {
    Entity.ORDERS: ("null_id", "negative_amount", "bad_timestamp", "unknown_status", "wrong_type"),
    Entity.CUSTOMERS: ("null_id", "bad_timestamp", "unknown_segment", "wrong_type"),
    Entity.PRODUCTS: ("null_id", "negative_price", "bad_timestamp", "wrong_type"),
}


class HttpFault(StrEnum):
    """A fault acting on a whole response, in priority order."""

    HTTP_500 = "http500"
    HTTP_429 = "http429"
    HANG = "hang"
    TRUNCATE = "truncate"
    SLOW = "slow"


RATE_FIELDS: Final = (
    "http500", "http429", "hang", "truncate", "slow",
    "dupes", "invalid", "late", "orphans", "x100", "future", "collapse",
)  # fmt: skip
_BOUNDS: Final[dict[str, tuple[float, float]]] = {
    "slow_seconds": (0.0, 60.0),
    "hang_seconds": (0.0, 600.0),
    "retry_after": (0, 3600),
    "max_fault_attempts": (0, 100),
    "late_min_hours": (1, LATE_MAX_HOURS),
    "late_max_hours": (1, LATE_MAX_HOURS),
    "collapse_factor": (0.0, 1.0),
    "future_days": (1, 3650),
}


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Which faults are on and how strongly. All off by default. Hashable: part of cache keys."""

    http500: float = 0.0
    http429: float = 0.0
    hang: float = 0.0
    truncate: float = 0.0
    slow: float = 0.0
    dupes: float = 0.0
    invalid: float = 0.0
    late: float = 0.0
    orphans: float = 0.0
    x100: float = 0.0
    future: float = 0.0
    collapse: float = 0.0
    drift_from: date | None = None
    drift: DriftMode = "both"
    slow_seconds: float = 2.0
    hang_seconds: float = 60.0
    retry_after: int = 1
    max_fault_attempts: int = 3
    late_min_hours: int = 24
    late_max_hours: int = 72
    collapse_factor: float = 0.05
    future_days: int = 365
    _data_key: tuple[Any, ...] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        for name in RATE_FIELDS:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise FaultConfigError(f"fault_{name}", f"must be a fraction in [0, 1], got {value!r}")
        for name, (low, high) in _BOUNDS.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise FaultConfigError(f"fault_{name}", f"must be between {low} and {high}, got {value!r}")
        if self.late_min_hours > self.late_max_hours:
            raise FaultConfigError("fault_late_min_hours", "must not exceed fault_late_max_hours")
        if self.drift not in ("add", "rename", "both"):
            raise FaultConfigError("fault_drift", "must be one of add, rename, both")
        object.__setattr__(
            self,
            "_data_key",
            (
                self.dupes, self.invalid, self.late, self.orphans, self.x100, self.future, self.collapse,
                self.drift_from, self.drift, self.late_min_hours, self.late_max_hours,
                self.collapse_factor, self.future_days,
            ),
        )  # fmt: skip

    @property
    def data_key(self) -> tuple[Any, ...]:
        """The fields that change records (not HTTP behaviour): the cache key of generated days."""
        return self._data_key

    @property
    def has_data_faults(self) -> bool:
        return bool(
            self.dupes or self.invalid or self.late or self.orphans or self.x100 or self.future
            or self.collapse or self.drift_from is not None
        )  # fmt: skip

    def data_only(self) -> FaultConfig:
        """This config without its HTTP faults: equal for every request that sees the same records."""
        if not (self.http500 or self.http429 or self.hang or self.truncate or self.slow):
            return self
        return self.replace(http500=0.0, http429=0.0, hang=0.0, truncate=0.0, slow=0.0)

    def replace(self, **changes: Any) -> FaultConfig:
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view (dates as ISO strings)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name.startswith("_"):
                continue
            value = getattr(self, f.name)
            out[f.name] = value.isoformat() if isinstance(value, date) else value
        return out


NO_FAULTS: Final = FaultConfig()

_FIELD_TYPES: Final = {f.name: f.type for f in dataclasses.fields(FaultConfig) if not f.name.startswith("_")}


def parse_faults(text: str, base: FaultConfig = NO_FAULTS) -> FaultConfig:
    """Parse `name=value,name=value` (names as in FaultConfig) onto `base`.

    Args:
        text: e.g. `"dupes=0.01,invalid=0.005,drift_from=2026-11-20"`. Blank means no change.
        base: the config the values override.

    Returns:
        The new config.

    Raises:
        FaultConfigError: on an unknown name or a malformed or out-of-range value.
    """
    changes: dict[str, Any] = {}
    for raw_item in text.split(","):
        item = raw_item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip().removeprefix("fault_")
        if not sep or name not in _FIELD_TYPES:
            raise FaultConfigError(f"fault_{name}", f"unknown fault setting in {item!r}")
        changes[name] = _coerce(name, value.strip())
    return base.replace(**changes) if changes else base


def _coerce(name: str, value: str) -> Any:
    try:
        if name == "drift_from":
            return None if value in ("", "none", "null") else date.fromisoformat(value)
        if name == "drift":
            return value
        if name in ("retry_after", "max_fault_attempts", "late_min_hours", "late_max_hours", "future_days"):
            return int(value)
        return float(value)
    except ValueError:
        raise FaultConfigError(f"fault_{name}", f"malformed value {value!r}") from None


def decide_http_fault(faults: FaultConfig, seed: int, request_key: str, attempt: int) -> HttpFault | None:
    """Which HTTP fault (if any) hits this request on this attempt. Pure and deterministic.

    Args:
        faults: the effective fault config.
        seed: the generator seed.
        request_key: identifies the request (see `request_key`).
        attempt: 1 for the first try, 2 for the first retry, ...

    Returns:
        The fault, or None when the request is served normally.
    """
    if attempt > faults.max_fault_attempts:
        return None
    for kind in HttpFault:
        rate: float = getattr(faults, kind.value)
        if rate > 0.0 and stable_unit(seed, "http-fault", kind.value, request_key, attempt) < rate:
            return kind
    return None


def request_key(
    entity: Entity, form: str, start: int, end: int, *, limit: int | None, position: tuple[int, int] | None
) -> str:
    """Canonical identity of a request for HTTP-fault decisions.

    A page is named by the position its cursor decodes to, not by the cursor's text: the text is
    signed with the API key, and which requests fault must depend on the seed alone.
    """
    at = f"{position[0]}:{position[1]}" if position is not None else ""
    return f"{entity.value}|{form}|{start}|{end}|{limit if limit is not None else ''}|{at}"
