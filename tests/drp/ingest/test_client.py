"""SourceClient against a scripted transport: retries, Retry-After, bodies, paging, errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from drp.ingest.client import ClientConfig, SourceClient, parse_retry_after, split_window
from drp.ingest.errors import SourceError

pytestmark = pytest.mark.unit

START = datetime(2001, 1, 1, tzinfo=UTC)
END = datetime(2001, 1, 2, tzinfo=UTC)
Handler = Callable[[httpx.Request], httpx.Response]


def _page(records: list[dict[str, int]], next_cursor: str | None) -> httpx.Response:
    body = orjson.dumps({"data": records, "next_cursor": next_cursor, "count": len(records)})
    return httpx.Response(200, content=body)


def _client(handler: Handler, sleeps: list[float], **config: object) -> SourceClient:
    cfg = ClientConfig(**{"max_attempts": 4, "prefetch": False, **config})  # type: ignore[arg-type]
    return SourceClient(
        "http://source.test",
        "k3y",
        config=cfg,
        faults={"http500": "0.1"},
        sleep=sleeps.append,
        transport=httpx.MockTransport(handler),
    )


@pytest.mark.parametrize("prefetch", [False, True])
def test_pages_follow_cursor_and_send_headers(prefetch: bool) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        cursor = request.url.params.get("cursor")
        if cursor is None:
            return _page([{"i": 1}, {"i": 2}], "c2")
        return _page([{"i": 3}], None)

    with _client(handler, [], prefetch=prefetch) as client:
        pages = list(client.pages("orders", START, END))
    assert [r for p in pages for r in p.records] == [{"i": 1}, {"i": 2}, {"i": 3}]
    assert [p.number for p in pages] == [1, 2]
    first = seen[0]
    assert first.headers["X-API-Key"] == "k3y"
    assert first.headers["X-Attempt"] == "1"
    assert first.url.params["start"] == "2001-01-01T00:00:00Z"
    assert first.url.params["end"] == "2001-01-02T00:00:00Z"
    assert first.url.params["fault_http500"] == "0.1"
    assert seen[1].url.params["cursor"] == "c2"


def test_retries_500_429_truncated_and_transport_errors() -> None:
    script: list[Handler] = [
        lambda r: httpx.Response(500, text="boom"),
        lambda r: httpx.Response(429, headers={"Retry-After": "3"}, text="slow down"),
        lambda r: httpx.Response(200, content=b'{"data": [{"i": 1}'),  # truncated JSON
        lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("timed out", request=r)),
    ]
    attempts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request.headers["X-Attempt"])
        if script:
            return script.pop(0)(request)
        return _page([{"i": 1}], None)

    sleeps: list[float] = []
    with _client(handler, sleeps, max_attempts=5) as client:
        pages = list(client.pages("orders", START, END))
        assert client.stats.retries == 4
        assert client.stats.failures == {"http500": 1, "http429": 1, "invalid_body": 1, "timeout": 1}
    assert pages[0].records == [{"i": 1}] and pages[0].attempts == 5
    assert attempts == ["1", "2", "3", "4", "5"]
    assert sleeps[1] >= 3.0  # Retry-After honoured
    assert all(s > 0 for s in sleeps)


def test_count_mismatch_is_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(200, content=orjson.dumps({"data": [1], "next_cursor": None, "count": 2}))
        return _page([{"i": 1}], None)

    with _client(handler, []) as client:
        assert len(list(client.pages("orders", START, END))) == 1
    assert len(calls) == 2


def test_exhausted_budget_names_window_page_and_status() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cursor") == "c2":
            return httpx.Response(503, text="unavailable")
        return _page([{"i": 1}], "c2")

    sleeps: list[float] = []
    with _client(handler, sleeps, max_attempts=3) as client, pytest.raises(SourceError) as info:
        list(client.pages("orders", START, END))
    err = info.value
    assert (err.page, err.cursor, err.attempts, err.last_status) == (2, "c2", 3, 503)
    text = str(err)
    assert "orders [2001-01-01T00:00:00Z, 2001-01-02T00:00:00Z)" in text
    assert "page 2" in text and "HTTP 503" in text and "3 attempt(s)" in text
    assert len(sleeps) == 2
    # Exponential: the second wait's floor is above the first's.
    assert sleeps[1] >= 0.2


def test_non_retryable_status_fails_at_once() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(401, text="bad key")

    with _client(handler, []) as client, pytest.raises(SourceError, match="HTTP 401"):
        list(client.pages("orders", START, END))
    assert len(calls) == 1


def test_long_windows_are_split() -> None:
    windows = list(split_window(START, START + timedelta(days=70), timedelta(days=31)))
    assert [(b - a).days for a, b in windows] == [31, 31, 8]
    requested: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append((request.url.params["start"], request.url.params["end"]))
        return _page([], None)

    with _client(handler, [], max_window=timedelta(days=31)) as client:
        list(client.pages("orders", START, START + timedelta(days=40)))
    assert requested == [
        ("2001-01-01T00:00:00Z", "2001-02-01T00:00:00Z"),
        ("2001-02-01T00:00:00Z", "2001-02-10T00:00:00Z"),
    ]


def test_parse_retry_after() -> None:
    now = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Sat, 21 Nov 2026 12:00:30 GMT", now=lambda: now) == 30.0
