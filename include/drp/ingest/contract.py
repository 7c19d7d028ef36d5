"""The record contract of each source entity, checked by hand-written validators.

Hand-written rather than pydantic because this runs once per record on the hot path of the load:
a valid record goes through a straight-line fast path (a few µs per order with its lines); any
other record gets the field-by-field check, which reports *every* broken field as a reason code
instead of stopping at the first. Tests check that both paths agree.

Reason codes are `<code>:<field>` (line fields are `lines.<field>`):

* `missing_field` - the key is absent (e.g. renamed by schema drift: `missing_field:customer_id`);
* `null_field` - a required value is null;
* `wrong_type` - e.g. a string where a number belongs, a bool where an integer belongs;
* `invalid_value` - not one of the enumerated values, empty (an id, or an order without lines),
  NUL characters, more than two decimals, or out of the column's range (anything that would make
  the database refuse or silently alter the value);
* `negative_value` - a negative amount, price or quantity;
* `invalid_timestamp` - not an ISO-8601 timestamp with a UTC offset;
* `duplicate_value:lines.line_number` - two lines of one order share a number;
* `not_an_object` - the record is not a JSON object at all.

Fields not in the contract are *drift*: they do not reject a record (its full payload is kept in
`raw_payload`) but are counted per field for the batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, NamedTuple

from drp_domain import CURRENCIES as _CURRENCIES
from drp_domain import ORDER_STATUSES as _ORDER_STATUSES
from drp_domain import SEGMENTS as _SEGMENTS
from drp_domain import Entity

# Sets for the hot path's membership tests.
ORDER_STATUSES: Final = frozenset(_ORDER_STATUSES)
CURRENCIES: Final = frozenset(_CURRENCIES)
SEGMENTS: Final = frozenset(_SEGMENTS)

# numeric(12, 2) holds |x| < 10^10; integer columns are int4.
MAX_MONEY: Final = 1e10
MAX_INT4: Final = 2_147_483_647

_MISSING: Final = object()


class Kind(StrEnum):
    ID = "id"  # non-empty string, required
    TEXT = "text"  # string or null
    ENUM = "enum"  # one of a fixed set, required
    MONEY = "money"  # number >= 0 with at most two decimals, required
    TS = "ts"  # ISO-8601 timestamp with offset, required
    COUNT = "count"  # integer >= 1 (line numbers, quantities), required


# Kind codes as small ints: the hot path compares literals, not enum members (slow on 3.11).
_CODES: Final = {Kind.ID: 0, Kind.TEXT: 1, Kind.ENUM: 2, Kind.MONEY: 3, Kind.TS: 4, Kind.COUNT: 5}


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: Kind
    allowed: frozenset[str] = frozenset()
    code: int = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", _CODES[self.kind])


class Checked(NamedTuple):
    """The outcome of checking one record (a NamedTuple: cheap to build on the hot path).

    Attributes:
        values: the contract fields in spec order; timestamps as ISO-8601 text with an offset
            (the received text when in the contract's `...T13:45:12Z` form); meaningless when
            `reasons` is non-empty.
        reasons: reason codes; empty means the record honours the contract.
        drift: fields present in the record but not in the contract (`lines.<f>` for line fields).
        lines: for orders, each line's values (line_number, product_id, quantity, unit_price).
    """

    values: list[Any]
    reasons: list[str]
    drift: list[str]
    lines: list[tuple[int, str, int, float]]


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """What an entity's records must look like and where they land."""

    entity: Entity
    id_field: str
    fields: tuple[Field, ...]
    raw_table: str
    raw_columns: tuple[str, ...]  # the contract columns, in `fields` order
    rejected_table: str
    has_lines: bool = False

    @property
    def expected(self) -> frozenset[str]:
        return _EXPECTED[self.entity]


LINE_FIELDS: Final = (
    Field("line_number", Kind.COUNT),
    Field("product_id", Kind.ID),
    Field("quantity", Kind.COUNT),
    Field("unit_price", Kind.MONEY),
)
LINE_KEYS: Final = frozenset(f.name for f in LINE_FIELDS)
_LINE_CHECKS: Final = tuple((f, f.name, f"lines.{f.name}") for f in LINE_FIELDS)

SPECS: Final[dict[Entity, EntitySpec]] = {
    Entity.ORDERS: EntitySpec(
        entity=Entity.ORDERS,
        id_field="order_id",
        fields=(
            Field("order_id", Kind.ID),
            Field("customer_id", Kind.ID),
            Field("status", Kind.ENUM, ORDER_STATUSES),
            Field("currency", Kind.ENUM, CURRENCIES),
            Field("amount", Kind.MONEY),
            Field("created_at", Kind.TS),
            Field("updated_at", Kind.TS),
        ),
        raw_table="raw.orders_raw",
        raw_columns=(
            "source_order_id",
            "customer_id",
            "status",
            "currency",
            "amount",
            "order_created_at",
            "updated_at",
        ),
        rejected_table="raw.orders_rejected",
        has_lines=True,
    ),
    Entity.CUSTOMERS: EntitySpec(
        entity=Entity.CUSTOMERS,
        id_field="customer_id",
        fields=(
            Field("customer_id", Kind.ID),
            Field("name", Kind.TEXT),
            Field("email", Kind.TEXT),
            Field("country", Kind.TEXT),
            Field("city", Kind.TEXT),
            Field("segment", Kind.ENUM, SEGMENTS),
            Field("created_at", Kind.TS),
            Field("updated_at", Kind.TS),
        ),
        raw_table="raw.customers_raw",
        raw_columns=(
            "source_customer_id",
            "name",
            "email",
            "country",
            "city",
            "segment",
            "customer_created_at",
            "updated_at",
        ),
        rejected_table="raw.customers_rejected",
    ),
    Entity.PRODUCTS: EntitySpec(
        entity=Entity.PRODUCTS,
        id_field="product_id",
        fields=(
            Field("product_id", Kind.ID),
            Field("name", Kind.TEXT),
            Field("category", Kind.TEXT),
            Field("unit_price", Kind.MONEY),
            Field("currency", Kind.ENUM, CURRENCIES),
            Field("created_at", Kind.TS),
            Field("updated_at", Kind.TS),
        ),
        raw_table="raw.products_raw",
        raw_columns=(
            "source_product_id",
            "name",
            "category",
            "unit_price",
            "currency",
            "product_created_at",
            "updated_at",
        ),
        rejected_table="raw.products_rejected",
    ),
}
_EXPECTED: Final = {
    entity: frozenset(f.name for f in spec.fields) | ({"lines"} if spec.has_lines else frozenset())
    for entity, spec in SPECS.items()
}
LINES_TABLE: Final = "raw.order_lines_raw"
LINES_COLUMNS: Final = (
    "source_order_id",
    "line_number",
    "product_id",
    "quantity",
    "unit_price",
    "order_updated_at",
)


_fromisoformat: Final = datetime.fromisoformat


def _two_decimals(value: float) -> bool:
    """Whether a float has at most two decimals (so numeric(12, 2) stores it unchanged)."""
    rest = (value * 100.0) % 1.0
    if rest < 1e-9 or rest > 1.0 - 1e-9:  # fast path, exact enough for the usual magnitudes
        return True
    return round(value, 2) == value


def _check_field(spec_field: Field, value: Any, where: str, reasons: list[str]) -> Any:
    """Check one present value; append reason codes; return the converted value."""
    code = spec_field.code
    if value is None:
        if code != 1:
            reasons.append(f"null_field:{where}")
        return None
    value_type = type(value)
    if code <= 2:  # ID, TEXT, ENUM
        if value_type is not str:
            reasons.append(f"wrong_type:{where}")
        elif code == 2:
            if value not in spec_field.allowed:
                reasons.append(f"invalid_value:{where}")
        elif (code == 0 and not value.strip()) or "\x00" in value:
            reasons.append(f"invalid_value:{where}")
        return value
    if code == 4:  # TS
        if value_type is not str:
            reasons.append(f"wrong_type:{where}")
            return None
        text = _ts_text(value)
        if text is None:
            reasons.append(f"invalid_timestamp:{where}")
        return text
    if code == 3:  # MONEY; bool is an int subclass, excluded by the exact type test
        if value_type is not float and value_type is not int:
            reasons.append(f"wrong_type:{where}")
        elif value < 0:
            reasons.append(f"negative_value:{where}")
        elif value >= MAX_MONEY or (value_type is float and not _two_decimals(value)):
            reasons.append(f"invalid_value:{where}")
        return value
    # COUNT
    if value_type is not int:
        reasons.append(f"wrong_type:{where}")
    elif value < 0:
        reasons.append(f"negative_value:{where}")
    elif value == 0 or value > MAX_INT4:
        reasons.append(f"invalid_value:{where}")
    return value


def _check_lines(value: Any, reasons: list[str], drift: set[str]) -> list[tuple[int, str, int, float]]:
    if value is _MISSING:
        reasons.append("missing_field:lines")
        return []
    if value is None:
        reasons.append("null_field:lines")
        return []
    if type(value) is not list:
        reasons.append("wrong_type:lines")
        return []
    if not value:
        reasons.append("invalid_value:lines")  # an order has at least one line
        return []
    out: list[tuple[int, str, int, float]] = []
    seen_numbers: set[int] = set()
    for line in value:
        if type(line) is not dict:
            reasons.append("wrong_type:lines")
            continue
        if not LINE_KEYS.issuperset(line):
            drift.update(f"lines.{key}" for key in line if key not in LINE_KEYS)
        converted: list[Any] = []
        for line_field, name, where in _LINE_CHECKS:
            item = line.get(name, _MISSING)
            if item is _MISSING:
                reasons.append(f"missing_field:{where}")
                converted.append(None)
            else:
                converted.append(_check_field(line_field, item, where, reasons))
        number = converted[0]
        if type(number) is int:
            if number in seen_numbers:
                reasons.append("duplicate_value:lines.line_number")
            seen_numbers.add(number)
        out.append((converted[0], converted[1], converted[2], converted[3]))
    return out


def check_record(spec: EntitySpec, record: Any) -> Checked:
    """Check one decoded record against its entity's contract.

    Args:
        spec: the entity's spec (`SPECS[entity]`).
        record: the decoded JSON value as received.

    Returns:
        The converted values, the reason codes (deduplicated, in field order), the drift fields and,
        for orders, the converted lines.
    """
    if type(record) is not dict:
        return Checked([], ["not_an_object"], [], [])
    fast = _FAST[spec.entity](record)
    if fast is not None:
        values, lines, line_drift = fast
        expected = _EXPECTED[spec.entity]
        if line_drift is None and expected.issuperset(record):
            return Checked(values, [], [], lines)
        drift_set = {key for key in record if key not in expected}
        if line_drift:
            drift_set |= line_drift
        return Checked(values, [], sorted(drift_set), lines)
    return full_check(spec, record)


def full_check(spec: EntitySpec, record: dict[str, Any]) -> Checked:
    """The field-by-field check that reports every problem (`check_record` tries a fast path first)."""
    reasons: list[str] = []
    values: list[Any] = []
    for spec_field in spec.fields:
        name = spec_field.name
        value = record.get(name, _MISSING)
        if value is _MISSING:
            reasons.append(f"missing_field:{name}")
            values.append(None)
        else:
            values.append(_check_field(spec_field, value, name, reasons))
    expected = spec.expected
    drift_set: set[str] = set()
    if not expected.issuperset(record):
        drift_set.update(key for key in record if key not in expected)
    lines: list[tuple[int, str, int, float]] = []
    if spec.has_lines:
        lines = _check_lines(record.get("lines", _MISSING), reasons, drift_set)
    if len(reasons) > 1:
        reasons = list(dict.fromkeys(reasons))
    return Checked(values, reasons, sorted(drift_set), lines)


# ---- fast paths ----------------------------------------------------------------------------------
# Straight-line checks for the common case of a fully valid record, about 3x faster than the
# field-by-field loop. They accept exactly what `full_check` accepts (tests compare the two on
# mutated records) and return None for anything else, which then gets the full check and its
# reason codes. They return (values, lines, drift found in lines or None).
FastResult = tuple[list[Any], list[tuple[int, str, int, float]], set[str] | None] | None


def _id_ok(value: Any) -> bool:
    return type(value) is str and value != "" and not value.isspace() and "\x00" not in value


def _text_ok(value: Any) -> bool:
    return value is None or (type(value) is str and "\x00" not in value)


def _money_ok(value: Any) -> bool:
    value_type = type(value)
    if value_type is float:
        return 0 <= value < MAX_MONEY and _two_decimals(value)
    return value_type is int and 0 <= value < MAX_MONEY


def _ts_text(value: Any) -> str | None:
    """ISO-8601 with an offset, as text for COPY: the contract's own form (`2026-11-21T13:45:12Z`)
    as received, any other accepted form normalised, so Postgres never has to parse a variant
    Python accepts and it might not. None when not a timestamp with an offset."""
    if type(value) is not str:
        return None
    try:
        parsed = _fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    if len(value) == 20 and value[19] == "Z" and value[10] == "T":
        return value
    return parsed.isoformat()


def _fast_order(record: dict[str, Any]) -> FastResult:
    # The hottest function of the load: checks are inlined (a call costs as much as a check).
    get = record.get
    order_id, customer_id, status = get("order_id"), get("customer_id"), get("status")
    currency, amount, lines = get("currency"), get("amount"), get("lines")
    if not (
        type(order_id) is str
        and order_id
        and not order_id.isspace()
        and "\x00" not in order_id
        and _id_ok(customer_id)
        and type(status) is str
        and status in ORDER_STATUSES
        and type(currency) is str
        and currency in CURRENCIES
        and _money_ok(amount)
        and type(lines) is list
        and lines
    ):
        return None
    created, updated = _ts_text(get("created_at")), _ts_text(get("updated_at"))
    if created is None or updated is None:
        return None
    out: list[tuple[int, str, int, float]] = []
    drift: set[str] | None = None
    numbers: set[int] = set()
    for line in lines:
        if type(line) is not dict:
            return None
        number: Any = line.get("line_number")
        product: Any = line.get("product_id")
        quantity: Any = line.get("quantity")
        price: Any = line.get("unit_price")
        if not (
            type(number) is int
            and 0 < number <= 2_147_483_647
            and type(quantity) is int
            and 0 < quantity <= 2_147_483_647
            and type(product) is str
            and product
            and not product.isspace()
            and "\x00" not in product
            and number not in numbers
        ):
            return None
        price_type = type(price)
        if price_type is float:
            if not 0.0 <= price < 1e10:
                return None
            rest = (price * 100.0) % 1.0
            if 1e-9 <= rest <= 1.0 - 1e-9 and round(price, 2) != price:
                return None
        elif price_type is not int or not 0 <= price < 1e10:
            return None
        if len(line) != 4 and not LINE_KEYS.issuperset(line):
            drift = (drift or set()) | {f"lines.{key}" for key in line if key not in LINE_KEYS}
        numbers.add(number)
        out.append((number, product, quantity, price))
    return [order_id, customer_id, status, currency, amount, created, updated], out, drift


def _fast_customer(record: dict[str, Any]) -> FastResult:
    get = record.get
    customer_id, name, email = get("customer_id"), get("name"), get("email")
    country, city, segment = get("country"), get("city"), get("segment")
    if not (
        _id_ok(customer_id)
        and _text_ok(name)
        and _text_ok(email)
        and _text_ok(country)
        and _text_ok(city)
        and type(segment) is str
        and segment in SEGMENTS
        and "name" in record
        and "email" in record
        and "country" in record
        and "city" in record
    ):
        return None
    created, updated = _ts_text(get("created_at")), _ts_text(get("updated_at"))
    if created is None or updated is None:
        return None
    return [customer_id, name, email, country, city, segment, created, updated], [], None


def _fast_product(record: dict[str, Any]) -> FastResult:
    get = record.get
    product_id, name, category = get("product_id"), get("name"), get("category")
    price, currency = get("unit_price"), get("currency")
    if not (
        _id_ok(product_id)
        and _text_ok(name)
        and _text_ok(category)
        and _money_ok(price)
        and type(currency) is str
        and currency in CURRENCIES
        and "name" in record
        and "category" in record
    ):
        return None
    created, updated = _ts_text(get("created_at")), _ts_text(get("updated_at"))
    if created is None or updated is None:
        return None
    return [product_id, name, category, price, currency, created, updated], [], None


_FAST: Final[dict[Entity, Callable[[dict[str, Any]], FastResult]]] = {
    Entity.ORDERS: _fast_order,
    Entity.CUSTOMERS: _fast_customer,
    Entity.PRODUCTS: _fast_product,
}


def fast_path(entity: Entity) -> Callable[[dict[str, Any]], FastResult]:
    """The entity's all-valid fast check: (values, lines, line drift) or None (use `check_record`).

    For callers on a hot loop that want to skip `check_record`'s dispatch; top-level drift is
    theirs to detect (`expected_fields`)."""
    return _FAST[entity]


def expected_fields(entity: Entity) -> frozenset[str]:
    """Top-level fields of the contract (anything else is drift)."""
    return _EXPECTED[entity]


def source_record_id(spec: EntitySpec, record: Any) -> str | None:
    """The record's id as text for the quarantine table, whatever its type (None when absent)."""
    if type(record) is not dict:
        return None
    value = record.get(spec.id_field)
    if value is None:
        return None
    text = value if type(value) is str else repr(value)
    return text.replace("\x00", "\ufffd")
