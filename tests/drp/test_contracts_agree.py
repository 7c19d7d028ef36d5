"""The contract files, the dbt sources, the GX suites and Postgres's raw tables agree.

The contracts (`include/drp/contracts/<entity>.yml`) are the one declaration of each entity's
fields; the others restate parts of it: the dbt sources give the raw columns a `data_type`, the GX
suites pin the warehouse's column types (`contracts/columns.json`) and accepted values, and the
raw tables hold the columns. A type or accepted value changed in one place only is a disagreement
here (each kind of change is planted in a temporary copy below, to prove the check sees it).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from drp.ingest.contract import PACKAGED_CONTRACTS_DIR, EntitySpec, Field, Kind, specs
from drp.settings import PROJECT_ROOT, Settings
from drp_domain import Entity

SOURCES_YML = PROJECT_ROOT / "dbt_project/models/staging/generator/_generator__sources.yml"
GX_DIR = PROJECT_ROOT / "great_expectations/expectations"

# What each contract type lands in: Postgres (information_schema: data_type, precision, scale),
# the dbt sources' `data_type`, and DuckDB (the warehouse the GX suites check).
POSTGRES_TYPES = {
    Kind.ID: ("text", None, None),
    Kind.TEXT: ("text", None, None),
    Kind.ENUM: ("text", None, None),
    Kind.MONEY: ("numeric", 12, 2),
    Kind.TS: ("timestamp with time zone", None, None),
    Kind.COUNT: ("integer", 32, 0),
}
DBT_TYPES = {
    Kind.ID: "text",
    Kind.TEXT: "text",
    Kind.ENUM: "text",
    Kind.MONEY: "numeric(12,2)",
    Kind.TS: "timestamp with time zone",
    Kind.COUNT: "integer",
}
DUCKDB_TYPES = {
    Kind.ID: "VARCHAR",
    Kind.TEXT: "VARCHAR",
    Kind.ENUM: "VARCHAR",
    Kind.MONEY: "DECIMAL(12,2)",
    Kind.TS: "TIMESTAMP WITH TIME ZONE",
    Kind.COUNT: "INTEGER",
}
# Warehouse relations the GX suites check, and the contracts whose fields they carry under the
# field's name or its raw column's name. staging.orders mirrors raw: it must carry every column.
RELATIONS: dict[str, tuple[tuple[Entity, ...], bool]] = {
    "staging.orders": ((Entity.ORDERS,), True),
    "analytics.fct_orders": ((Entity.ORDERS,), False),
    "analytics.fct_order_lines": ((Entity.ORDERS,), False),
    "analytics.dim_customers": ((Entity.CUSTOMERS,), False),
    "analytics.dim_products": ((Entity.PRODUCTS,), False),
}

PgColumns = dict[tuple[str, str], tuple[str, int | None, int | None, bool]]


def _landings(spec: EntitySpec) -> Iterator[tuple[str, str, Field]]:
    """(table, column, field) for every contract field, order lines included."""
    for spec_field in spec.fields:
        yield spec.raw_table, spec_field.column, spec_field
    if spec.has_lines:
        order_id, *line_columns, version = spec.lines_columns
        yield spec.lines_table, order_id, spec.field(spec.id_field)
        for line_field, column in zip(spec.line_fields, line_columns, strict=True):
            yield spec.lines_table, column, line_field
        yield spec.lines_table, version, spec.field("updated_at")


def _where(spec_field: Field) -> str:
    return f"{spec_field.name} ({spec_field.kind.value})"


def dbt_disagreements(contracts: dict[Entity, EntitySpec], sources_yml: Path) -> list[str]:
    """Every contract column must be in the dbt source with the contract's type."""
    doc = yaml.safe_load(sources_yml.read_text())
    declared: dict[tuple[str, str], str | None] = {}
    for source in doc["sources"]:
        for table in source.get("tables", []):
            for column in table.get("columns", []):
                key = (f"{source['schema']}.{table['name']}", column["name"])
                declared[key] = column.get("data_type")
    out = []
    for spec in contracts.values():
        for table, column, spec_field in _landings(spec):
            if (table, column) not in declared:
                out.append(f"dbt source {table}.{column}: missing (contract field {_where(spec_field)})")
                continue
            got = re.sub(r"\s*([(),])\s*", r"\1", str(declared[(table, column)]).strip().lower())
            if got != DBT_TYPES[spec_field.kind]:
                out.append(
                    f"dbt source {table}.{column}: data_type {got!r}, the contract's "
                    f"{_where(spec_field)} lands in {DBT_TYPES[spec_field.kind]!r}"
                )
    return out


