"""Fixtures: the real generator app served by uvicorn on a free loopback port, and httpx clients."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from drp_generator.config import GeneratorConfig
from tests.drp_generator.served import API_KEY, TEST_CONFIG, Served, serve


@pytest.fixture(scope="session")
def server() -> Iterator[Served]:
    """The generator with an API key and no default faults."""
    with serve(TEST_CONFIG) as served:
        yield served


@pytest.fixture(scope="session")
def open_server() -> Iterator[Served]:
    """The generator without an API key."""
    with serve(GeneratorConfig(seed=7, orders_per_day=400, epoch=date(2026, 9, 1))) as served:
        yield served


@pytest.fixture
def client(server: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=30) as c:
        yield c
