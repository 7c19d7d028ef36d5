"""Pydantic schemas of the API: query parameters and documented response bodies.

Responses are written as pre-serialized JSON bytes (see `generate`): these models document the
contract in OpenAPI and validate query parameters, they are not used to serialize records.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TIMESTAMP_PATTERN: Final = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
WINDOW_BOUND_PATTERN: Final = r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?$"
_WINDOW_BOUND_RE: Final = re.compile(WINDOW_BOUND_PATTERN)

Timestamp = Annotated[
    str,
    Field(pattern=TIMESTAMP_PATTERN, description="UTC timestamp, ISO-8601, e.g. 2026-11-21T13:45:12Z"),
]
Money = Annotated[float, Field(description="Decimal number with exactly two decimals in the JSON text")]


# ---- records -------------------------------------------------------------------------------------
class OrderLine(BaseModel):
    line_number: int = Field(ge=1)
    product_id: str
    quantity: int = Field(ge=1)
    unit_price: Money


class Order(BaseModel):
    """One version of an order. A later version (same `order_id`, later `updated_at`) supersedes it."""

    order_id: str = Field(examples=["ord_20261121_000123"])
    customer_id: str = Field(examples=["cus_00012345"])
    status: Literal["placed", "paid", "shipped", "delivered", "cancelled", "returned"]
    currency: Literal["USD", "EUR", "GBP"]
    amount: Money = Field(description="Sum of quantity * unit_price over lines, two decimals")
    lines: list[OrderLine] = Field(min_length=1)
    created_at: Timestamp
    updated_at: Timestamp


class Customer(BaseModel):
    """One version of a customer (city and segment change over time)."""

    customer_id: str = Field(examples=["cus_00012345"])
    name: str
    email: str
    country: str = Field(min_length=2, max_length=2)
    city: str
    segment: Literal["consumer", "smb", "enterprise"]
    created_at: Timestamp
    updated_at: Timestamp


class Product(BaseModel):
    """One version of a product (the list price changes over time)."""

    product_id: str = Field(examples=["prd_000123"])
    name: str
    category: str
    unit_price: Money
    currency: str
    created_at: Timestamp
    updated_at: Timestamp


class OrdersPage(BaseModel):
    data: list[Order]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end")
    count: int = Field(ge=0)


class CustomersPage(BaseModel):
    data: list[Customer]
    next_cursor: str | None
    count: int = Field(ge=0)


class ProductsPage(BaseModel):
    data: list[Product]
    next_cursor: str | None
    count: int = Field(ge=0)


# ---- other bodies --------------------------------------------------------------------------------
class Health(BaseModel):
    status: Literal["ok"]


class ErrorBody(BaseModel):
    detail: str | list[dict[str, object]]


class TruthBody(BaseModel):
    """Ground truth of a window; see `drp_generator.truth` for the meaning of each count."""

    entity: Literal["orders", "customers", "products"]
    start: Timestamp
    end: Timestamp
    served: int
    valid: int
    invalid: int
    invalid_by_reason: dict[str, int]
    duplicates: int
    drifted: int
    late: int
    distinct_ids: int
    anomalies: dict[str, int]
    collapsed_days: list[str]
    valid_amount: str | None = Field(description="Sum of valid order amounts, decimal string")
    valid_amount_cents: int | None
    valid_amount_cents_by_currency: dict[str, int] | None


class ConfigBody(BaseModel):
    seed: int
    orders_per_day: int
    epoch: str
    max_window_days: int
    max_limit: int
    default_limit: int
    allow_fault_overrides: bool
    faults: dict[str, object]


# ---- query parameters ----------------------------------------------------------------------------
Rate = Annotated[float | None, Field(ge=0.0, le=1.0)]


class FaultQuery(BaseModel):
    """Per-request fault overrides (fractions in [0, 1]); omitted ones keep the server's defaults."""

    model_config = ConfigDict(extra="forbid")

    fault_http500: Rate = Field(None, description="Share of (page, attempt) answered with HTTP 500")
    fault_http429: Rate = Field(None, description="Share of (page, attempt) answered with 429 + Retry-After")
    fault_hang: Rate = Field(None, description="Share of (page, attempt) that hang for fault_hang_seconds")
    fault_truncate: Rate = Field(None, description="Share of (page, attempt) with a truncated body")
    fault_slow: Rate = Field(None, description="Share of (page, attempt) delayed by fault_slow_seconds")
    fault_dupes: Rate = Field(None, description="Share of records served twice")
    fault_invalid: Rate = Field(None, description="Share of records that break the contract")
    fault_late: Rate = Field(None, description="Share of records served late")
    fault_orphans: Rate = Field(None, description="Share of orders referencing a customer that never existed")
    fault_x100: Rate = Field(None, description="Share of orders whose prices and amount are 100x")
    fault_future: Rate = Field(None, description="Share of records with timestamps in the future")
    fault_collapse: Rate = Field(None, description="Share of days whose order volume collapses")
    fault_drift_from: date | None = Field(None, description="Records arriving from this date drift")
    fault_drift: Literal["add", "rename", "both"] | None = Field(None, description="Kind of schema drift")
    fault_slow_seconds: float | None = Field(None, ge=0.0, le=60.0)
    fault_hang_seconds: float | None = Field(None, ge=0.0, le=600.0)
    fault_retry_after: int | None = Field(None, ge=0, le=3600)
    fault_max_attempts: int | None = Field(
        None, ge=0, le=100, description="HTTP faults only hit attempts <= this"
    )
    fault_late_min_hours: int | None = Field(None, ge=1, le=168)
    fault_late_max_hours: int | None = Field(None, ge=1, le=168)
    fault_collapse_factor: float | None = Field(None, ge=0.0, le=1.0)
    fault_future_days: int | None = Field(None, ge=1, le=3650)

    def overrides(self) -> dict[str, object]:
        """The given fields as FaultConfig keyword arguments."""
        out: dict[str, object] = {}
        for name in FaultQuery.model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            key = name.removeprefix("fault_")
            out["max_fault_attempts" if key == "max_attempts" else key] = value
        return out


WindowBound = Annotated[
    str,
    Field(
        pattern=WINDOW_BOUND_PATTERN,
        max_length=40,
        description="ISO-8601 date or date-time; naive values are UTC",
        examples=["2026-11-21", "2026-11-21T00:00:00Z"],
    ),
]


def parse_bound(value: str) -> datetime:
    """Parse a window bound (date or date-time) to an aware UTC datetime."""
    if not _WINDOW_BOUND_RE.match(value):
        raise ValueError("expected an ISO-8601 date or date-time")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class WindowQuery(FaultQuery):
    start: WindowBound = Field(description="Inclusive window start (on arrival time = updated_at)")
    end: WindowBound = Field(description="Exclusive window end")

    @field_validator("start", "end")
    @classmethod
    def _parseable(cls, value: str) -> str:
        try:
            parse_bound(value)
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"not a valid date or date-time: {exc}") from None
        return value


class PageQuery(WindowQuery):
    limit: int | None = Field(None, ge=1, le=10_000, description="Page size (default 1000)")
    cursor: str | None = Field(None, max_length=256, description="Opaque cursor from the previous page")
