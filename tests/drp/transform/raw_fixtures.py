"""Hand-made raw data for the dbt tests: three days of orders, customers and products.

Rows are written straight into the raw tables and the batch registry, the way the ingestion
leaves them (raw tables are the interface between ingestion and dbt). The story, per day
(every day's data arrives in that day's batch, interval [day, day + 1)):

Day 1 (2026-11-01)
    customers C-1 Paris/retail, C-2 London/smb, C-3 Berlin/enterprise; products P-1..P-3
    O-1001 placed; O-1002 placed (delivered twice by a retry); O-1003 placed then paid;
    O-1004 placed then cancelled (both versions in the same batch)
Day 2 (2026-11-02)
    O-1001 paid; O-1002 shipped; O-1003 shipped; O-1005, O-1006 (2 lines) placed;
    C-1 moves to Lyon; P-2's price changes
Day 3 (2026-11-03)
    O-1001 delivered; O-1003 returned; O-1005 cancelled; O-1006 paid with one line removed;
    O-1007 placed; late record O-1008, created and last updated on day 1; a stale late
    version of O-1002 (paid, older than its day-2 "shipped"); C-2 becomes enterprise; C-3
    re-sent unchanged.

Expected final state: 8 orders; order dates day 1: 5 orders, day 2: 2, day 3: 1.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

DAY1 = datetime(2026, 11, 1, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY2 + timedelta(days=1)
DAY4 = DAY3 + timedelta(days=1)
DAYS = (DAY1, DAY2, DAY3)
SOURCE_SYSTEM = "generator"


def at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day + timedelta(hours=hour, minutes=minute)


@dataclass
class Order:
    source_order_id: str
    customer_id: str
    status: str
    currency: str
    amount: Decimal
    order_created_at: datetime
    updated_at: datetime
    lines: list[tuple[str, int, Decimal]] = field(default_factory=list)  # product, quantity, price


@dataclass
class Customer:
    source_customer_id: str
    name: str
    email: str
    country: str
    city: str
    segment: str
    customer_created_at: datetime
    updated_at: datetime


@dataclass
class Product:
    source_product_id: str
    name: str
    category: str
    unit_price: Decimal
    currency: str
    product_created_at: datetime
    updated_at: datetime


def _payload_hash(payload: dict[str, Any]) -> tuple[str, str]:
    text = json.dumps(payload, sort_keys=True, default=str)
    return text, hashlib.sha256(text.encode()).hexdigest()


class RawWriter:
    """Writes raw rows and their live batch, the way a successful ingestion leaves them."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def _batch(self, entity: str, start: datetime, count: int, status: str = "succeeded") -> uuid.UUID:
        batch_id = uuid.uuid4()
        self.conn.execute(
            """insert into ops.ingest_batches (batch_id, source_system, entity, data_interval_start,
                   data_interval_end, status, received, loaded, started_at, ended_at)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (
                batch_id,
                SOURCE_SYSTEM,
                entity,
                start,
                start + timedelta(days=1),
                status,
                count,
                count,
                start + timedelta(days=1, minutes=5),
                start + timedelta(days=1, minutes=6),
            ),
        )
        return batch_id

    def orders(self, start: datetime, orders: list[Order], status: str = "succeeded") -> uuid.UUID:
        batch_id = self._batch("orders", start, len(orders), status)
        ingested_at = start + timedelta(days=1, minutes=5)
        for order in orders:
            payload = {
                "id": order.source_order_id,
                "customer_id": order.customer_id,
                "status": order.status,
                "currency": order.currency,
                "amount": str(order.amount),
                "created_at": order.order_created_at.isoformat(),
                "updated_at": order.updated_at.isoformat(),
                "lines": [{"product_id": p, "quantity": q, "unit_price": str(u)} for p, q, u in order.lines],
            }
            text, digest = _payload_hash(payload)
            self.conn.execute(
                """insert into raw.orders_raw (source_order_id, customer_id, status, currency, amount,
                       order_created_at, updated_at, ingested_at, batch_id, source_system,
                       data_interval_start, data_interval_end, record_hash, raw_payload)
                   values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)""",
                (
                    order.source_order_id,
                    order.customer_id,
                    order.status,
                    order.currency,
                    order.amount,
                    order.order_created_at,
                    order.updated_at,
                    ingested_at,
                    batch_id,
                    SOURCE_SYSTEM,
                    start,
                    start + timedelta(days=1),
                    digest,
                    text,
                ),
            )
            for number, (product_id, quantity, unit_price) in enumerate(order.lines, start=1):
                self.conn.execute(
                    """insert into raw.order_lines_raw (source_order_id, line_number, product_id, quantity,
                           unit_price, order_updated_at, ingested_at, batch_id, source_system,
                           data_interval_start, data_interval_end)
                       values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                    (
                        order.source_order_id,
                        number,
                        product_id,
                        quantity,
                        unit_price,
                        order.updated_at,
                        ingested_at,
                        batch_id,
                        SOURCE_SYSTEM,
                        start,
                        start + timedelta(days=1),
                    ),
                )
        return batch_id

    def customers(self, start: datetime, customers: list[Customer]) -> uuid.UUID:
        batch_id = self._batch("customers", start, len(customers))
        for c in customers:
            text, digest = _payload_hash(c.__dict__)
            self.conn.execute(
                """insert into raw.customers_raw (source_customer_id, name, email, country, city, segment,
                       customer_created_at, updated_at, ingested_at, batch_id, source_system,
                       data_interval_start, data_interval_end, record_hash, raw_payload)
                   values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)""",
                (
                    c.source_customer_id,
                    c.name,
                    c.email,
                    c.country,
                    c.city,
                    c.segment,
                    c.customer_created_at,
                    c.updated_at,
                    start + timedelta(days=1, minutes=5),
                    batch_id,
                    SOURCE_SYSTEM,
                    start,
                    start + timedelta(days=1),
                    digest,
                    text,
                ),
            )
        return batch_id

    def products(self, start: datetime, products: list[Product]) -> uuid.UUID:
        batch_id = self._batch("products", start, len(products))
        for p in products:
            text, digest = _payload_hash(p.__dict__)
            self.conn.execute(
                """insert into raw.products_raw (source_product_id, name, category, unit_price, currency,
                       product_created_at, updated_at, ingested_at, batch_id, source_system,
                       data_interval_start, data_interval_end, record_hash, raw_payload)
                   values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)""",
                (
                    p.source_product_id,
                    p.name,
                    p.category,
                    p.unit_price,
                    p.currency,
                    p.product_created_at,
                    p.updated_at,
                    start + timedelta(days=1, minutes=5),
                    batch_id,
                    SOURCE_SYSTEM,
                    start,
                    start + timedelta(days=1),
                    digest,
                    text,
                ),
            )
        return batch_id