def _suites(gx_dir: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(gx_dir.rglob("*.json")):
        suite = json.loads(path.read_text())
        for expectation in suite["expectations"]:
            yield suite["name"], expectation


def gx_disagreements(contracts: dict[Entity, EntitySpec], gx_dir: Path) -> list[str]:
    """Warehouse columns named after a contract field have its type; enum sets are its values."""
    names: dict[str, dict[str, Field]] = {}
    for relation, (entities, _) in RELATIONS.items():
        by_name: dict[str, Field] = {}
        for entity in entities:
            spec = contracts[entity]
            for _table, column, spec_field in _landings(spec):
                by_name.setdefault(column, spec_field)
            for spec_field in (*spec.fields, *spec.line_fields):
                by_name.setdefault(spec_field.name, spec_field)
        names[relation] = by_name
    out = []
    signatures: dict[str, dict[str, str]] = {}
    for suite, expectation in _suites(gx_dir):
        kwargs = expectation["kwargs"]
        if kwargs.get("column") == "signature" and suite == "contracts.columns":
            for signature in kwargs.get("value_set", []):
                relation_column, _, type_name = signature.partition(" ")
                relation, _, column = relation_column.rpartition(".")
                signatures.setdefault(relation, {})[column] = type_name
            continue
        spec_field = names.get(suite, {}).get(kwargs.get("column", ""))
        if (
            spec_field is not None
            and spec_field.kind is Kind.ENUM
            and expectation["type"] == "expect_column_values_to_be_in_set"
            and set(kwargs["value_set"]) != spec_field.allowed
        ):
            out.append(
                f"GX {suite}.{kwargs['column']}: accepted values {sorted(kwargs['value_set'])}, "
                f"the contract's {spec_field.name}: {sorted(spec_field.allowed)}"
            )
    if not signatures:
        out.append("GX contracts.columns: no column signatures found")
    for relation, by_name in names.items():
        columns = signatures.get(relation, {})
        if not columns:
            out.append(f"GX contracts.columns: no signatures for {relation}")
        for column, type_name in sorted(columns.items()):
            spec_field = by_name.get(column)
            if spec_field is not None and type_name != DUCKDB_TYPES[spec_field.kind]:
                out.append(
                    f"GX {relation}.{column}: {type_name}, the contract's {_where(spec_field)} "
                    f"is {DUCKDB_TYPES[spec_field.kind]}"
                )
        entities, complete = RELATIONS[relation]
        if complete:
            for entity in entities:
                for spec_field in contracts[entity].fields:
                    if spec_field.column not in columns:
                        out.append(f"GX {relation}: no column {spec_field.column} ({_where(spec_field)})")
    return out


def postgres_disagreements(contracts: dict[Entity, EntitySpec], columns: PgColumns) -> list[str]:
    """Every contract column is in its raw table with the contract's type; nullable fields land
    in nullable columns."""
    out = []
    for spec in contracts.values():
        if not any(table == spec.rejected_table for table, _ in columns):
            out.append(f"Postgres {spec.rejected_table}: no such table")
        for table, column, spec_field in _landings(spec):
            found = columns.get((table, column))
            if found is None:
                out.append(f"Postgres {table}.{column}: missing (contract field {_where(spec_field)})")
                continue
            if found[:3] != POSTGRES_TYPES[spec_field.kind]:
                out.append(f"Postgres {table}.{column}: {found[:3]}, the contract's {_where(spec_field)}")
            if not spec_field.required and not found[3]:
                out.append(
                    f"Postgres {table}.{column}: NOT NULL, the contract's {spec_field.name} may be null"
                )
    return out


def postgres_columns(settings: Settings) -> PgColumns:
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        rows = conn.execute(
            """select table_schema || '.' || table_name, column_name, data_type,
                      numeric_precision, numeric_scale, is_nullable = 'YES'
               from information_schema.columns where table_schema = 'raw'"""
        ).fetchall()
    return {(r[0], r[1]): (r[2], r[3], r[4], r[5]) for r in rows}


# --- the files as committed -----------------------------------------------------------------------
@pytest.mark.unit
def test_dbt_sources_agree_with_the_contracts() -> None:
    assert dbt_disagreements(specs(), SOURCES_YML) == []


@pytest.mark.unit
def test_gx_suites_agree_with_the_contracts() -> None:
    assert gx_disagreements(specs(), GX_DIR) == []


@pytest.mark.integration
def test_raw_tables_agree_with_the_contracts(settings: Settings) -> None:
    columns = postgres_columns(settings)
    assert columns, "no raw tables: is the database migrated?"
    assert postgres_disagreements(specs(), columns) == []


# --- a change in one place only is seen -----------------------------------------------------------
def _contracts_with(tmp_path: Path, entity: str, change: Callable[[dict[str, Any]], None]) -> Path:
    target = tmp_path / "contracts"
    shutil.copytree(PACKAGED_CONTRACTS_DIR, target)
    path = target / f"{entity}.yml"
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return target


@pytest.mark.integration
def test_a_type_changed_in_the_contract_only_is_seen_everywhere(tmp_path: Path, settings: Settings) -> None:
    def amount_is_a_count(doc: dict[str, Any]) -> None:
        doc["fields"][4]["type"] = "count"  # orders.amount

    changed = specs(_contracts_with(tmp_path, "orders", amount_is_a_count))
    dbt = dbt_disagreements(changed, SOURCES_YML)
    gx = gx_disagreements(changed, GX_DIR)
    pg = postgres_disagreements(changed, postgres_columns(settings))
    assert dbt == [
        "dbt source raw.orders_raw.amount: data_type 'numeric(12,2)', the contract's amount (count) lands in 'integer'"
    ]
    assert "GX staging.orders.amount: DECIMAL(12,2), the contract's amount (count) is INTEGER" in gx
    assert "GX analytics.fct_orders.amount: DECIMAL(12,2), the contract's amount (count) is INTEGER" in gx
    assert pg == ["Postgres raw.orders_raw.amount: ('numeric', 12, 2), the contract's amount (count)"]


@pytest.mark.unit
def test_an_enum_changed_in_the_contract_only_is_seen(tmp_path: Path) -> None:
    def one_more_segment(doc: dict[str, Any]) -> None:
        doc["fields"][5]["values"].append("government")  # customers.segment

    gx = gx_disagreements(specs(_contracts_with(tmp_path, "customers", one_more_segment)), GX_DIR)
    assert len(gx) == 1 and gx[0].startswith("GX analytics.dim_customers.segment: accepted values")


@pytest.mark.unit
def test_a_type_changed_in_the_dbt_sources_only_is_seen(tmp_path: Path) -> None:
    sources = tmp_path / SOURCES_YML.name
    text = SOURCES_YML.read_text()
    planted = text.replace(
        "          - name: segment\n            data_type: text\n",
        "          - name: segment\n            data_type: integer\n",
    )
    assert planted != text
    sources.write_text(planted)
    assert dbt_disagreements(specs(), sources) == [
        "dbt source raw.customers_raw.segment: data_type 'integer', the contract's segment (enum) lands in 'text'"
    ]
    sources.write_text(
        text.replace(
            "          - name: order_updated_at\n            data_type: timestamp with time zone\n", ""
        )
    )
    assert dbt_disagreements(specs(), sources) == [
        "dbt source raw.order_lines_raw.order_updated_at: missing (contract field updated_at (timestamp))"
    ]


@pytest.mark.unit
def test_a_type_or_value_changed_in_a_gx_suite_only_is_seen(tmp_path: Path) -> None:
    copy = tmp_path / "expectations"
    shutil.copytree(GX_DIR, copy)
    columns = copy / "contracts/columns.json"
    text = columns.read_text()
    columns.write_text(
        text.replace(
            '"analytics.fct_order_lines.quantity INTEGER"', '"analytics.fct_order_lines.quantity BIGINT"'
        )
    )
    assert gx_disagreements(specs(), copy) == [
        "GX analytics.fct_order_lines.quantity: BIGINT, the contract's quantity (count) is INTEGER"
    ]
    columns.write_text(text)
    orders = copy / "staging/orders.json"
    suite = json.loads(orders.read_text())
    for expectation in suite["expectations"]:
        if expectation["kwargs"].get("column") == "status" and "value_set" in expectation["kwargs"]:
            expectation["kwargs"]["value_set"].remove("returned")
    orders.write_text(json.dumps(suite))
    gx = gx_disagreements(specs(), copy)
    assert len(gx) == 1 and gx[0].startswith("GX staging.orders.status: accepted values")


@pytest.mark.integration
def test_a_type_changed_in_postgres_only_is_seen(settings: Settings) -> None:
    columns = dict(postgres_columns(settings))
    columns[("raw.order_lines_raw", "quantity")] = ("bigint", 64, 0, False)
    columns[("raw.customers_raw", "email")] = ("text", None, None, False)
    assert postgres_disagreements(specs(), columns) == [
        "Postgres raw.order_lines_raw.quantity: ('bigint', 64, 0), the contract's quantity (count)",
        "Postgres raw.customers_raw.email: NOT NULL, the contract's email may be null",
    ]
