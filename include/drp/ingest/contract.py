"""The record contract of each source entity: declared in YAML files, checked by hand-written validators.

The contracts live in `include/drp/contracts/<entity>.yml` (the directory is the setting
`DRP_CONTRACTS_DIR`; its README describes the format): each field's name, type (`id`, `text`,
`enum`, `money`, `timestamp`, `count`), whether it may be null, its accepted values, the raw column
it lands in and its aliases (other names the source may send it under after a rename).
`specs(contracts_dir)` reads a directory (again when a file of it changes); `SPECS` is the
packaged one.

The checks are hand-written rather than pydantic because they run once per record on the hot path
of the load: a valid record goes through a straight-line fast path (a few µs per order with its
lines); any other record gets the field-by-field check, which reports *every* broken field as a
reason code instead of stopping at the first. Tests check that both paths agree. A fast path is
written for the shape (field names, types, nullability) of each packaged contract; a contract of
another shape gets none and every record takes the field-by-field check (correct, ~3x slower).

Reason codes are `<code>:<field>` (line fields are `lines.<field>`):

* `missing_field` - the key is absent, and so is every alias (e.g. renamed by schema drift:
  `missing_field:customer_id`);
* `null_field` - a required value is null;
* `wrong_type` - e.g. a string where a number belongs, a bool where an integer belongs;
* `invalid_value` - not one of the enumerated values, empty (an id, or an order without lines),
  NUL characters, more than two decimals, or out of the column's range (anything that would make
  the database refuse or silently alter the value);
* `negative_value` - a negative amount, price or quantity;
* `invalid_timestamp` - not an ISO-8601 timestamp with a UTC offset;
* `duplicate_value:lines.line_number` - two lines of one order share a number;
* `not_an_object` - the record is not a JSON object at all.

Fields not in the contract (nor declared aliases) are *drift*: they do not reject a record (its
full payload is kept in `raw_payload`) but are counted per field for the batch.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, NamedTuple

import yaml

from drp.errors import ConfigError
from drp_domain import Entity

# The contracts shipped with the package (the default of `DRP_CONTRACTS_DIR`).
PACKAGED_CONTRACTS_DIR: Final = Path(__file__).resolve().parents[1] / "contracts"

# numeric(12, 2) holds |x| < 10^10; integer columns are int4.
MAX_MONEY: Final = 1e10
MAX_INT4: Final = 2_147_483_647

_MISSING: Final = object()


class Kind(StrEnum):
    """A contract field's type (`type:` in the YAML)."""

    ID = "id"  # non-empty string
    TEXT = "text"  # string
    ENUM = "enum"  # one of the field's `values`
    MONEY = "money"  # number >= 0 with at most two decimals
    TS = "timestamp"  # ISO-8601 timestamp with offset
    COUNT = "count"  # integer >= 1 (line numbers, quantities)


# Kind codes as small ints: the hot path compares literals, not enum members (slow on 3.11).
_CODES: Final = {Kind.ID: 0, Kind.TEXT: 1, Kind.ENUM: 2, Kind.MONEY: 3, Kind.TS: 4, Kind.COUNT: 5}


class ContractError(ConfigError):
    """A contract file is missing or malformed. The message names the file and the key."""


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a contract.

    Attributes:
        name: the field's name in the source's JSON.
        kind: its type.
        allowed: the accepted values (enums only).
        required: whether null is refused (the key must be present either way).
        column: the raw column the value lands in.
        aliases: other names the source may send the field under (used when `name` is absent).
    """

    name: str
    kind: Kind
    allowed: frozenset[str] = frozenset()
    required: bool = True
    column: str = ""
    aliases: tuple[str, ...] = ()
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


# (values, lines, drift found in lines or None), or None: not the all-valid case, use the full check.
FastResult = tuple[list[Any], list[tuple[int, str, int, float]], set[str] | None] | None
FastPath = Callable[[dict[str, Any]], FastResult]


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """What an entity's records must look like and where they land (built from its contract file)."""

    entity: Entity
    id_field: str
    fields: tuple[Field, ...]
    raw_table: str
    raw_columns: tuple[str, ...]  # the contract columns, in `fields` order
    rejected_table: str
    has_lines: bool = False
    line_fields: tuple[Field, ...] = ()
    lines_table: str = ""
    lines_columns: tuple[str, ...] = ()  # order id, the line fields' columns, order version
    expected: frozenset[str] = frozenset()  # top-level fields and aliases (anything else is drift)
    fast: FastPath = dataclasses.field(default=lambda record: None, repr=False, compare=False)
    source: Path | None = None  # the contract file

    def field(self, name: str) -> Field:
        """The contract field called `name` (KeyError if none)."""
        for spec_field in self.fields:
            if spec_field.name == name:
                return spec_field
        raise KeyError(name)


