"""Every fault behaves as configured, and the ground truth matches what was served."""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from drp_generator.config import GeneratorConfig
from drp_generator.faults import FaultConfig, HttpFault, decide_http_fault, request_key
from drp_generator.model import Entity, to_epoch
from tests.drp_generator.helpers import bulk_lines, loads, page_all, tally, truth
from tests.drp_generator.served import API_KEY, TEST_CONFIG, Served, serve

pytestmark = [pytest.mark.integration, pytest.mark.isolated]

EPOCH = TEST_CONFIG.epoch


def _day(offset: int) -> str:
    return (EPOCH + timedelta(days=offset)).isoformat()


# ---- HTTP faults ---------------------------------------------------------------------------------
def test_http500_is_decided_per_page_and_attempt(client: httpx.Client) -> None:
    start, end = "2026-10-20", "2026-10-21"
    params: dict[str, Any] = {"start": start, "end": end, "limit": 50, "fault_http500": 0.5}
    faults = FaultConfig(http500=0.5)
    seen = set()
    response = None
    for attempt in range(1, 6):
        response = client.get("/v1/orders", params=params, headers={"X-Attempt": str(attempt)})
        key = request_key(
            Entity.ORDERS,
            "page",
            to_epoch(datetime(2026, 10, 20)),
            to_epoch(datetime(2026, 10, 21)),
            limit=50,
            position=None,
        )
        expected = decide_http_fault(faults, TEST_CONFIG.seed, key, attempt)
        assert response.status_code == (500 if expected is HttpFault.HTTP_500 else 200)
        seen.add(response.status_code)
        if attempt > faults.max_fault_attempts:
            assert response.status_code == 200  # a patient client always gets through
    assert response is not None and response.headers["X-Drp-Attempt"] == "5"
    assert seen == {200, 500}


def _retrying_get(
    client: httpx.Client, url: str, params: dict[str, Any], *, send_attempt: bool
) -> tuple[Any, int]:
    """(body, failed attempts) of a client that retries 500, 429, timeouts and broken JSON."""
    for attempt in range(1, 20):
        headers = {"X-Attempt": str(attempt)} if send_attempt else {}
        try:
            response = client.get(url, params=params, headers=headers, timeout=0.5)
        except httpx.TimeoutException:
            continue
        if response.status_code in (429, 500):
            if response.status_code == 429:
                assert response.headers["Retry-After"] == "0"
            continue
        assert response.status_code == 200
        try:
            return loads(response.content), attempt - 1
        except json.JSONDecodeError:
            assert response.headers["X-Drp-Fault"] == "truncate"
            continue
    raise AssertionError("no success after 19 attempts")


