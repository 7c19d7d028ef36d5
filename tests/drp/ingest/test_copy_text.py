"""The loader's COPY text survives a round trip through Postgres, whatever the strings hold."""

from __future__ import annotations

import copy
import hashlib
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
import psycopg
import pytest

from drp.ingest.contract import SPECS
from drp.ingest.loader import (
    BATCH_COLUMNS,
    REJECTED_COLUMNS,
    _copy_page,
    _copy_stmt,
    _PageBuilder,
    _State,
    _Statements,
)
from drp_domain import Entity
from tests.drp.ingest.test_builder import _Archive
from tests.drp.ingest.test_contract import CUSTOMER, ORDER

pytestmark = pytest.mark.integration

NASTY = ["tab\there", "back\\slash", "new\nline", "cr\rret", 'quote"s', "ünïcødé ✓", "\\N", "a\\tb"]


def _builder(entity: Entity) -> tuple[_PageBuilder, _State]:
    state = _State()
    builder = _PageBuilder(
        spec=SPECS[entity], state=state, archive=_Archive(),  # type: ignore[arg-type]
        batch_id=UUID(int=7), source_system="src\twith tab",
        start=datetime(2003, 1, 1, tzinfo=UTC), end=datetime(2003, 1, 2, tzinfo=UTC),
    )  # fmt: skip
    return builder, state


def _temp_like(conn: psycopg.Connection, table: str) -> str:
    name = "t_" + table.split(".")[1]
    conn.execute(f"create temp table {name} (like {table} including all)")
    return name


def test_orders_lines_and_rejects_round_trip(pg: psycopg.Connection) -> None:
    spec = SPECS[Entity.ORDERS]
    records: list[Any] = []
    for i, text in enumerate(NASTY):
        record = copy.deepcopy(ORDER)
        record["order_id"] = f"o{i}-{text}"
        record["customer_id"] = text
        record["amount"] = [0.01, 12345678.9, 7, 0][i % 4]
        record["lines"][0]["product_id"] = text
        record["note"] = text  # drift: kept in the payload
        records.append(record)
    records.append({**copy.deepcopy(ORDER), "order_id": None, "customer_id": NASTY[0]})  # reject
    builder, state = _builder(Entity.ORDERS)
    page = builder.build(records)
    with pg.transaction(force_rollback=True):
        raw, lines, rejected = (
            _temp_like(pg, t) for t in (spec.raw_table, "raw.order_lines_raw", spec.rejected_table)
        )
        stmts = _Statements(
            raw=_copy_stmt(raw, (*spec.raw_columns, *BATCH_COLUMNS, "record_hash", "raw_payload")),
            lines=_copy_stmt(
                lines,
                (
                    "source_order_id",
                    "line_number",
                    "product_id",
                    "quantity",
                    "unit_price",
                    "order_updated_at",
                    *BATCH_COLUMNS,
                ),
            ),
            rejected=_copy_stmt(rejected, REJECTED_COLUMNS),
        )
        copied: Counter[str] = Counter()
        _copy_page(pg.cursor(), stmts, page, copied)
        assert copied == {"raw": len(NASTY), "lines": 2 * len(NASTY), "rejected": 1}
        got = pg.execute(
            f"select source_order_id, customer_id, amount, raw_payload, source_system, order_created_at "
            f"from {raw} order by id"
        ).fetchall()
        for (oid, cid, amount, payload, source, created), record in zip(got, records, strict=False):
            assert (oid, cid, payload, source) == (
                record["order_id"],
                record["customer_id"],
                record,
                "src\twith tab",
            )
            assert amount == Decimal(str(record["amount"]))
            assert created == datetime(2026, 11, 21, 13, 45, 12, tzinfo=UTC)
        products = [
            r[0] for r in pg.execute(f"select product_id from {lines} where line_number = 1 order by id")
        ]
        assert products == NASTY
        reject = pg.execute(f"select source_record_id, reasons, raw_payload from {rejected}").fetchone()
        assert reject == (None, ["null_field:order_id"], records[-1])
    assert state.loaded == len(NASTY)


def test_customers_with_nulls_round_trip(pg: psycopg.Connection) -> None:
    spec = SPECS[Entity.CUSTOMERS]
    records = [
        {**CUSTOMER, "customer_id": f"c{i}", "name": text, "email": None, "city": text}
        for i, text in enumerate(NASTY)
    ]
    builder, _state = _builder(Entity.CUSTOMERS)
    page = builder.build(records)
    with pg.transaction(force_rollback=True):
        raw, rejected = _temp_like(pg, spec.raw_table), _temp_like(pg, spec.rejected_table)
        stmts = _Statements(
            raw=_copy_stmt(raw, (*spec.raw_columns, *BATCH_COLUMNS, "record_hash", "raw_payload")),
            lines=None,
            rejected=_copy_stmt(rejected, REJECTED_COLUMNS),
        )
        _copy_page(pg.cursor(), stmts, page, Counter())
        got = pg.execute(
            f"select name, email, city, segment, raw_payload, record_hash from {raw} order by id"
        ).fetchall()
    assert [(r[0], r[1], r[2], r[3]) for r in got] == [(t, None, t, "consumer") for t in NASTY]
    assert [r[4] for r in got] == records
    assert [r[5] for r in got] == [
        hashlib.sha256(orjson.dumps(r, option=orjson.OPT_SORT_KEYS)).hexdigest() for r in records
    ]