# ---- reading the contract files ------------------------------------------------------------------
def specs(contracts_dir: Path | str | None = None) -> dict[Entity, EntitySpec]:
    """The specs of every entity, from `<contracts_dir>/<entity>.yml` (default: the packaged ones).

    Read again only when a file changed (size or modification time), so the load, which calls
    this for every batch, sees an edited contract without re-reading unchanged ones.

    Raises:
        ContractError: a file is missing or malformed; the message names the file and the problem.
    """
    directory = (Path(contracts_dir) if contracts_dir is not None else PACKAGED_CONTRACTS_DIR).resolve()
    stamps: list[tuple[int, int] | None] = []
    for entity in Entity:
        try:
            stat = (directory / f"{entity.value}.yml").stat()
        except OSError:
            stamps.append(None)  # `_read_spec` says what is wrong
        else:
            stamps.append((stat.st_mtime_ns, stat.st_size))
    return _specs_of(directory, tuple(stamps))


@functools.lru_cache(maxsize=32)
def _specs_of(directory: Path, _stamps: tuple[tuple[int, int] | None, ...]) -> dict[Entity, EntitySpec]:
    return {entity: _read_spec(directory / f"{entity.value}.yml", entity) for entity in Entity}


def _read_spec(path: Path, entity: Entity) -> EntitySpec:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ContractError(f"contract {path}: cannot read it ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ContractError(f"contract {path}: not valid YAML ({exc})") from None
    try:
        return _build_spec(doc, entity, path)
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ContractError(f"contract {path}: {detail}") from None


def _build_field(item: Mapping[str, Any], where: str) -> Field:
    if not isinstance(item, Mapping):
        raise TypeError(f"{where}: a field must be a mapping")
    unknown = set(item) - {"name", "type", "required", "values", "column", "aliases"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    name, type_name = str(item["name"]), str(item["type"])
    try:
        kind = Kind(type_name)
    except ValueError:
        raise ValueError(f"{where} ({name}): unknown type {type_name!r}, expected one of "
                         f"{', '.join(k.value for k in Kind)}") from None  # fmt: skip
    values = item.get("values")
    if (kind is Kind.ENUM) != (values is not None):
        raise ValueError(f"{where} ({name}): `values` belongs to enum fields, and every enum has them")
    if values is not None and (not isinstance(values, list) or not all(type(v) is str for v in values)):
        raise ValueError(f"{where} ({name}): `values` must be a list of strings")
    required = item["required"]
    if type(required) is not bool:
        raise ValueError(f"{where} ({name}): `required` must be true or false")
    aliases = item.get("aliases") or []
    if not isinstance(aliases, list) or not all(type(a) is str and a for a in aliases):
        raise ValueError(f"{where} ({name}): `aliases` must be a list of names")
    return Field(
        name=name,
        kind=kind,
        allowed=frozenset(values or ()),
        required=required,
        column=str(item["column"]),
        aliases=tuple(aliases),
    )


def _build_spec(doc: Any, entity: Entity, path: Path) -> EntitySpec:
    if not isinstance(doc, Mapping):
        raise TypeError("the file must hold a mapping")
    if doc["entity"] != entity.value:
        raise ValueError(f"`entity` is {doc['entity']!r}, the file name says {entity.value!r}")
    fields = tuple(_build_field(item, f"fields[{i}]") for i, item in enumerate(doc["fields"]))
    lines_doc = doc.get("lines")
    line_fields: tuple[Field, ...] = ()
    lines_table = ""
    lines_columns: tuple[str, ...] = ()
    if lines_doc is not None:
        line_fields = tuple(
            _build_field(item, f"lines.fields[{i}]") for i, item in enumerate(lines_doc["fields"])
        )
        if any(f.aliases for f in line_fields):
            raise ValueError("line fields take no aliases")
        lines_table = str(lines_doc["table"])
        lines_columns = (
            str(lines_doc["order_column"]), *(f.column for f in line_fields), str(lines_doc["version_column"])
        )  # fmt: skip
        if lines_doc.get("field", "lines") != "lines":
            raise ValueError("lines.field must be `lines`")
    names = [f.name for f in fields] + (["lines"] if lines_doc is not None else [])
    aliases = [a for f in fields for a in f.aliases]
    for label, items in (
        ("field names and aliases", names + aliases),
        ("columns", [f.column for f in fields]),
    ):
        doubles = sorted({n for n in items if items.count(n) > 1})
        if doubles:
            raise ValueError(f"{label} appear twice: {doubles}")
    if doc["id_field"] not in names:
        raise ValueError(f"id_field {doc['id_field']!r} is not one of the fields")
    spec = EntitySpec(
        entity=entity,
        id_field=str(doc["id_field"]),
        fields=fields,
        raw_table=str(doc["raw_table"]),
        raw_columns=tuple(f.column for f in fields),
        rejected_table=str(doc["rejected_table"]),
        has_lines=lines_doc is not None,
        line_fields=line_fields,
        lines_table=lines_table,
        lines_columns=lines_columns,
        expected=frozenset(names) | frozenset(aliases),
        source=path,
    )
    return dataclasses.replace(spec, fast=_fast_path_for(spec))


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
        if spec_field.required:
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


def _check_lines(
    spec: EntitySpec, value: Any, reasons: list[str], drift: set[str]
) -> list[tuple[int, str, int, float]]:
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
    line_keys = frozenset(f.name for f in spec.line_fields)
    out: list[tuple[int, str, int, float]] = []
    seen_numbers: set[int] = set()
    for line in value:
        if type(line) is not dict:
            reasons.append("wrong_type:lines")
            continue
        if not line_keys.issuperset(line):
            drift.update(f"lines.{key}" for key in line if key not in line_keys)
        converted: list[Any] = []
        for line_field in spec.line_fields:
            where = f"lines.{line_field.name}"
            item = line.get(line_field.name, _MISSING)
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
        spec: the entity's spec (`SPECS[entity]`, or `specs(directory)[entity]`).
        record: the decoded JSON value as received.

    Returns:
        The converted values, the reason codes (deduplicated, in field order), the drift fields and,
        for orders, the converted lines.
    """
    if type(record) is not dict:
        return Checked([], ["not_an_object"], [], [])
    fast = spec.fast(record)
    if fast is not None:
        values, lines, line_drift = fast
        expected = spec.expected
        if line_drift is None and expected.issuperset(record):
            return Checked(values, [], [], lines)
        drift_set = {key for key in record if key not in expected}
        if line_drift:
            drift_set |= line_drift
        return Checked(values, [], sorted(drift_set), lines)
    return full_check(spec, record)


def full_check(spec: EntitySpec, record: dict[str, Any]) -> Checked:
    """The field-by-field check that reports every problem (`check_record` tries a fast path first).

    A field absent under its name is looked up under its aliases, in their declared order."""
    reasons: list[str] = []
    values: list[Any] = []
    for spec_field in spec.fields:
        name = spec_field.name
        value = record.get(name, _MISSING)
        if value is _MISSING:
            for alias in spec_field.aliases:
                value = record.get(alias, _MISSING)
                if value is not _MISSING:
                    break
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
        lines = _check_lines(spec, record.get("lines", _MISSING), reasons, drift_set)
    if len(reasons) > 1:
        reasons = list(dict.fromkeys(reasons))
    return Checked(values, reasons, sorted(drift_set), lines)


# ---- fast paths ----------------------------------------------------------------------------------
# Straight-line checks for the common case of a fully valid record, about 3x faster than the
# field-by-field loop. They accept exactly what `full_check` accepts (tests compare the two on
# mutated records) and return None for anything else, which then gets the full check and its
# reason codes: a record carrying a field under an alias only, too. Each is written for one shape
# of contract (`_SHAPES`) and takes the enumerations from the spec; a spec of another shape gets
# `_no_fast_path`.


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


def _no_fast_path(record: dict[str, Any]) -> FastResult:
    """For contracts without a hand-written fast path: every record takes the full check."""
    return None


def _order_fast_path(spec: EntitySpec) -> FastPath:
    statuses, currencies = spec.field("status").allowed, spec.field("currency").allowed
    line_keys = frozenset(f.name for f in spec.line_fields)

    def fast(record: dict[str, Any]) -> FastResult:
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
            and status in statuses
            and type(currency) is str
            and currency in currencies
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
            if len(line) != 4 and not line_keys.issuperset(line):
                drift = (drift or set()) | {f"lines.{key}" for key in line if key not in line_keys}
            numbers.add(number)
            out.append((number, product, quantity, price))
        return [order_id, customer_id, status, currency, amount, created, updated], out, drift

    return fast


def _customer_fast_path(spec: EntitySpec) -> FastPath:
    segments = spec.field("segment").allowed

    def fast(record: dict[str, Any]) -> FastResult:
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
            and segment in segments
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

    return fast


def _product_fast_path(spec: EntitySpec) -> FastPath:
    currencies = spec.field("currency").allowed

    def fast(record: dict[str, Any]) -> FastResult:
        get = record.get
        product_id, name, category = get("product_id"), get("name"), get("category")
        price, currency = get("unit_price"), get("currency")
        if not (
            _id_ok(product_id)
            and _text_ok(name)
            and _text_ok(category)
            and _money_ok(price)
            and type(currency) is str
            and currency in currencies
            and "name" in record
            and "category" in record
        ):
            return None
        created, updated = _ts_text(get("created_at")), _ts_text(get("updated_at"))
        if created is None or updated is None:
            return None
        return [product_id, name, category, price, currency, created, updated], [], None

    return fast


_ID, _TEXT, _ENUM, _MONEY, _TS, _COUNT = Kind.ID, Kind.TEXT, Kind.ENUM, Kind.MONEY, Kind.TS, Kind.COUNT
# The shape each fast path is written for: (name, type, required) of the fields, then of the lines.
_SHAPES: Final[dict[Entity, tuple[tuple[tuple[str, Kind, bool], ...], Callable[[EntitySpec], FastPath]]]] = {
    Entity.ORDERS: (
        (
            ("order_id", _ID, True), ("customer_id", _ID, True), ("status", _ENUM, True),
            ("currency", _ENUM, True), ("amount", _MONEY, True), ("created_at", _TS, True),
            ("updated_at", _TS, True), ("line_number", _COUNT, True), ("product_id", _ID, True),
            ("quantity", _COUNT, True), ("unit_price", _MONEY, True),
        ),
        _order_fast_path,
    ),
    Entity.CUSTOMERS: (
        (
            ("customer_id", _ID, True), ("name", _TEXT, False), ("email", _TEXT, False),
            ("country", _TEXT, False), ("city", _TEXT, False), ("segment", _ENUM, True),
            ("created_at", _TS, True), ("updated_at", _TS, True),
        ),
        _customer_fast_path,
    ),
    Entity.PRODUCTS: (
        (
            ("product_id", _ID, True), ("name", _TEXT, False), ("category", _TEXT, False),
            ("unit_price", _MONEY, True), ("currency", _ENUM, True), ("created_at", _TS, True),
            ("updated_at", _TS, True),
        ),
        _product_fast_path,
    ),
}  # fmt: skip


def _fast_path_for(spec: EntitySpec) -> FastPath:
    shape = tuple((f.name, f.kind, f.required) for f in (*spec.fields, *spec.line_fields))
    written_for, factory = _SHAPES[spec.entity]
    return factory(spec) if shape == written_for else _no_fast_path


def _spec_of(entity: Entity | EntitySpec) -> EntitySpec:
    return entity if isinstance(entity, EntitySpec) else SPECS[entity]


def fast_path(entity: Entity | EntitySpec) -> FastPath:
    """The all-valid fast check of a spec (an entity: the packaged spec's): (values, lines, line
    drift) or None (use `check_record`).

    For callers on a hot loop that want to skip `check_record`'s dispatch; top-level drift is
    theirs to detect (`expected_fields`)."""
    return _spec_of(entity).fast


def expected_fields(entity: Entity | EntitySpec) -> frozenset[str]:
    """Top-level fields of the contract and their aliases (anything else is drift)."""
    return _spec_of(entity).expected


def source_record_id(spec: EntitySpec, record: Any) -> str | None:
    """The record's id as text for the quarantine table, whatever its type (None when absent)."""
    if type(record) is not dict:
        return None
    value = record.get(spec.id_field)
    if value is None:
        for alias in spec.field(spec.id_field).aliases:
            value = record.get(alias)
            if value is not None:
                break
        else:
            return None
    text = value if type(value) is str else repr(value)
    return text.replace("\x00", "\ufffd")


SPECS: Final[dict[Entity, EntitySpec]] = specs()
LINE_FIELDS: Final = SPECS[Entity.ORDERS].line_fields
LINE_KEYS: Final = frozenset(f.name for f in LINE_FIELDS)
LINES_TABLE: Final = SPECS[Entity.ORDERS].lines_table
LINES_COLUMNS: Final = SPECS[Entity.ORDERS].lines_columns
