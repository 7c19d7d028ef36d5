"""Shared handlers of the record resources: paged JSON and bulk NDJSON, with HTTP faults."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, Final

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from drp_generator.api.deps import AttemptCounter, RecordsRequest, get_config
from drp_generator.config import GeneratorConfig
from drp_generator.cursor import decode_cursor, encode_cursor
from drp_generator.faults import FaultConfig, HttpFault, decide_http_fault, request_key
from drp_generator.generate import Window, iter_items, iter_window, read_page
from drp_generator.model import Entity
from drp_generator.schemas import ErrorBody

FAULT_HEADER: Final = "X-Drp-Fault"
ATTEMPT_HEADER: Final = "X-Drp-Attempt"


class JSONBytesResponse(Response):
    """A body that is already JSON text."""

    media_type = "application/json"


class NDJSONResponse(StreamingResponse):
    """Newline-delimited JSON, one record per line."""

    media_type = "application/x-ndjson"


ERROR_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong X-API-Key"},
    429: {"model": ErrorBody, "description": "Injected fault `http429`: retry after `Retry-After` seconds"},
    500: {"model": ErrorBody, "description": "Injected fault `http500`: retry the same request"},
}


def _has_http_faults(faults: FaultConfig) -> bool:
    return bool(faults.http500 or faults.http429 or faults.hang or faults.truncate or faults.slow)


async def apply_http_fault(
    request: Request, config: GeneratorConfig, faults: FaultConfig, key: str, attempt: int | None
) -> tuple[HttpFault | None, Response | None, dict[str, str] | None]:
    """Decide and act out the HTTP fault of this request.

    Returns:
        The fault (None if none); for 500/429 the response to send instead of data; and headers
        naming the fault and attempt (when HTTP faults are on). Slow and hang faults sleep here;
        truncation is left to the caller.
    """
    if not _has_http_faults(faults):
        return None, None, None
    if attempt is None:
        counter: AttemptCounter = request.app.state.attempts
        attempt = counter.next(key)
    fault = decide_http_fault(faults, config.seed, key, attempt)
    headers = {FAULT_HEADER: fault.value if fault else "none", ATTEMPT_HEADER: str(attempt)}
    if fault is HttpFault.HTTP_500:
        body = b'{"detail":"injected fault: internal server error, retry the request"}'
        return fault, JSONBytesResponse(body, status_code=500, headers=headers), headers
    if fault is HttpFault.HTTP_429:
        headers["Retry-After"] = str(faults.retry_after)
        body = b'{"detail":"injected fault: too many requests"}'
        return fault, JSONBytesResponse(body, status_code=429, headers=headers), headers
    if fault is HttpFault.HANG:
        await asyncio.sleep(faults.hang_seconds)
    elif fault is HttpFault.SLOW:
        await asyncio.sleep(faults.slow_seconds)
    return fault, None, headers


async def page_response(
    request: Request, entity: Entity, req: RecordsRequest, attempt: int | None
) -> Response:
    """A page of records as `{"data": [...], "next_cursor": ..., "count": n}`."""
    config = get_config(request)
    window, faults = req.window, req.faults
    position = decode_cursor(config, entity, window, faults, req.cursor) if req.cursor else None
    key = request_key(entity, "page", window.start, window.end, limit=req.limit, position=position)
    fault, early, headers = await apply_http_fault(request, config, faults, key, attempt)
    if early is not None:
        return early
    page = await run_in_threadpool(
        read_page, config, entity, window, faults, position=position, limit=req.limit
    )
    nxt = b"null"
    if page.next_position is not None:
        nxt = b'"' + encode_cursor(config, entity, window, faults, page.next_position).encode() + b'"'
    body = b"".join(
        (
            b'{"data":[',
            b",".join(page.records),
            b'],"next_cursor":',
            nxt,
            b',"count":',
            b"%d}" % len(page.records),
        )
    )
    if fault is HttpFault.TRUNCATE:
        body = body[: len(body) // 2]
    return JSONBytesResponse(body, headers=headers)


def _ndjson(
    config: GeneratorConfig, entity: Entity, window: Window, faults: FaultConfig, *, truncate: bool
) -> Iterator[bytes]:
    if not truncate:
        for chunk in iter_window(config, entity, window, faults):
            yield b"\n".join(chunk) + b"\n"
        return
    budget = sum(hi - lo for _items, lo, hi in iter_items(config, entity, window, faults)) // 2
    for chunk in iter_window(config, entity, window, faults):
        if len(chunk) <= budget:
            yield b"\n".join(chunk) + b"\n"
            budget -= len(chunk)
            continue
        head = b"".join(record + b"\n" for record in chunk[:budget])
        yield head + chunk[budget][: len(chunk[budget]) // 2]
        return


async def bulk_response(
    request: Request, entity: Entity, req: RecordsRequest, attempt: int | None
) -> Response:
    """Every record of the window as NDJSON, streamed day by day."""
    config = get_config(request)
    window, faults = req.window, req.faults
    key = request_key(entity, "bulk", window.start, window.end, limit=None, position=None)
    fault, early, headers = await apply_http_fault(request, config, faults, key, attempt)
    if early is not None:
        return early
    stream = _ndjson(config, entity, window, faults, truncate=fault is HttpFault.TRUNCATE)
    return NDJSONResponse(stream, headers=headers)


def page_responses(model: type) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "description": "A page of records"}, **ERROR_RESPONSES}


# Errors of the NDJSON endpoints are JSON: spelled out, since FastAPI would label them NDJSON.
_JSON_ERROR: Final = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
BULK_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": "One JSON record per line (same records and order as paging through the window)",
        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
    },
    **{
        code: {"description": spec["description"], "content": _JSON_ERROR}
        for code, spec in ERROR_RESPONSES.items()
    },
}
