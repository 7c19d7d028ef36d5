"""The generator's FastAPI application.

Endpoints (all `/v1` ones need `X-API-Key` when a key is configured; 401 otherwise):

* `GET /health`: liveness, no auth.
* `GET /v1/{orders,customers,products}?start=&end=&limit=&cursor=`: a page
  `{"data": [...], "next_cursor": str | null, "count": int}` of record versions arriving in the
  half-open window `[start, end)` (arrival = `updated_at` except for late or duplicated records).
  `limit` 1..10,000 (default 1,000); windows up to 31 days; the cursor is opaque and signed.
* `GET /v1/{orders,customers,products}/bulk?start=&end=`: the same records as NDJSON
  (`application/x-ndjson`), streamed.
* `GET /v1/truth/{entity}?start=&end=`: exact counts of what the window serves.
* `GET /v1/config`: effective configuration and default faults.

**Faults** default to the server's config (`DRP_GENERATOR_FAULTS`) and can be overridden per request
with `fault_*` query parameters, e.g. `?fault_http500=0.1&fault_dupes=0.01&fault_drift_from=2026-11-20`
(see `drp_generator.faults` for each one). HTTP faults are decided per page and attempt; send
`X-Attempt: n` (1 = first try) on retries, or let the server count identical requests. Responses hit
by a fault carry `X-Drp-Fault: <name>`. A truth request with the same `fault_*` parameters counts
what the records endpoints serve.

Malformed parameters get 422 with FastAPI's `{"detail": [{"loc", "msg", "type"}]}` body.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from drp_generator.api.deps import AttemptCounter, ConfigHolder
from drp_generator.api.routes import customers, health, orders, products, truth
from drp_generator.config import GeneratorConfig
from drp_generator.errors import InvalidParameterError

API_VERSION = "1.0.0"

TAGS = [
    {"name": "orders", "description": "Orders with lines; one record per status change."},
    {"name": "customers", "description": "Customers; a new version when city or segment changes."},
    {"name": "products", "description": "Products; a new version when the list price changes."},
    {"name": "truth", "description": "Ground truth and configuration."},
    {"name": "meta", "description": "Health."},
]


async def _invalid_parameter(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidParameterError)
    detail = [{"loc": ["query", exc.param], "msg": exc.message, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


def create_app(config: GeneratorConfig | None = None) -> FastAPI:
    """Build the API.

    Args:
        config: the generator config; None builds it from `DRP_GENERATOR_*` settings on the first
            request that needs it (so building the app, e.g. for its OpenAPI document, needs no settings).

    Returns:
        The FastAPI application.
    """
    app = FastAPI(
        title="drp generator",
        version=API_VERSION,
        summary="Deterministic synthetic commerce data with switchable faults",
        description=__doc__ or "",
        openapi_tags=TAGS,
    )
    app.state.config_holder = ConfigHolder(config)
    app.state.attempts = AttemptCounter()
    app.add_exception_handler(InvalidParameterError, _invalid_parameter)
    app.include_router(health.router)
    app.include_router(orders.router)
    app.include_router(customers.router)
    app.include_router(products.router)
    app.include_router(truth.router)
    return app
