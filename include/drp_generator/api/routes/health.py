"""`GET /health`: liveness, without authentication."""

from __future__ import annotations

from fastapi import APIRouter

from drp_generator.api.routes.records import JSONBytesResponse
from drp_generator.schemas import Health

router = APIRouter(tags=["meta"])


@router.get("/health", responses={200: {"model": Health}})
async def health() -> JSONBytesResponse:
    """Always `{"status": "ok"}` while the process serves requests."""
    return JSONBytesResponse(b'{"status":"ok"}')