D = Decimal
CREATED = datetime(2026, 10, 1, 8, tzinfo=UTC)


def _customers_day1() -> list[Customer]:
    return [
        Customer("C-1", "Ada Lovelace", "Ada@Example.com", "FR", "Paris", "retail", CREATED, CREATED),
        Customer("C-2", "Bo Brown", "bo@example.com", "GB", "London", "smb", CREATED, CREATED),
        Customer("C-3", "Cy Weber", "cy@example.com", "DE", "Berlin", "enterprise", CREATED, CREATED),
    ]


def _products_day1() -> list[Product]:
    return [
        Product("P-1", "Espresso beans 1kg", "coffee", D("25.00"), "USD", CREATED, CREATED),
        Product("P-2", "Grinder", "equipment", D("50.00"), "USD", CREATED, CREATED),
        Product("P-3", "Paper filters", "accessories", D("13.50"), "USD", CREATED, CREATED),
    ]


def _o1001(status: str, updated: datetime) -> Order:
    return Order(
        "O-1001",
        "C-1",
        status,
        "USD",
        D("100.00"),
        at(DAY1, 9),
        updated,
        [("P-1", 2, D("25.00")), ("P-2", 1, D("50.00"))],
    )


def _o1002(status: str, updated: datetime) -> Order:
    return Order("O-1002", "C-2", status, "EUR", D("40.50"), at(DAY1, 10), updated, [("P-3", 3, D("13.50"))])


def _o1003(status: str, updated: datetime) -> Order:
    return Order(
        "O-1003",
        "C-3",
        status,
        "GBP",
        D("75.25"),
        at(DAY1, 11),
        updated,
        [("P-1", 1, D("25.00")), ("P-2", 1, D("50.25"))],
    )


def _o1006_two_lines(status: str, updated: datetime) -> Order:
    # Two lines: filters, and a free sample of beans that the day-3 version drops.
    return Order(
        "O-1006",
        "C-2",
        status,
        "EUR",
        D("27.00"),
        at(DAY2, 11),
        updated,
        [("P-3", 2, D("13.50")), ("P-1", 1, D("0.00"))],
    )


