"""Shared fixtures: the platform's settings and real connections to the running stack.

`make test` starts the stack (`drp up`) before pytest runs; integration tests talk to it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest

from drp.settings import Settings, load_settings


def pytest_configure(config: pytest.Config) -> None:
    """Point Airflow (imported later by DAG tests) at the platform's metadata DB and DAG folder."""
    from drpctl.stack.airflow import airflow_env

    os.environ.update(airflow_env(load_settings(check_secrets=False)))


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
