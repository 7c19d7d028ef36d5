"""Authentication and parameter validation over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.drp_generator.served import API_KEY, Served

pytestmark = [pytest.mark.integration, pytest.mark.isolated]

WINDOW: dict[str, Any] = {"start": "2026-10-05", "end": "2026-10-06"}
PROTECTED = [
    "/v1/orders", "/v1/customers", "/v1/products", "/v1/orders/bulk", "/v1/customers/bulk",
    "/v1/products/bulk", "/v1/truth/orders", "/v1/config",
]  # fmt: skip


@pytest.mark.parametrize("path", PROTECTED)
def test_key_required(server: Served, path: str) -> None:
    assert httpx.get(server.url + path, params=WINDOW).status_code == 401
    wrong = httpx.get(server.url + path, params=WINDOW, headers={"X-API-Key": API_KEY + "x"})
    assert wrong.status_code == 401
    assert "X-API-Key" in wrong.json()["detail"]
    assert httpx.get(server.url + path, params=WINDOW, headers={"X-API-Key": API_KEY}).status_code == 200


def test_auth_comes_before_validation(server: Served) -> None:
    assert httpx.get(server.url + "/v1/orders", params={"start": "junk"}).status_code == 401


def test_health_needs_no_key(server: Served) -> None:
    assert httpx.get(server.url + "/health").status_code == 200


def test_no_key_configured_means_open(open_server: Served) -> None:
    assert httpx.get(open_server.url + "/v1/orders", params=WINDOW).status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"end": "2026-10-06"}, "start"),
        ({"start": "2026-10-05"}, "end"),
        ({"start": "yesterday", "end": "2026-10-06"}, "start"),
        ({"start": "2026-02-30", "end": "2026-10-06"}, "start"),
        ({"start": "2026-10-05T25:00:00Z", "end": "2026-10-06"}, "start"),
        ({"start": "2026-10-06", "end": "2026-10-05"}, "end"),
        ({"start": "2026-10-05", "end": "2026-10-05"}, "end"),
        ({"start": "2026-01-01", "end": "2026-03-01"}, "end"),
        ({"start": "1900-01-01", "end": "1900-01-02"}, "start"),
        ({"start": "9999-12-31", "end": "9999-12-31T23:00:00Z"}, "start"),
        ({**WINDOW, "limit": 0}, "limit"),
        ({**WINDOW, "limit": 10_001}, "limit"),
        ({**WINDOW, "limit": "ten"}, "limit"),
        ({**WINDOW, "fault_dupes": 1.5}, "fault_dupes"),
        ({**WINDOW, "fault_http500": "often"}, "fault_http500"),
        ({**WINDOW, "fault_drift": "sideways"}, "fault_drift"),
        ({**WINDOW, "fault_drift_from": "soon"}, "fault_drift_from"),
        ({**WINDOW, "fault_late_min_hours": 100, "fault_late_max_hours": 50}, "fault_late_min_hours"),
        ({**WINDOW, "unknown": "1"}, "unknown"),
    ],
)
def test_bad_parameters_get_422(client: httpx.Client, params: dict[str, Any], field: str) -> None:
    response = client.get("/v1/orders", params=params)
    assert response.status_code == 422, response.text
    assert field in {str(err["loc"][-1]) for err in response.json()["detail"]}


def test_bad_attempt_header_and_entity(client: httpx.Client) -> None:
    assert client.get("/v1/orders", params=WINDOW, headers={"X-Attempt": "0"}).status_code == 422
    assert client.get("/v1/orders", params=WINDOW, headers={"X-Attempt": "abc"}).status_code == 422
    assert client.get("/v1/truth/invoices", params=WINDOW).status_code == 422
    assert client.get("/v1/orders/bulk", params={"start": "2026-10-05"}).status_code == 422


def test_timezone_offsets_are_converted(client: httpx.Client) -> None:
    utc = client.get("/v1/orders", params={"start": "2026-10-05T00:00:00Z", "end": "2026-10-05T02:00:00Z"})
    paris = client.get(
        "/v1/orders", params={"start": "2026-10-05T02:00:00+02:00", "end": "2026-10-05T04:00+02:00"}
    )
    assert utc.status_code == paris.status_code == 200
    assert utc.json()["data"] == paris.json()["data"] and utc.json()["count"] > 0