def load_day(conn: psycopg.Connection[Any], day: int) -> None:
    """Write day 1, 2 or 3 of the story into raw (one live batch per entity)."""
    writer = RawWriter(conn)
    if day == 1:
        writer.customers(DAY1, _customers_day1())
        writer.products(DAY1, _products_day1())
        writer.orders(
            DAY1,
            [
                _o1001("placed", at(DAY1, 9)),
                _o1002("placed", at(DAY1, 10)),
                _o1002("placed", at(DAY1, 10)),  # a retry delivered the same version twice
                _o1003("placed", at(DAY1, 11)),
                _o1003("paid", at(DAY1, 11, 30)),
                Order(
                    "O-1004",
                    "C-1",
                    "placed",
                    "USD",
                    D("20.00"),
                    at(DAY1, 12),
                    at(DAY1, 12),
                    [("P-3", 1, D("20.00"))],
                ),
                Order(
                    "O-1004",
                    "C-1",
                    "cancelled",
                    "USD",
                    D("20.00"),
                    at(DAY1, 12),
                    at(DAY1, 12, 30),
                    [("P-3", 1, D("20.00"))],
                ),
            ],
        )
    elif day == 2:
        c1 = _customers_day1()[0]
        c1.city, c1.updated_at = "Lyon", at(DAY2, 7)
        writer.customers(DAY2, [c1])
        p2 = _products_day1()[1]
        p2.unit_price, p2.updated_at = D("55.00"), at(DAY2, 6)
        writer.products(DAY2, [p2])
        writer.orders(
            DAY2,
            [
                _o1001("paid", at(DAY2, 8)),
                _o1002("shipped", at(DAY2, 9)),
                _o1003("shipped", at(DAY2, 12)),
                Order(
                    "O-1005",
                    "C-1",
                    "placed",
                    "USD",
                    D("60.00"),
                    at(DAY2, 10),
                    at(DAY2, 10),
                    [("P-2", 1, D("55.00")), ("P-3", 1, D("5.00"))],
                ),
                _o1006_two_lines("placed", at(DAY2, 11)),
            ],
        )
    elif day == 3:
        c2 = _customers_day1()[1]
        c2.segment, c2.updated_at = "enterprise", at(DAY3, 8)
        c3 = _customers_day1()[2]
        c3.updated_at = at(DAY3, 9)  # re-sent without any change
        writer.customers(DAY3, [c2, c3])
        writer.orders(
            DAY3,
            [
                _o1001("delivered", at(DAY3, 8)),
                _o1003("returned", at(DAY3, 13)),
                Order(
                    "O-1005",
                    "C-1",
                    "cancelled",
                    "USD",
                    D("60.00"),
                    at(DAY2, 10),
                    at(DAY3, 9),
                    [("P-2", 1, D("55.00")), ("P-3", 1, D("5.00"))],
                ),
                Order(
                    "O-1006",
                    "C-2",
                    "paid",
                    "EUR",
                    D("27.00"),
                    at(DAY2, 11),
                    at(DAY3, 10),
                    [("P-3", 2, D("13.50"))],
                ),
                Order(
                    "O-1007",
                    "C-3",
                    "placed",
                    "GBP",
                    D("99.99"),
                    at(DAY3, 12),
                    at(DAY3, 12),
                    [("P-1", 4, D("25.00"))],
                ),
                # Late: created and last updated on day 1, delivered by the source only on day 3.
                Order(
                    "O-1008",
                    "C-2",
                    "placed",
                    "USD",
                    D("45.00"),
                    at(DAY1, 22),
                    at(DAY1, 22),
                    [("P-3", 3, D("15.00"))],
                ),
                # Stale late version of O-1002: older than the "shipped" already stored.
                _o1002("paid", at(DAY1, 20)),
            ],
        )
    else:
        raise ValueError(f"no day {day} in the story")


def load_all_days(conn: psycopg.Connection[Any]) -> None:
    for day in (1, 2, 3):
        load_day(conn, day)


EXPECTED_STATUSES = {
    "O-1001": "delivered",
    "O-1002": "shipped",
    "O-1003": "returned",
    "O-1004": "cancelled",
    "O-1005": "cancelled",
    "O-1006": "paid",
    "O-1007": "placed",
    "O-1008": "placed",
}
EXPECTED_ORDERS_PER_DATE = {date(2026, 11, 1): 5, date(2026, 11, 2): 2, date(2026, 11, 3): 1}
EXPECTED_TOTAL_AMOUNT = (
    D("100.00") + D("40.50") + D("75.25") + D("20.00") + D("60.00") + D("27.00") + D("99.99") + D("45.00")
)
