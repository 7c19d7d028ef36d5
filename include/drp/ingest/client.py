"""HTTP client for the source API: paged reads with bounded, jittered retries.

Why the paged form (`GET /v1/<entity>?start=&end=&limit=&cursor=`) and not the bulk NDJSON stream:
a page is the unit of retry. A 500, a 429, a timeout or a truncated body costs one page, and the
cursor resumes exactly where the last good page ended, so a fault never forces a restart of the
whole window (with the bulk stream, a cut at 90 % means downloading everything again and undoing
what was already copied). Memory stays flat: one page is decoded at a time, plus at most one page
being fetched ahead in a background thread while the loader processes the current one.

Windows longer than the API's maximum (`ClientConfig.max_window`) are read as consecutive
sub-windows, so a caller may ask for any `[start, end)`.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Final

import httpx
import orjson

from drp.ingest.errors import SourceError
from drp.intervals import to_utc

log = logging.getLogger("drp.ingest.client")

RETRYABLE_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
BODY_SNIPPET: Final = 200


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Retry, timeout and paging policy.

    Attributes:
        page_size: records per page (`limit`); the API caps it (10,000 for the generator).
        max_attempts: attempts per page, first try included.
        connect_timeout / read_timeout: seconds for httpx (read = between two bytes).
        page_deadline: seconds for one whole response, so a server trickling bytes cannot stall us.
        backoff_initial / backoff_max: exponential backoff bounds, before jitter (seconds).
        retry_after_max: longest `Retry-After` honoured; a longer one is capped to this.
        max_window: longest window one request may cover; longer windows are split.
        prefetch: fetch the next page in a background thread while the current one is processed.
    """

    page_size: int = 5_000
    max_attempts: int = 6
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    page_deadline: float = 120.0
    backoff_initial: float = 0.2
    backoff_max: float = 10.0
    retry_after_max: float = 60.0
    max_window: timedelta = timedelta(days=31)
    prefetch: bool = True


@dataclass(slots=True)
class Page:
    """One decoded page of records."""

    number: int
    records: list[Any]
    cursor: str | None
    next_cursor: str | None
    attempts: int
    nbytes: int


@dataclass(slots=True)
class FetchStats:
    """What the transport went through, for logs and the batch summary."""

    pages: int = 0
    requests: int = 0
    retries: int = 0
    bytes: int = 0
    cpu_seconds: float = 0.0
    failures: dict[str, int] = field(default_factory=dict)

    def count_failure(self, kind: str) -> None:
        self.failures[kind] = self.failures.get(kind, 0) + 1


