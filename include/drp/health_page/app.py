"""The data health page: a FastAPI app that Airflow's API server mounts (plugin `drp_data_health`).

Routes under `<mount>/health`:
* `/` - recent days, one verdict per layer, and the operators' charts;
* `/day/{YYYY-MM-DD}` - one day's drill-down;
* `/docs/{path}` - the Great Expectations Data Docs site, read from the object store.

Every route needs Airflow's login (its JWT: the UI's `_token` cookie, or a Bearer header) and read
access to the daily DAG. Queries run in FastAPI's thread pool (plain `def` routes).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from minio.error import S3Error

from drp.health_page import views
from drp.monitoring.data_health import DAILY_DAG, day_health
from drp.settings import Settings, get_settings
from drp.storage.object_store import MISSING_OBJECT_CODES, client

DAYS_SHOWN: Final = 14
MAX_DAYS: Final = 90


async def airflow_user(request: Request) -> Any:
    """The Airflow user of the request, authorised to read the daily DAG (Airflow's own login)."""
    # Airflow's API server modules: loaded with the app, on its first request (plugin `mount`).
    from airflow.api_fastapi.app import get_auth_manager  # noqa: PLC0415
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails  # noqa: PLC0415
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user  # noqa: PLC0415

    bearer = await bearer_scheme(request)
    if bearer is None and not request.cookies.get("_token"):
        # A browser outside the UI: Airflow's login first, then back here.
        login = get_auth_manager().get_url_login(next_url=str(request.url))
        raise HTTPException(status_code=307, headers={"Location": login}, detail="log in to Airflow first")
    user = await get_user(request, None, bearer)  # Airflow's own resolution (refreshed tokens too)
    if not get_auth_manager().is_authorized_dag(method="GET", details=DagDetails(id=DAILY_DAG), user=user):
        raise HTTPException(status_code=403, detail=f"no read access to the DAG {DAILY_DAG}")
    return user


def create_app(
    *,
    settings: Callable[[], Settings] = get_settings,
    user: Callable[[Request], Awaitable[Any]] = airflow_user,
) -> FastAPI:
    """The app; `settings` and `user` are what tests replace (a database of their own, a test user)."""
    app = FastAPI(title="drp data health", docs_url=None, redoc_url=None, openapi_url=None)
    router = APIRouter(prefix="/health", dependencies=[Depends(user)])

    def base(request: Request) -> str:
        return f"{request.scope.get('root_path', '')}/health"

    @router.get("/", response_class=HTMLResponse)
    def recent_days(
        request: Request,
        end: Annotated[date | None, Query(description="last day shown (default: yesterday)")] = None,
        days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = DAYS_SHOWN,
    ) -> str:
        last = end or (datetime.now(UTC).date() - timedelta(days=1))
        current = settings()
        healths = [day_health(current, last - timedelta(days=back)) for back in range(days)]
        return views.overview_page(healths, base=base(request))

    @router.get("/day/{day}", response_class=HTMLResponse)
    def one_day(request: Request, day: Annotated[date, Path(description="YYYY-MM-DD")]) -> str:
        current = settings()
        return views.day_page(
            day_health(current, day), base=base(request), docs_root=current.quality_docs_path
        )

    @router.get("/docs/{page:path}")
    def data_docs(page: str) -> Response:
        current = settings()
        if not page or any(part in {"", ".", ".."} for part in page.split("/")):
            raise HTTPException(status_code=404, detail="no such page")
        name = f"{current.quality_docs_prefix.strip('/')}/{page}"
        try:
            obj = client(current).get_object(current.s3_bucket_analytics, name)
        except S3Error as exc:
            if exc.code in MISSING_OBJECT_CODES:
                raise HTTPException(status_code=404, detail=f"no Data Docs page {page}") from None
            raise
        try:
            body = bytes(obj.read())
        finally:
            obj.close()
            obj.release_conn()
        media_type = mimetypes.guess_type(page)[0] or "application/octet-stream"
        return Response(body, media_type=media_type)

    app.include_router(router)
    return app
