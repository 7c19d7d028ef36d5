"""`/v1/truth/{entity}` and `/v1/config`: what the generator serves, for tests and reconciliation."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from drp_generator.api.deps import ConfigDep, WindowDep, require_api_key
from drp_generator.api.routes.records import ERROR_RESPONSES, JSONBytesResponse
from drp_generator.model import Entity
from drp_generator.schemas import ConfigBody, ErrorBody, TruthBody
from drp_generator.truth import truth_for_window

router = APIRouter(prefix="/v1", tags=["truth"], dependencies=[Depends(require_api_key)])


@router.get(
    "/truth/{entity}",
    responses={200: {"model": TruthBody}, 401: ERROR_RESPONSES[401]},
    summary="Ground truth of a window",
)
async def get_truth(entity: Entity, config: ConfigDep, query: WindowDep) -> JSONBytesResponse:
    """Exact counts of what `[start, end)` serves under the given faults (HTTP faults aside):
    served, valid, invalid by reason, duplicates, drifted, late, anomalies and, for orders, the sum
    of valid amounts.
    """
    result = await run_in_threadpool(truth_for_window, config, entity, query.window, query.faults)
    return JSONBytesResponse(orjson.dumps(result.as_dict()))


@router.get(
    "/config",
    responses={200: {"model": ConfigBody}, 401: {"model": ErrorBody}},
    summary="The generator's effective configuration (no secrets)",
)
async def get_config_view(config: ConfigDep) -> JSONBytesResponse:
    """Seed, volume, bounds and default faults."""
    body = {
        "seed": config.seed,
        "orders_per_day": config.orders_per_day,
        "epoch": config.epoch.isoformat(),
        "max_window_days": config.max_window_days,
        "max_limit": config.max_limit,
        "default_limit": config.default_limit,
        "allow_fault_overrides": config.allow_fault_overrides,
        "faults": config.faults.as_dict(),
    }
    return JSONBytesResponse(orjson.dumps(body))