@pytest.mark.parametrize("send_attempt", [True, False])
def test_a_retrying_client_gets_every_page(client: httpx.Client, send_attempt: bool) -> None:
    start, end = ("2026-10-21", "2026-10-22") if send_attempt else ("2026-10-22", "2026-10-23")
    faults = {
        "fault_http500": 0.25, "fault_http429": 0.15, "fault_truncate": 0.15, "fault_hang": 0.05,
        "fault_hang_seconds": 1, "fault_retry_after": 0,
    }  # fmt: skip
    expected = page_all(client, "orders", start, end, limit=200)
    records, cursor, failures = [], None, 0
    while True:
        params: dict[str, Any] = {"start": start, "end": end, "limit": 200, **faults}
        if cursor:
            params["cursor"] = cursor
        body, failed = _retrying_get(client, "/v1/orders", params, send_attempt=send_attempt)
        failures += failed
        records.extend(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert records == expected
    assert failures > 0  # the faults did fire (without the header, the server counted attempts)


def _fault_sequence(url: str, headers: dict[str, str]) -> list[str]:
    """The `X-Drp-Fault` of every attempt while paging a faulty window, attempt by attempt."""
    params: dict[str, Any] = {
        "start": "2026-10-23", "end": "2026-10-24", "limit": 50, "fault_http500": 0.3, "fault_truncate": 0.3,
    }  # fmt: skip
    seen, cursor = [], None
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        while True:
            for attempt in range(1, 10):
                page = {**params, "cursor": cursor} if cursor else params
                response = http.get("/v1/orders", params=page, headers={"X-Attempt": str(attempt)})
                seen.append(response.headers["X-Drp-Fault"])
                if response.status_code == 200 and seen[-1] != "truncate":
                    break
            cursor = loads(response.content)["next_cursor"]
            if cursor is None:
                return seen


def test_which_requests_fault_depends_on_the_seed_not_the_api_key(
    server: Served, open_server: Served
) -> None:
    """Cursors are signed with the API key; the fault a page draws must not follow that signature."""
    keyed = _fault_sequence(server.url, {"X-API-Key": API_KEY})
    assert {"http500", "truncate", "none"} <= set(keyed) and len(keyed) > 10
    assert _fault_sequence(open_server.url, {}) == keyed


def test_429_has_retry_after(client: httpx.Client) -> None:
    params: dict[str, Any] = {
        "start": "2026-10-05",
        "end": "2026-10-06",
        "fault_http429": 1.0,
        "fault_retry_after": 7,
    }
    response = client.get("/v1/orders", params=params, headers={"X-Attempt": "1"})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.headers["X-Drp-Fault"] == "http429"
    bulk = client.get("/v1/orders/bulk", params=params, headers={"X-Attempt": "2"})
    assert bulk.status_code == 429


def test_slow_pages_are_slow_but_correct(client: httpx.Client) -> None:
    params: dict[str, Any] = {"start": "2026-10-05", "end": "2026-10-06", "limit": 10}
    normal = client.get("/v1/orders", params=params).content
    began = time.monotonic()
    slow = client.get(
        "/v1/orders",
        params={**params, "fault_slow": 1, "fault_slow_seconds": 0.4},
        headers={"X-Attempt": "1"},
    )
    assert time.monotonic() - began >= 0.4
    assert slow.status_code == 200 and slow.content == normal
    assert slow.headers["X-Drp-Fault"] == "slow"


def test_hang_outlasts_a_client_timeout_and_a_retry_succeeds(client: httpx.Client) -> None:
    params: dict[str, Any] = {
        "start": "2026-10-05",
        "end": "2026-10-06",
        "limit": 10,
        "fault_hang": 1,
        "fault_hang_seconds": 2,
    }
    with pytest.raises(httpx.ReadTimeout):
        client.get("/v1/orders", params=params, headers={"X-Attempt": "1"}, timeout=0.3)
    began = time.monotonic()
    retry = client.get("/v1/orders", params=params, headers={"X-Attempt": "4"}, timeout=5)
    assert retry.status_code == 200 and time.monotonic() - began < 1.5


def test_truncated_bodies(client: httpx.Client) -> None:
    params: dict[str, Any] = {"start": "2026-10-05", "end": "2026-10-06", "fault_truncate": 1}
    page = client.get("/v1/orders", params=params, headers={"X-Attempt": "1"})
    assert page.status_code == 200 and page.headers["X-Drp-Fault"] == "truncate"
    with pytest.raises(json.JSONDecodeError):
        json.loads(page.content)
    full = bulk_lines(client, "orders", "2026-10-05", "2026-10-06")
    cut = client.get("/v1/orders/bulk", params=params, headers={"X-Attempt": "1"}).content
    lines = cut.split(b"\n")
    assert len(lines) == len(full) // 2 + 1
    assert lines[:-1] == full[: len(full) // 2]
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[-1])


def test_http_faults_stop_after_max_attempts(client: httpx.Client) -> None:
    params: dict[str, Any] = {
        "start": "2026-10-05",
        "end": "2026-10-06",
        "fault_http500": 1,
        "fault_max_attempts": 2,
    }
    statuses = [
        client.get("/v1/orders", params=params, headers={"X-Attempt": str(a)}).status_code for a in (1, 2, 3)
    ]
    assert statuses == [500, 500, 200]


# ---- data faults against truth -------------------------------------------------------------------
MIXED: dict[str, Any] = {
    "fault_dupes": 0.05, "fault_invalid": 0.05, "fault_late": 0.05, "fault_orphans": 0.03,
    "fault_x100": 0.02, "fault_collapse": 0.2, "fault_drift_from": _day(6),
}  # fmt: skip


@pytest.mark.parametrize("entity", ["orders", "customers", "products"])
def test_truth_matches_what_was_served(client: httpx.Client, entity: str) -> None:
    """Page day by day from the epoch (so nothing arrived before) and classify records ourselves."""
    seen: set[tuple[str, str]] = set()
    totals = {"served": 0, "invalid": 0, "duplicates": 0, "late": 0, "drifted": 0}
    for offset in range(10):
        start, end = _day(offset), _day(offset + 1)
        records = page_all(client, entity, start, end, limit=150, **MIXED)
        observed = tally(entity, records, f"{start}T00:00:00Z", seen)
        expected = truth(client, entity, start, end, **MIXED)
        assert expected["served"] == observed.served
        assert expected["valid"] == observed.valid
        assert expected["duplicates"] == observed.duplicates
        assert expected["late"] == observed.late
        assert expected["drifted"] == observed.drifted
        assert expected["distinct_ids"] == len(observed.ids)
        assert {k: v for k, v in expected["invalid_by_reason"].items() if v} == dict(
            observed.invalid_by_reason
        )
        assert expected["invalid"] == sum(observed.invalid_by_reason.values())
        if entity == "orders":
            assert expected["valid_amount_cents"] == observed.amount_cents
            assert Decimal(expected["valid_amount"]) * 100 == observed.amount_cents
            assert sum(expected["valid_amount_cents_by_currency"].values()) == observed.amount_cents
        for name in totals:
            totals[name] += expected[name]
    # Every fault fired, at roughly its rate.
    assert totals["duplicates"] > 0 and totals["late"] > 0 and totals["invalid"] > 0 and totals["drifted"] > 0
    if entity == "orders":
        assert 0.03 < totals["invalid"] / totals["served"] < 0.07


def test_faulted_windows_are_deterministic(client: httpx.Client) -> None:
    params: dict[str, Any] = {"start": _day(5), "end": _day(8), **MIXED}
    first = client.get("/v1/orders/bulk", params=params).content
    assert client.get("/v1/orders/bulk", params=params).content == first
    assert page_all(client, "orders", _day(5), _day(8), limit=77, **MIXED) == [
        loads(x) for x in first.splitlines()
    ]


def test_every_invalid_reason_occurs(client: httpx.Client) -> None:
    counts = truth(client, "orders", _day(2), _day(9), fault_invalid=0.2)["invalid_by_reason"]
    assert set(counts) == {"null_id", "negative_amount", "bad_timestamp", "unknown_status", "wrong_type"}
    assert all(v > 0 for v in counts.values())
    records = [loads(x) for x in bulk_lines(client, "orders", _day(2), _day(3), fault_invalid=1.0)]
    assert any(r["amount"] == "abc" for r in records)  # wrong type: a string where a number belongs
    assert any(r["order_id"] is None for r in records)


def test_schema_drift_from_a_date(client: httpx.Client) -> None:
    before = [loads(x) for x in bulk_lines(client, "orders", _day(4), _day(5), fault_drift_from=_day(5))]
    after = [loads(x) for x in bulk_lines(client, "orders", _day(5), _day(6), fault_drift_from=_day(5))]
    assert before and after
    assert all("channel" not in r and "customer_id" in r for r in before)
    assert all("channel" in r and "customer_ref" in r and "customer_id" not in r for r in after)
    added = [
        loads(x)
        for x in bulk_lines(client, "orders", _day(5), _day(6), fault_drift_from=_day(5), fault_drift="add")
    ]
    assert all("channel" in r and "customer_id" in r for r in added)
    renamed = [
        loads(x)
        for x in bulk_lines(
            client, "customers", _day(5), _day(6), fault_drift_from=_day(5), fault_drift="rename"
        )
    ]
    assert all("customer_segment" in r and "segment" not in r and "loyalty_tier" not in r for r in renamed)
    assert truth(client, "orders", _day(5), _day(6), fault_drift_from=_day(5))["drifted"] == len(after)


def test_late_records_arrive_in_a_later_window(client: httpx.Client) -> None:
    params: dict[str, Any] = {"fault_late": 0.3, "fault_late_min_hours": 30, "fault_late_max_hours": 40}
    records = page_all(client, "customers", _day(10), _day(11), **params)
    late = [r for r in records if r["updated_at"] < f"{_day(10)}T00:00:00Z"]
    assert late and all(r["updated_at"] >= f"{_day(8)}T08:00:00Z" for r in late)
    assert truth(client, "customers", _day(10), _day(11), **params)["late"] == len(late)
    # ... and are missing from the window their updated_at belongs to.
    earlier = {
        (r["customer_id"], r["updated_at"])
        for r in page_all(client, "customers", _day(8), _day(10), **params)
    }
    assert not {(r["customer_id"], r["updated_at"]) for r in late} & earlier


def test_orphan_customers(client: httpx.Client) -> None:
    customers = {loads(x)["customer_id"] for x in bulk_lines(client, "customers", _day(0), _day(20))}
    params: dict[str, Any] = {"fault_orphans": 0.1}
    orders = [loads(x) for x in bulk_lines(client, "orders", _day(10), _day(12), **params)]
    orphans = [r for r in orders if r["customer_id"] not in customers]
    counts = truth(client, "orders", _day(10), _day(12), **params)
    assert orphans and counts["anomalies"]["orphan_customer"] == len(orphans)
    # All versions of an order agree on its (orphan) customer.
    by_order: dict[str, set[str]] = {}
    for r in orders:
        by_order.setdefault(r["order_id"], set()).add(r["customer_id"])
    assert all(len(v) == 1 for v in by_order.values())
    clean = [loads(x) for x in bulk_lines(client, "orders", _day(10), _day(12))]
    assert all(r["customer_id"] in customers for r in clean)


def test_amounts_x100_pass_record_checks_but_not_aggregates(client: httpx.Client) -> None:
    normal = truth(client, "orders", _day(10), _day(11))
    inflated = truth(client, "orders", _day(10), _day(11), fault_x100=1)
    assert inflated["valid_amount_cents"] == 100 * normal["valid_amount_cents"]
    assert inflated["anomalies"]["amount_x100"] == inflated["valid"]
    for raw in bulk_lines(client, "orders", _day(10), _day(11), fault_x100=1)[:200]:
        r = loads(raw)
        assert Decimal(r["amount"]) == sum(
            int(ln["quantity"]) * Decimal(ln["unit_price"]) for ln in r["lines"]
        )


def test_future_timestamps(client: httpx.Client) -> None:
    params: dict[str, Any] = {"fault_future": 0.2, "fault_future_days": 400}
    records = [loads(x) for x in bulk_lines(client, "products", _day(3), _day(6), **params)]
    future = [r for r in records if r["updated_at"] > f"{_day(300)}T00:00:00Z"]
    assert future and truth(client, "products", _day(3), _day(6), **params)["anomalies"][
        "future_timestamp"
    ] == len(future)
    assert all(r["created_at"] <= r["updated_at"] for r in records)


def test_volume_collapse(client: httpx.Client) -> None:
    normal = truth(client, "orders", _day(12), _day(13))["served"]
    collapsed = truth(client, "orders", _day(12), _day(13), fault_collapse=1)
    assert _day(12) in collapsed["collapsed_days"]
    assert collapsed["served"] < normal * 0.2
    placed = [
        r for r in (loads(x) for x in bulk_lines(client, "orders", _day(12), _day(13), fault_collapse=1))
        if r["status"] == "placed"
    ]  # fmt: skip
    assert 0 < len(placed) < TEST_CONFIG.orders_per_day * 0.15


def test_default_faults_come_from_the_server_config() -> None:
    """A server configured with faults applies them without query parameters."""
    config = GeneratorConfig(
        seed=7, orders_per_day=400, epoch=date(2026, 9, 1), faults=FaultConfig(dupes=0.5), api_key=API_KEY
    )
    with serve(config) as served, httpx.Client(base_url=served.url, headers={"X-API-Key": API_KEY}) as c:
        counts = truth(c, "orders", _day(3), _day(4))
        assert counts["duplicates"] > 0
        assert c.get("/v1/config").json()["faults"]["dupes"] == 0.5
        # Overrides still win.
        assert truth(c, "orders", _day(3), _day(4), fault_dupes=0)["duplicates"] == 0
