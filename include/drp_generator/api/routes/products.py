"""`/v1/products`: products record versions over a window (paged JSON and bulk NDJSON)."""

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
from drp_generator.schemas import ProductsPage

router = APIRouter(prefix="/v1/products", tags=["products"], dependencies=[Depends(require_api_key)])


@router.get(
    "",
    responses=page_responses(ProductsPage),
    summary="Page through products updated in [start, end)",
)
async def list_products(request: Request, query: PageDep, attempt: AttemptHeader = None) -> Response:
    """Record versions whose arrival (= `updated_at`, unless late or duplicated) is in the window.

    Keyset-paged with an opaque `cursor`; the concatenated pages are identical whatever the `limit`.
    """
    return await page_response(request, Entity.PRODUCTS, query, attempt)


@router.get(
    "/bulk",
    response_class=NDJSONResponse,
    responses=BULK_RESPONSES,
    summary="All products of the window as NDJSON",
)
async def bulk_products(request: Request, query: WindowDep, attempt: AttemptHeader = None) -> Response:
    """The same records, in the same order, as paging through the window, one per line."""
    return await bulk_response(request, Entity.PRODUCTS, query, attempt)