class _Retry(Exception):  # noqa: N818 - control flow, never escapes this module
    def __init__(self, kind: str, message: str, status: int | None, delay: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.delay = delay


def iso_utc(value: datetime) -> str:
    """`2026-11-21T00:00:00Z` for an aware datetime."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def split_window(start: datetime, end: datetime, longest: timedelta) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive half-open sub-windows of at most `longest` covering `[start, end)`."""
    start, end = to_utc(start, name="start"), to_utc(end, name="end")
    cursor = start
    while cursor < end:
        upto = min(cursor + longest, end)
        yield cursor, upto
        cursor = upto


def parse_retry_after(
    value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
        return max(0.0, seconds)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())


class SourceClient:
    """Reads one entity's records for a window from the source API, page by page.

    Args:
        base_url: e.g. `http://127.0.0.1:8000`.
        api_key: sent as `X-API-Key`.
        config: retry/timeout/paging policy.
        faults: fault overrides sent as `fault_<name>=<value>` query parameters (test/chaos use).
        sleep / rng / transport: injectable for tests.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        config: ClientConfig | None = None,
        faults: Mapping[str, str] | None = None,
        sleep: Callable[[float], object] | None = None,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config or ClientConfig()
        self.base_url = base_url.rstrip("/")
        self.faults = {
            (name if name.startswith("fault_") else f"fault_{name}"): str(value)
            for name, value in (faults or {}).items()
        }
        self.stats = FetchStats()
        self._closed = threading.Event()
        # Waiting on the event lets `close()` cut a backoff short (the fetch thread then stops).
        self._sleep = sleep or self._closed.wait
        self._rng = rng or random.Random()
        headers = {"Accept": "application/json", "User-Agent": "drp-ingest/1"}
        if api_key:
            headers["X-API-Key"] = api_key
        cfg = self.config
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(cfg.read_timeout, connect=cfg.connect_timeout),
            limits=httpx.Limits(max_connections=2, max_keepalive_connections=2),
            transport=transport,
        )

    def close(self) -> None:
        self._closed.set()
        self._http.close()

    def __enter__(self) -> SourceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- paging ---------------------------------------------------------------------------
    def pages(self, entity: str, start: datetime, end: datetime) -> Generator[Page, None, None]:
        """Every page of `entity` for `[start, end)`, in order.

        Raises:
            SourceError: a page could not be fetched within the retry budget, or the API refused
                the request outright (4xx other than 408/425/429).
        """
        number = 0
        windows = list(split_window(start, end, self.config.max_window))
        if not self.config.prefetch:
            for sub_start, sub_end in windows:
                cursor: str | None = None
                while True:
                    number += 1
                    page = self.fetch_page(
                        entity=entity, start=start, end=end, sub_start=sub_start, sub_end=sub_end,
                        cursor=cursor, number=number,
                    )  # fmt: skip
                    yield page
                    if page.next_cursor is None:
                        break
                    cursor = page.next_cursor
            return

        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drp-ingest-fetch")
        pending: Future[Page] | None = None
        try:
            for sub_start, sub_end in windows:
                number += 1
                pending = executor.submit(
                    self.fetch_page,
                    entity=entity, start=start, end=end, sub_start=sub_start, sub_end=sub_end,
                    cursor=None, number=number,
                )  # fmt: skip
                while pending is not None:
                    page = pending.result()
                    pending = None
                    if page.next_cursor is not None:
                        number += 1
                        pending = executor.submit(
                            self.fetch_page,
                            entity=entity, start=start, end=end, sub_start=sub_start, sub_end=sub_end,
                            cursor=page.next_cursor, number=number,
                        )  # fmt: skip
                    yield page
        finally:
            if pending is not None:
                pending.cancel()
            # Do not wait: an in-flight request ends by itself within its timeouts.
            executor.shutdown(wait=False, cancel_futures=True)

    def fetch_page(
        self,
        *,
        entity: str,
        start: datetime,
        end: datetime,
        sub_start: datetime,
        sub_end: datetime,
        cursor: str | None,
        number: int,
    ) -> Page:
        """One page with retries. `start`/`end` name the whole window in errors.

        Raises:
            SourceError: see `pages`.
        """
        cfg = self.config
        params: dict[str, str | int] = {
            "start": iso_utc(sub_start),
            "end": iso_utc(sub_end),
            "limit": cfg.page_size,
        }
        if cursor is not None:
            params["cursor"] = cursor
        params.update(self.faults)
        url = f"{self.base_url}/v1/{entity}"
        cpu_start = time.thread_time()
        try:
            return self._fetch_with_retries(
                url, params, entity=entity, start=start, end=end, cursor=cursor, number=number
            )
        finally:
            self.stats.cpu_seconds += time.thread_time() - cpu_start

    def _fetch_with_retries(
        self,
        url: str,
        params: dict[str, str | int],
        *,
        entity: str,
        start: datetime,
        end: datetime,
        cursor: str | None,
        number: int,
    ) -> Page:
        cfg = self.config
        last_status: int | None = None
        last_message = ""
        attempts = 0
        for attempt in range(1, cfg.max_attempts + 1):
            attempts = attempt
            self.stats.requests += 1
            try:
                records, next_cursor, nbytes = self._get_page(url, params, attempt)
            except _Retry as retry:
                last_status = retry.status if retry.status is not None else last_status
                last_message = retry.message
                self.stats.count_failure(retry.kind)
                if attempt == cfg.max_attempts or self._closed.is_set():
                    break
                delay = self._backoff(attempt, retry.delay)
                self.stats.retries += 1
                log.warning(
                    "%s page %d (cursor=%s) attempt %d/%d failed: %s; retrying in %.2fs",
                    entity, number, cursor or "-", attempt, cfg.max_attempts, retry.message, delay,
                )  # fmt: skip
                self._sleep(delay)
                continue
            except _Fatal as fatal:
                raise SourceError(
                    f"not retryable: {fatal.message}",
                    entity=entity,
                    start=start,
                    end=end,
                    page=number,
                    cursor=cursor,
                    attempts=attempt,
                    last_status=fatal.status,
                ) from None
            self.stats.pages += 1
            self.stats.bytes += nbytes
            return Page(number, records, cursor, next_cursor, attempt, nbytes)
        raise SourceError(
            f"gave up: {last_message}" if not self._closed.is_set() else f"client closed: {last_message}",
            entity=entity,
            start=start,
            end=end,
            page=number,
            cursor=cursor,
            attempts=attempts,
            last_status=last_status,
        )

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        cfg = self.config
        ceiling: float = min(cfg.backoff_max, cfg.backoff_initial * 2.0 ** (attempt - 1))
        # "Equal jitter": never less than half the exponential step, so retries do spread out.
        delay = ceiling / 2 + self._rng.uniform(0, ceiling / 2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, cfg.retry_after_max))
        return delay

    def _get_page(
        self, url: str, params: Mapping[str, str | int], attempt: int
    ) -> tuple[list[Any], str | None, int]:
        cfg = self.config
        deadline = time.monotonic() + cfg.page_deadline
        try:
            with self._http.stream("GET", url, params=params, headers={"X-Attempt": str(attempt)}) as resp:
                status = resp.status_code
                if status != 200:
                    snippet = resp.read()[:BODY_SNIPPET].decode("utf-8", "replace")
                    if status in RETRYABLE_STATUSES:
                        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                        raise _Retry(f"http{status}", f"HTTP {status}: {snippet}", status, retry_after)
                    raise _Fatal(status, f"HTTP {status}: {snippet}")
                chunks = []
                for chunk in resp.iter_bytes():
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        raise _Retry("deadline", f"response took longer than {cfg.page_deadline}s", status)
        except httpx.TimeoutException as exc:
            raise _Retry("timeout", f"timeout ({type(exc).__name__})", None) from None
        except httpx.TransportError as exc:
            # Connection refused/reset, or the body ended before its announced length.
            raise _Retry("transport", f"{type(exc).__name__}: {exc}", None) from None
        body = b"".join(chunks)
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            try:
                # Valid JSON orjson refuses (a lone surrogate, 1e400): keep it, the contract
                # check quarantines the records concerned instead of the whole window failing.
                doc = json.loads(body)
            except ValueError:
                raise _Retry(
                    "invalid_body", f"invalid JSON body ({len(body)} bytes): {exc}", status
                ) from None
        if type(doc) is not dict or type(doc.get("data")) is not list:
            raise _Retry("invalid_body", "body is not a page object with a `data` list", status)
        records: list[Any] = doc["data"]
        next_cursor = doc.get("next_cursor")
        if next_cursor is not None and type(next_cursor) is not str:
            raise _Retry("invalid_body", "`next_cursor` is neither a string nor null", status)
        count = doc.get("count")
        if count is not None and count != len(records):
            raise _Retry("invalid_body", f"page says count={count} but holds {len(records)} records", status)
        return records, next_cursor, len(body)


class _Fatal(Exception):  # noqa: N818 - converted to SourceError by the caller
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
