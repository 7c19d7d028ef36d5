"""Shared fixtures: the platform's settings and real connections to the running stack.

`make test` starts the stack (`drp up`) before pytest runs; integration tests talk to it.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from drp.settings import Settings, load_settings


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the stack lifecycle tests (which stop and restart every service) last."""
    items.sort(key=lambda item: item.get_closest_marker("lifecycle") is not None)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture
def pg(settings: Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as conn:
        yield conn
