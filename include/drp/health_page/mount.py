"""The page's app as Airflow mounts it: built on its first request.

Every Airflow process loads plugins, task processes included, and only the API server serves the
page: building the app at load time would cost each of them FastAPI's and the read model's
imports (about 1.5 s).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI


class LazyApp:
    """An ASGI app that builds `drp.health_page.app.create_app()` when first called, on a worker
    thread (the imports would otherwise stall the API server's event loop), once."""

    def __init__(self) -> None:
        self._app: FastAPI | None = None
        self._building = asyncio.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            async with self._building:
                if self._app is None:
                    self._app = await asyncio.to_thread(_build)
        await self._app(scope, receive, send)


def _build() -> FastAPI:
    from drp.health_page.app import create_app  # noqa: PLC0415

    return create_app()
