"""`/v1/orders`: orders record versions over a window (paged JSON and bulk NDJSON)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from drp_generator.api.deps import AttemptHeader, PageDep, WindowDep, require_api_key
from drp_generator.api.routes.records import (
    BULK_RESPONSES,
    NDJSONResponse,
    bulk_response,
    page_response,
    page_responses,
)
from drp_generator.model import Entity
from drp_generator.schemas import OrdersPage

router = APIRouter(prefix="/v1/orders", tags=["orders"], dependencies=[Depends(require_api_key)])


@router.get(
    "",
    responses=page_responses(OrdersPage),
    summary="Page through orders updated in [start, end)",
)
async def list_orders(request: Request, query: PageDep, attempt: AttemptHeader = None) -> Response:
    """Record versions whose arrival (= `updated_at`, unless late or duplicated) is in the window.

    Keyset-paged with an opaque `cursor`; the concatenated pages are identical whatever the `limit`.
    """
    return await page_response(request, Entity.ORDERS, query, attempt)


@router.get(
    "/bulk",
    response_class=NDJSONResponse,
    responses=BULK_RESPONSES,
    summary="All orders of the window as NDJSON",
)
async def bulk_orders(request: Request, query: WindowDep, attempt: AttemptHeader = None) -> Response:
    """The same records, in the same order, as paging through the window, one per line."""
    return await bulk_response(request, Entity.ORDERS, query, attempt)
