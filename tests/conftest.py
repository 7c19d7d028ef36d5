"""Shared fixtures: the platform's settings and real connections to the running stack.

`make test` starts the stack (`drp up`) before pytest runs; integration tests talk to it. A test
that needs a service fails when the service is missing: nothing here skips, and under CI (`CI`
set) a skip from anywhere is reported as a failure.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator

import psycopg
import pytest

from drp.settings import Settings, load_settings
from drpctl.stack.airflow import airflow_env


def pytest_configure(config: pytest.Config) -> None:
    """Point Airflow (imported later by DAG tests) at the platform's metadata DB and DAG folder."""
    os.environ.update(airflow_env(load_settings(check_secrets=False)))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the stack lifecycle tests (which stop and restart every service) last."""
    items.sort(key=lambda item: item.get_closest_marker("lifecycle") is not None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Under CI, a skipped test fails: a missing service must never pass unnoticed."""
    report = yield
    if report.skipped and os.environ.get("CI") and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, which counts as a failure: {reason}"
    return report


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture
def pg(settings: Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as conn:
        yield conn
