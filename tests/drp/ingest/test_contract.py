"""The record contract: valid records pass, each kind of breakage gets its reason code."""

from __future__ import annotations

import copy
import random
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from drp.ingest import contract
from drp.ingest.contract import (
    PACKAGED_CONTRACTS_DIR,
    SPECS,
    ContractError,
    Kind,
    check_record,
    expected_fields,
    fast_path,
    full_check,
    source_record_id,
    specs,
)
from drp.settings import Settings
from drp_domain import CURRENCIES, ORDER_STATUSES, SEGMENTS, Entity

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


# --- the contract files ---------------------------------------------------------------------------
def edited_contracts(tmp_path: Path, edit: dict[str, Any]) -> Path:
    """A copy of the packaged contracts with `edit[entity](doc)` applied to each named entity's doc."""
    target = tmp_path / "contracts"
    shutil.copytree(PACKAGED_CONTRACTS_DIR, target)
    for entity, change in edit.items():
        path = target / f"{entity}.yml"
        doc = yaml.safe_load(path.read_text())
        change(doc)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return target


def add_alias(entity: str, field: str, alias: str) -> dict[str, Any]:
    """An `edited_contracts` edit declaring `alias` for `field` of `entity`."""

    def change(doc: dict[str, Any]) -> None:
        for item in doc["fields"]:
            if item["name"] == field:
                item.setdefault("aliases", []).append(alias)

    return {entity: change}


def test_accepted_values_are_the_domain_vocabulary() -> None:
    assert SPECS[Entity.ORDERS].field("status").allowed == frozenset(ORDER_STATUSES)
    assert SPECS[Entity.ORDERS].field("currency").allowed == frozenset(CURRENCIES)
    assert SPECS[Entity.PRODUCTS].field("currency").allowed == frozenset(CURRENCIES)
    assert SPECS[Entity.CUSTOMERS].field("segment").allowed == frozenset(SEGMENTS)
    enums = {(s.entity, f.name) for s in SPECS.values() for f in s.fields if f.kind is Kind.ENUM}
    assert enums == {
        (Entity.ORDERS, "status"), (Entity.ORDERS, "currency"),
        (Entity.PRODUCTS, "currency"), (Entity.CUSTOMERS, "segment"),
    }  # fmt: skip


def test_the_setting_defaults_to_the_packaged_contracts() -> None:
    assert Settings.model_fields["contracts_dir"].default == PACKAGED_CONTRACTS_DIR
    assert specs() is specs(PACKAGED_CONTRACTS_DIR) is specs(str(PACKAGED_CONTRACTS_DIR))
    assert specs() == SPECS
    assert sorted(p.name for p in PACKAGED_CONTRACTS_DIR.glob("*.yml")) == [
        f"{e.value}.yml" for e in sorted(Entity, key=lambda e: e.value)
    ]


def test_the_packaged_contracts_have_their_fast_paths() -> None:
    # A contract edit that changes a shape silently costs ~3x on every load: keep them in step.
    for entity, spec in SPECS.items():
        assert spec.fast is not contract._no_fast_path, entity
        assert fast_path(entity) is spec.fast and fast_path(spec) is spec.fast
        assert expected_fields(entity) is spec.expected


def test_the_packaged_contracts_declare_no_alias_for_the_drift_drill() -> None:
    # The drift drill renames customer_id to customer_ref: it must still quarantine.
    assert "customer_ref" not in SPECS[Entity.ORDERS].expected
    assert SPECS[Entity.ORDERS].field("customer_id").aliases == ()


def test_an_alias_makes_a_renamed_record_valid(tmp_path: Path) -> None:
    spec = specs(edited_contracts(tmp_path, add_alias("orders", "customer_id", "customer_ref")))[
        Entity.ORDERS
    ]
    assert "customer_ref" in spec.expected
    record = _order(channel="web")
    record["customer_ref"] = record.pop("customer_id")
    checked = check_record(spec, record)
    assert checked.reasons == []
    assert checked.values[1] == "cus_00000042"  # the alias's value, in the field's place
    assert checked.drift == ["channel"]  # the alias is not drift; the added field still is
    # The canonical name wins when both are present; a null under the alias is still null.
    both = {**_order(), "customer_ref": "cus_other"}
    assert check_record(spec, both).values[1] == "cus_00000042" and check_record(spec, both).drift == []
    del record["customer_ref"]
    assert check_record(spec, record).reasons == ["missing_field:customer_id"]
    assert check_record(spec, {**record, "customer_ref": None}).reasons == ["null_field:customer_id"]


def test_a_contract_edited_in_place_is_read_again(tmp_path: Path) -> None:
    directory = edited_contracts(tmp_path, {})
    before = specs(directory)
    assert specs(directory) is before  # unchanged files are not read again
    orders = directory / "orders.yml"
    orders.write_text(
        orders.read_text().replace(
            "    column: customer_id\n", "    column: customer_id\n    aliases: [customer_ref]\n"
        )
    )
    after = specs(directory)
    assert after[Entity.ORDERS].field("customer_id").aliases == ("customer_ref",)
    assert after[Entity.CUSTOMERS] == before[Entity.CUSTOMERS]


def test_an_alias_of_the_id_names_quarantined_records(tmp_path: Path) -> None:
    spec = specs(edited_contracts(tmp_path, add_alias("orders", "order_id", "id")))[Entity.ORDERS]
    record = _order(status="on_hold")
    record["id"] = record.pop("order_id")
    assert check_record(spec, record).reasons == ["invalid_value:status"]
    assert source_record_id(spec, record) == "ord_20261121_000001"


def test_an_edited_contract_is_what_gets_checked(tmp_path: Path) -> None:
    def more_statuses(doc: dict[str, Any]) -> None:
        doc["fields"][2]["values"].append("on_hold")

    def name_required(doc: dict[str, Any]) -> None:
        doc["fields"][1]["required"] = True

    edited = specs(edited_contracts(tmp_path, {"orders": more_statuses, "customers": name_required}))
    # Same shape: the hand-written fast path, with the file's accepted values.
    assert check_record(edited[Entity.ORDERS], _order(status="on_hold")).reasons == []
    assert edited[Entity.ORDERS].fast(_order(status="on_hold")) is not None
    assert check_record(SPECS[Entity.ORDERS], _order(status="on_hold")).reasons == ["invalid_value:status"]
    # Another shape: no fast path, the full check applies the file's rule.
    customers = edited[Entity.CUSTOMERS]
    assert customers.fast is contract._no_fast_path
    assert check_record(customers, {**CUSTOMER, "name": None}).reasons == ["null_field:name"]
    assert check_record(customers, CUSTOMER).reasons == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda doc: doc["fields"][0].update(type="integer"), "unknown type 'integer'"),
        (lambda doc: doc["fields"][2].pop("values"), "`values` belongs to enum fields"),
        (lambda doc: doc["fields"][1].pop("column"), "missing key 'column'"),
        (lambda doc: doc.update(entity="customers"), "the file name says 'orders'"),
        (lambda doc: doc["fields"][1].update(aliases=["status"]), "appear twice: ['status']"),
        (lambda doc: doc["fields"][1].update(required="yes"), "`required` must be true or false"),
    ],
)
def test_a_malformed_contract_is_one_clear_error(tmp_path: Path, change: Any, message: str) -> None:
    directory = edited_contracts(tmp_path, {"orders": change})
    with pytest.raises(ContractError, match=r"orders\.yml") as caught:
        specs(directory)
    assert message in str(caught.value)
    (directory / "orders.yml").unlink()
    with pytest.raises(ContractError, match="cannot read it"):
        specs(directory)  # failures are not cached
