"""Pure generation: determinism, the record contract, lifecycles and referential integrity."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from drp_generator import Entity, FaultConfig, GeneratorConfig, iter_window, make_window, parse_faults, truth
from drp_generator.errors import FaultConfigError, InvalidParameterError
from drp_generator.faults import HttpFault, decide_http_fault, request_key
from drp_generator.world import Alter, base_keys, drift_plain, orders_created, render
from tests.drp_generator.helpers import MONEY, TS, loads
from tests.drp_generator.served import TEST_CONFIG

pytestmark = pytest.mark.unit

START, END = datetime(2026, 10, 5), datetime(2026, 10, 12)
CURRENCY_OF = {
    "US": "USD",
    "CA": "USD",
    "GB": "GBP",
    "DE": "EUR",
    "FR": "EUR",
    "NL": "EUR",
    "ES": "EUR",
    "IE": "EUR",
}
TRANSITIONS = {
    "placed": {"paid", "cancelled"},
    "paid": {"shipped", "cancelled"},
    "shipped": {"delivered"},
    "delivered": {"returned"},
}


def _records(
    entity: Entity, config: GeneratorConfig = TEST_CONFIG, end: datetime = END, **faults: object
) -> list[bytes]:
    window = make_window(START, end, 31)
    return [r for chunk in iter_window(config, entity, window, FaultConfig(**faults)) for r in chunk]  # type: ignore[arg-type]


def _digest(config: GeneratorConfig) -> str:
    h = hashlib.sha256()
    for entity in Entity:
        for record in _records(entity, config, end=datetime(2026, 10, 8)):
            h.update(record)
    return h.hexdigest()


def _digest_in_subprocess(warm_up_first: bool) -> str:
    code = (
        "from datetime import date, datetime\n"
        "from drp_generator import Entity, FaultConfig, GeneratorConfig, iter_window, make_window\n"
        "from tests.drp_generator.test_generation import _digest\n"
        "config = GeneratorConfig(seed=7, orders_per_day=400, epoch=date(2026, 9, 1))\n"
        f"if {warm_up_first}:\n"
        "    for entity in Entity:\n"
        "        list(iter_window(config, entity, make_window(datetime(2026, 10, 20), datetime(2026, 10, 23), 31),"
        " FaultConfig(dupes=0.1, x100=0.1)))\n"
        "print(_digest(config))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123"},
    )
    return out.stdout.strip()


def test_same_bytes_in_a_fresh_process() -> None:
    """No hidden state (hash randomization, caches, memos, call order): other processes, cold or
    after generating other windows first, yield the same bytes as this one."""
    assert _digest_in_subprocess(False) == _digest(TEST_CONFIG) == _digest_in_subprocess(True)


def test_seed_changes_the_data() -> None:
    other = GeneratorConfig(seed=8, orders_per_day=400, epoch=date(2026, 9, 1))
    assert _records(Entity.ORDERS, other)[:50] != _records(Entity.ORDERS)[:50]


def test_order_contract() -> None:
    records = _records(Entity.ORDERS)
    assert records
    for raw in records:
        rec = loads(raw)
        assert list(rec) == [
            "order_id", "customer_id", "status", "currency", "amount", "lines", "created_at", "updated_at",
        ]  # fmt: skip
        assert rec["status"] in TRANSITIONS.keys() | {"cancelled", "returned"}
        assert rec["currency"] in {"USD", "EUR", "GBP"}
        assert TS.match(rec["created_at"]) and TS.match(rec["updated_at"])
        assert rec["created_at"] <= rec["updated_at"]
        assert MONEY.match(rec["amount"])
        total = Decimal(0)
        for n, line in enumerate(rec["lines"], start=1):
            assert list(line) == ["line_number", "product_id", "quantity", "unit_price"]
            assert int(line["line_number"]) == n
            assert int(line["quantity"]) >= 1
            assert MONEY.match(line["unit_price"]) and Decimal(line["unit_price"]) > 0
            total += int(line["quantity"]) * Decimal(line["unit_price"])
        assert Decimal(rec["amount"]) == total
        # Numbers are JSON numbers, not strings.
        assert json.loads(raw)["amount"] == float(rec["amount"])


def test_customer_and_product_contract() -> None:
    for raw in _records(Entity.CUSTOMERS):
        rec = loads(raw)
        assert list(rec) == [
            "customer_id", "name", "email", "country", "city", "segment", "created_at", "updated_at",
        ]  # fmt: skip
        assert len(rec["country"]) == 2 and rec["segment"] in {"consumer", "smb", "enterprise"}
        assert "@" in rec["email"] and TS.match(rec["updated_at"])
    for raw in _records(Entity.PRODUCTS):
        rec = loads(raw)
        assert list(rec) == [
            "product_id",
            "name",
            "category",
            "unit_price",
            "currency",
            "created_at",
            "updated_at",
        ]
        assert MONEY.match(rec["unit_price"]) and rec["currency"] == "USD"


def test_order_lifecycle_moves_forward() -> None:
    """Versions of an order have increasing updated_at and follow the status machine."""
    config = TEST_CONFIG
    window = make_window(datetime(2026, 9, 2), datetime(2026, 10, 2), 31)
    versions: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for chunk in iter_window(config, Entity.ORDERS, window, FaultConfig()):
        for raw in chunk:
            rec = loads(raw)
            versions[rec["order_id"]].append((rec["updated_at"], rec["status"]))
    multi = 0
    for history in versions.values():
        assert history == sorted(history)
        assert history[0][1] == "placed"
        for (_, before), (_, after) in itertools.pairwise(history):
            assert after in TRANSITIONS[before]
        multi += len(history) > 1
    assert multi > len(versions) * 0.8  # orders do change over time


def test_customers_change_over_time() -> None:
    window = make_window(datetime(2026, 9, 1), datetime(2026, 10, 1), 31)
    by_id: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for chunk in iter_window(TEST_CONFIG, Entity.CUSTOMERS, window, FaultConfig()):
        for raw in chunk:
            rec = loads(raw)
            by_id[rec["customer_id"]].append((rec["city"], rec["segment"]))
    changed = [h for h in by_id.values() if len(h) > 1]
    assert changed
    assert all(len(set(h)) > 1 for h in changed)  # a new version means a real change


def test_referential_integrity() -> None:
    """Every order's customer and products are served (created) no later than the order's window."""
    everything = make_window(datetime(2026, 9, 1), datetime(2026, 10, 1), 31)
    countries = {
        rec["customer_id"]: rec["country"]
        for chunk in iter_window(TEST_CONFIG, Entity.CUSTOMERS, everything, FaultConfig())
        for rec in map(loads, chunk)
    }
    customers = set(countries)
    products = {
        loads(raw)["product_id"]
        for chunk in iter_window(TEST_CONFIG, Entity.PRODUCTS, everything, FaultConfig())
        for raw in chunk
    }
    window = make_window(datetime(2026, 9, 1), datetime(2026, 10, 1), 31)
    for chunk in iter_window(TEST_CONFIG, Entity.ORDERS, window, FaultConfig()):
        for raw in chunk:
            rec = loads(raw)
            assert rec["customer_id"] in customers
            assert {line["product_id"] for line in rec["lines"]} <= products
            # Customers pay in their country's currency.
            assert rec["currency"] == CURRENCY_OF[countries[rec["customer_id"]]]


def test_volume_varies_by_weekday_and_season() -> None:
    gk = GeneratorConfig(orders_per_day=10_000).gen_key
    first = date(2026, 3, 2)  # a Monday
    week = [orders_created(gk, (first + timedelta(days=k) - date(1970, 1, 1)).days) for k in range(7)]
    assert max(week) > min(week) * 1.1
    assert 8_500 < sum(week) / 7 < 11_500
    black_friday = orders_created(gk, (date(2026, 11, 27) - date(1970, 1, 1)).days)
    assert black_friday > max(week)


def test_nothing_before_the_epoch() -> None:
    assert truth(TEST_CONFIG, Entity.ORDERS, datetime(2026, 8, 1), datetime(2026, 9, 1)).served == 0


def test_fault_config_validation() -> None:
    assert parse_faults("dupes=0.5, fault_invalid=0.1, drift_from=2026-11-20").drift_from == date(
        2026, 11, 20
    )
    for bad in ("dupes=2", "nope=1", "dupes=abc", "late_min_hours=100,late_max_hours=50"):
        with pytest.raises(FaultConfigError):
            parse_faults(bad)


def test_window_validation() -> None:
    for start, end in (
        (datetime(2026, 1, 2), datetime(2026, 1, 1)),
        (datetime(2026, 1, 1), datetime(2026, 3, 1)),
        (datetime(1960, 1, 1), datetime(1960, 1, 2)),
        (datetime(2100, 1, 1), datetime(2100, 1, 2)),
    ):
        with pytest.raises(InvalidParameterError):
            make_window(start, end, 31)


def test_http_fault_decisions() -> None:
    """About `rate` of (request, attempt) pairs fail; never beyond max_fault_attempts; stable."""
    faults = FaultConfig(http500=0.3, max_fault_attempts=2)
    keys = [request_key(Entity.ORDERS, "page", k, k + 60, limit=100, position=None) for k in range(2_000)]
    first = [decide_http_fault(faults, 42, key, 1) for key in keys]
    assert 0.25 < sum(f is HttpFault.HTTP_500 for f in first) / len(keys) < 0.35
    assert first == [decide_http_fault(faults, 42, key, 1) for key in keys]
    assert all(decide_http_fault(faults, 42, key, 3) is None for key in keys)
    assert all(decide_http_fault(FaultConfig(), 42, key, 1) is None for key in keys)


@pytest.mark.parametrize("entity", list(Entity))
def test_fast_drift_edit_matches_a_full_rewrite(entity: Entity) -> None:
    gk = TEST_CONFIG.gen_key
    day = (date(2026, 10, 6) - date(1970, 1, 1)).days
    keys = base_keys(gk, entity, day)[:300]
    for add, rename in ((True, False), (False, True), (True, True)):
        for key in keys:
            plain = render(gk, entity, key).encode()
            full = render(gk, entity, key, Alter(drift_add=add, drift_rename=rename)).encode()
            assert drift_plain(gk, entity, key, plain, add=add, rename=rename) == full


def test_orders_peak_around_midday() -> None:
    window = make_window(datetime(2026, 10, 5), datetime(2026, 10, 12), 31)
    hours = [
        int(rec["created_at"][11:13])
        for chunk in iter_window(TEST_CONFIG, Entity.ORDERS, window, FaultConfig())
        for rec in map(loads, chunk)
        if rec["status"] == "placed"
    ]
    night = sum(1 for h in hours if 1 <= h < 4)
    noon = sum(1 for h in hours if 11 <= h < 14)
    assert noon > 2.5 * night > 0
