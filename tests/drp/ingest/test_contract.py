"""The record contract: valid records pass, each kind of breakage gets its reason code."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from drp.ingest.contract import SPECS, check_record, full_check, source_record_id
from drp_domain import Entity

pytestmark = pytest.mark.unit

ORDER: dict[str, Any] = {
    "order_id": "ord_20261121_000001",
    "customer_id": "cus_00000042",
    "status": "paid",
    "currency": "EUR",
    "amount": 25.8,
    "lines": [
        {"line_number": 1, "product_id": "prd_000001", "quantity": 2, "unit_price": 10.0},
        {"line_number": 2, "product_id": "prd_000002", "quantity": 1, "unit_price": 5.8},
    ],
    "created_at": "2026-11-21T13:45:12Z",
    "updated_at": "2026-11-21T14:00:00Z",
}
CUSTOMER: dict[str, Any] = {
    "customer_id": "cus_00000042",
    "name": "Ada Lovelace",
    "email": "ada.lovelace42@example.com",
    "country": "GB",
    "city": "London",
    "segment": "consumer",
    "created_at": "2026-11-21T13:45:12Z",
    "updated_at": "2026-11-21T13:45:12Z",
}
PRODUCT: dict[str, Any] = {
    "product_id": "prd_000001",
    "name": "Smart Lamp",
    "category": "home",
    "unit_price": 19.99,
    "currency": "USD",
    "created_at": "2026-11-21T13:45:12Z",
    "updated_at": "2026-11-21T13:45:12Z",
}


def _order(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(ORDER)
    out.update(changes)
    return out


def test_valid_records_pass_and_convert() -> None:
    checked = check_record(SPECS[Entity.ORDERS], ORDER)
    assert checked.reasons == [] and checked.drift == []
    assert checked.values[0] == "ord_20261121_000001"
    assert checked.values[5] == "2026-11-21T13:45:12Z"
    assert checked.lines == [(1, "prd_000001", 2, 10.0), (2, "prd_000002", 1, 5.8)]
    assert check_record(SPECS[Entity.CUSTOMERS], CUSTOMER).reasons == []
    assert check_record(SPECS[Entity.PRODUCTS], PRODUCT).reasons == []


@pytest.mark.parametrize(
    ("changes", "reasons"),
    [
        ({"order_id": None}, ["null_field:order_id"]),
        ({"amount": -12.5}, ["negative_value:amount"]),
        ({"amount": "abc"}, ["wrong_type:amount"]),
        ({"amount": True}, ["wrong_type:amount"]),
        ({"amount": 1.234}, ["invalid_value:amount"]),
        ({"amount": 1e12}, ["invalid_value:amount"]),
        ({"status": "on_hold"}, ["invalid_value:status"]),
        ({"currency": "JPY"}, ["invalid_value:currency"]),
        ({"updated_at": "2026-13-45T25:61:00Z"}, ["invalid_timestamp:updated_at"]),
        ({"updated_at": "2026-11-21 13:45:12"}, ["invalid_timestamp:updated_at"]),  # no offset
        ({"updated_at": ""}, ["invalid_timestamp:updated_at"]),
        ({"updated_at": 1_700_000_000}, ["wrong_type:updated_at"]),
        ({"order_id": ""}, ["invalid_value:order_id"]),
        ({"order_id": "a\x00b"}, ["invalid_value:order_id"]),
        ({"lines": None}, ["null_field:lines"]),
        ({"lines": "x"}, ["wrong_type:lines"]),
        ({"lines": []}, ["invalid_value:lines"]),
        (
            {"lines": [{"line_number": 1, "product_id": "p", "quantity": -1, "unit_price": 1.0}]},
            ["negative_value:lines.quantity"],
        ),
        (
            {"lines": [{"line_number": 1, "product_id": "p", "quantity": 2**40, "unit_price": 1.0}]},
            ["invalid_value:lines.quantity"],
        ),
        (
            {"lines": [{"line_number": 1, "quantity": 1, "unit_price": 1.0}]},
            ["missing_field:lines.product_id"],
        ),
        (
            {
                "lines": [
                    {"line_number": 1, "product_id": "p", "quantity": 1, "unit_price": 1.0},
                    {"line_number": 1, "product_id": "q", "quantity": 1, "unit_price": 1.0},
                ]
            },
            ["duplicate_value:lines.line_number"],
        ),
        ({"order_id": 7, "status": None}, ["wrong_type:order_id", "null_field:status"]),
    ],
)
def test_order_reasons(changes: dict[str, Any], reasons: list[str]) -> None:
    assert check_record(SPECS[Entity.ORDERS], _order(**changes)).reasons == reasons


def test_other_timestamp_forms_are_normalised() -> None:
    checked = check_record(SPECS[Entity.ORDERS], _order(updated_at="2026-11-21T14:00:00.5+01:00"))
    assert checked.reasons == []
    assert checked.values[6] == "2026-11-21T14:00:00.500000+01:00"
    assert datetime.fromisoformat(checked.values[6]) == datetime(2026, 11, 21, 13, 0, 0, 500000, tzinfo=UTC)


def test_renamed_field_is_missing_and_drift() -> None:
    record = _order(channel="web")
    record["customer_ref"] = record.pop("customer_id")
    checked = check_record(SPECS[Entity.ORDERS], record)
    assert checked.reasons == ["missing_field:customer_id"]
    assert checked.drift == ["channel", "customer_ref"]


def test_added_field_is_drift_only() -> None:
    checked = check_record(SPECS[Entity.CUSTOMERS], {**CUSTOMER, "loyalty_tier": "gold"})
    assert checked.reasons == [] and checked.drift == ["loyalty_tier"]
    record = _order()
    record["lines"][0]["discount"] = 0.1
    checked = check_record(SPECS[Entity.ORDERS], record)
    assert checked.reasons == [] and checked.drift == ["lines.discount"]


def test_customer_and_product_reasons() -> None:
    customers, products = SPECS[Entity.CUSTOMERS], SPECS[Entity.PRODUCTS]
    assert check_record(customers, {**CUSTOMER, "country": 840}).reasons == ["wrong_type:country"]
    assert check_record(customers, {**CUSTOMER, "segment": "vip"}).reasons == ["invalid_value:segment"]
    assert check_record(customers, {**CUSTOMER, "name": None}).reasons == []  # nullable text
    assert check_record(products, {**PRODUCT, "unit_price": -1.5}).reasons == ["negative_value:unit_price"]
    renamed = {k: v for k, v in PRODUCT.items() if k != "category"} | {"category_name": "home"}
    checked = check_record(products, renamed)
    assert checked.reasons == ["missing_field:category"] and checked.drift == ["category_name"]


def test_not_an_object() -> None:
    assert check_record(SPECS[Entity.ORDERS], [1, 2]).reasons == ["not_an_object"]
    assert source_record_id(SPECS[Entity.ORDERS], [1, 2]) is None


def test_source_record_id_any_type() -> None:
    spec = SPECS[Entity.ORDERS]
    assert source_record_id(spec, ORDER) == "ord_20261121_000001"
    assert source_record_id(spec, _order(order_id=12)) == "12"
    assert source_record_id(spec, _order(order_id=None)) is None


def _mutations(base: dict[str, Any], seed: int) -> list[Any]:
    """Many small breakages of a valid record (types, values, missing keys, extra keys)."""
    rng = random.Random(seed)
    bad_values: list[Any] = [
        None, "", " ", "x", "a\x00b", 0, -1, 1, 2**31, 1.5, 1.234, -0.01, 1e10, True, [], {}, [1],
        "2026-11-21T13:45:12Z", "2026-11-21T13:45:12", "2026-11-21 13:45:12+00:00", "yesterday",
        "paid", "on_hold", "USD", "JPY", "consumer", "vip",
    ]  # fmt: skip
    out: list[Any] = [copy.deepcopy(base)]
    keys = list(base)
    for _ in range(400):
        record = copy.deepcopy(base)
        for _ in range(rng.randint(1, 2)):
            action = rng.random()
            key = rng.choice(keys)
            if action < 0.6:
                record[key] = rng.choice(bad_values)
            elif action < 0.75:
                record.pop(key, None)
            elif action < 0.85:
                record["extra_field"] = 1
            elif "lines" in record and isinstance(record["lines"], list) and record["lines"]:
                line = record["lines"][0]
                if isinstance(line, dict):
                    lkey = rng.choice(["line_number", "product_id", "quantity", "unit_price", "extra"])
                    line[lkey] = rng.choice(bad_values)
        out.append(record)
    return out


@pytest.mark.parametrize(
    ("entity", "base"), [("orders", ORDER), ("customers", CUSTOMER), ("products", PRODUCT)]
)
def test_fast_path_agrees_with_full_check(entity: str, base: dict[str, Any]) -> None:
    spec = SPECS[Entity(entity)]
    accepted = 0
    for record in _mutations(base, seed=len(entity)):
        fast, full = check_record(spec, record), full_check(spec, record)
        assert fast.reasons == full.reasons, record
        assert fast.drift == full.drift, record
        if not full.reasons:
            accepted += 1
            assert fast.values == full.values and fast.lines == full.lines, record
    assert accepted > 10  # the mutations also produce valid variants (extra fields, nullable text)
