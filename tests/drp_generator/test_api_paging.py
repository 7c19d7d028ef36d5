"""Paging and bulk over real HTTP: determinism across page sizes, exactly-once, cursors."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.drp_generator.helpers import ID_FIELDS, bulk_lines, loads, page_all, truth
from tests.drp_generator.served import Served

pytestmark = [pytest.mark.integration, pytest.mark.isolated]

START, END = "2026-10-05", "2026-10-08"


@pytest.mark.parametrize("entity", ["orders", "customers", "products"])
def test_pages_of_any_size_concatenate_to_the_bulk_stream(client: httpx.Client, entity: str) -> None:
    bulk = bulk_lines(client, entity, START, END)
    assert bulk
    expected = [loads(line) for line in bulk]
    for limit in (1_000, 333, 61) if entity == "orders" else (1_000, 7, 1):
        assert page_all(client, entity, START, END, limit=limit) == expected
    # Mixed page sizes along the way make no difference either.
    records, cursor, limits = [], None, iter([5, 500, 1, 10_000] * 1000)
    while True:
        params: dict[str, Any] = {"start": START, "end": END, "limit": next(limits)}
        if cursor:
            params["cursor"] = cursor
        body = loads(client.get(f"/v1/{entity}", params=params).content)
        records.extend(body["data"])
        if (cursor := body["next_cursor"]) is None:
            break
    assert records == expected


def test_same_request_same_bytes(client: httpx.Client) -> None:
    params: dict[str, Any] = {"start": START, "end": END, "limit": 250}
    first = client.get("/v1/orders", params=params)
    assert first.status_code == 200
    assert client.get("/v1/orders", params=params).content == first.content
    bulk = client.get("/v1/orders/bulk", params={"start": START, "end": END}).content
    assert client.get("/v1/orders/bulk", params={"start": START, "end": END}).content == bulk


def test_exactly_once_and_matches_truth(client: httpx.Client) -> None:
    records = page_all(client, "orders", START, END, limit=100)
    versions = [(r["order_id"], r["updated_at"]) for r in records]
    assert len(versions) == len(set(versions))
    counts = truth(client, "orders", START, END)
    assert counts["served"] == counts["valid"] == len(records)
    assert counts["distinct_ids"] == len({r["order_id"] for r in records})
    assert all(START <= r["updated_at"] < END for r in records)


def test_windows_partition_the_timeline(client: httpx.Client) -> None:
    """Adjacent windows (any boundaries) return the same records as one big window."""
    whole = page_all(client, "orders", "2026-10-05T00:00:00Z", "2026-10-06T00:00:00Z")
    parts = []
    for lo, hi in (
        ("00:00:00", "06:30:00"),
        ("06:30:00", "06:30:01"),
        ("06:30:01", "23:59:59"),
        ("23:59:59", None),
    ):
        end = f"2026-10-05T{hi}Z" if hi else "2026-10-06"
        parts += page_all(client, "orders", f"2026-10-05T{lo}Z", end, limit=97)
    assert parts == whole


def test_last_page_has_null_cursor(client: httpx.Client) -> None:
    total = truth(client, "customers", START, END)["served"]
    body = client.get("/v1/customers", params={"start": START, "end": END, "limit": total}).json()
    assert body["count"] == total and body["next_cursor"] is None
    body = client.get("/v1/customers", params={"start": START, "end": END, "limit": total - 1}).json()
    assert body["next_cursor"] is not None


def test_empty_window(client: httpx.Client) -> None:
    body = client.get("/v1/orders", params={"start": "2025-01-01", "end": "2025-01-02"}).json()
    assert body == {"data": [], "next_cursor": None, "count": 0}
    assert client.get("/v1/orders/bulk", params={"start": "2025-01-01", "end": "2025-01-02"}).content == b""


def _first_cursor(client: httpx.Client, **params: str) -> str:
    query: dict[str, Any] = {"start": START, "end": END, "limit": 10, **params}
    cursor: str = client.get("/v1/orders", params=query).json()["next_cursor"]
    return cursor


def test_tampered_cursor_is_rejected(client: httpx.Client) -> None:
    cursor = _first_cursor(client)
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[2] ^= 0x01
    tampered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    for bad in (tampered, "not-a-cursor", "====", cursor[:-2], "x" * 300):
        response = client.get("/v1/orders", params={"start": START, "end": END, "cursor": bad})
        assert response.status_code == 422, bad
        assert response.json()["detail"][0]["loc"][-1] == "cursor"


def test_cursor_is_bound_to_its_query(client: httpx.Client) -> None:
    cursor = _first_cursor(client)
    variants: list[dict[str, Any]] = [
        {"start": START, "end": "2026-10-09"},
        {"start": START, "end": END, "fault_dupes": 0.1},
    ]
    for params in variants:
        response = client.get("/v1/orders", params={**params, "cursor": cursor})
        assert response.status_code == 422
    response = client.get("/v1/customers", params={"start": START, "end": END, "cursor": cursor})
    assert response.status_code == 422
    # Another limit, or HTTP faults, do not change the records: the cursor stays valid.
    assert (
        client.get(
            "/v1/orders", params={"start": START, "end": END, "cursor": cursor, "limit": 3}
        ).status_code
        == 200
    )


def test_ids_look_right(client: httpx.Client) -> None:
    for entity, prefix in (("orders", "ord_"), ("customers", "cus_"), ("products", "prd_")):
        records = client.get(f"/v1/{entity}", params={"start": START, "end": END, "limit": 20}).json()["data"]
        assert records and all(r[ID_FIELDS[entity]].startswith(prefix) for r in records)


def test_health_and_openapi(server: Served) -> None:
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    spec = httpx.get(f"{server.url}/openapi.json").json()
    paths = set(spec["paths"])
    for entity in ("orders", "customers", "products"):
        assert {f"/v1/{entity}", f"/v1/{entity}/bulk"} <= paths
    assert {"/health", "/v1/truth/{entity}", "/v1/config"} <= paths
    names = {p["name"] for p in spec["paths"]["/v1/orders"]["get"]["parameters"]}
    assert {"start", "end", "limit", "cursor", "fault_http500", "fault_dupes", "X-Attempt"} <= names
