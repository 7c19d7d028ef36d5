"""Shared fixtures: the platform's settings and real connections to the running stack.

`make test` starts the stack (`drp up`) before pytest runs; integration tests talk to it. A test
that needs a service fails when the service is missing: nothing here skips, and under CI (`CI`
set) a skip from anywhere is reported as a failure.
"""

from __future__ import annotations

import fcntl
import os
import signal
from collections.abc import Generator, Iterator
from contextlib import ExitStack, contextmanager

import psycopg
import pytest

from drp.settings import PROJECT_ROOT, Settings, load_settings
from drpctl.stack.airflow import airflow_env


def pytest_configure(config: pytest.Config) -> None:
    """Point Airflow (imported later by DAG tests) at the platform's metadata DB and DAG folder."""
    os.environ.update(airflow_env(load_settings(check_secrets=False)))


STACK_LANE = "stack"


def _lane(item: pytest.Item) -> str:
    """The xdist group a test runs in (`make test` runs two workers with `--dist loadgroup`).

    Tests of the running stack (its database, lake, scheduler and services) share one lane and
    keep their order: they pause the DAG, kill processes and read what earlier modules left. A
    test that needs no service, or a module marked `isolated` (its own database, lake and
    generator), runs in a lane of its module beside them, so a module's fixtures are built once.
    """
    needs_service = any(item.get_closest_marker(m) for m in ("integration", "e2e", "lifecycle"))
    if item.get_closest_marker("isolated") or (item.get_closest_marker("unit") and not needs_service):
        return item.nodeid.split("::", 1)[0]
    return STACK_LANE


def pytest_itemcollected(item: pytest.Item) -> None:
    """Give each test its lane as it is collected (xdist reads the groups in its own
    `pytest_collection_modifyitems`)."""
    item.add_marker(pytest.mark.xdist_group(_lane(item)))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the stack lifecycle tests (which stop and restart every service) last.

    The chaos campaign (`outages`) keeps its place; the services lock below keeps it apart from
    the isolated modules.
    """
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


# Isolated modules still use the stack's Postgres server and object store. Tests that stop those
# services (`lifecycle` modules, `outages` tests) wait until no isolated module is running in the
# other lane, and an isolated module waits until they are done: a shared lock for the one, an
# exclusive lock for the other, on a file both xdist workers see.
SERVICES_LOCK = PROJECT_ROOT / ".drp" / "pytest-services.lock"
# The longest holder is the chaos campaign (about 10 min): a wait this long means a leaked lock.
SERVICES_LOCK_WAIT = 40 * 60


class ServicesLockTimeout(Exception):
    pass


def _waited_too_long(signum: int, frame: object) -> None:
    raise ServicesLockTimeout(
        f"the services lock ({SERVICES_LOCK}) was not free after {SERVICES_LOCK_WAIT} s"
    )


@contextmanager
def _services_lock(mode: int) -> Iterator[None]:
    SERVICES_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with SERVICES_LOCK.open("a") as handle:
        # A blocking flock (the kernel wakes a waiter as soon as the lock is free; polling would
        # starve an exclusive waiter behind back-to-back shared holders), bounded by an alarm.
        previous = signal.signal(signal.SIGALRM, _waited_too_long)
        signal.alarm(SERVICES_LOCK_WAIT)
        try:
            fcntl.flock(handle, mode)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _module_lock_mode(item: pytest.Item) -> int | None:
    if item.get_closest_marker("isolated"):
        return fcntl.LOCK_SH
    if item.get_closest_marker("lifecycle"):
        return fcntl.LOCK_EX
    return None


class _ModuleLock:
    """The services lock a module holds across its tests (one module at a time per worker)."""

    module: str | None = None
    held = ExitStack()


def _module_of(item: pytest.Item | None) -> str | None:
    return item.nodeid.split("::", 1)[0] if item is not None else None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """Take the services lock around a test's whole protocol, outside pytest-timeout's timer.

    A wait behind another lane's outage is not the test's own time (one such wait took 281 s of
    a 600 s timeout). An isolated or lifecycle module holds the lock from its first test's setup
    to its last test's teardown (which tears its module fixtures down); an outage test for itself.
    """
    module, mode = _module_of(item), _module_lock_mode(item)
    if mode is not None and _ModuleLock.module != module:
        _ModuleLock.held.enter_context(_services_lock(mode))
        _ModuleLock.module = module
    with ExitStack() as own:
        if item.get_closest_marker("outages"):
            own.enter_context(_services_lock(fcntl.LOCK_EX))
        try:
            return (yield)
        finally:
            # A stopping session (-x, --maxfail, a session timeout) tears the module down now.
            stopping = bool(item.session.shouldfail or item.session.shouldstop)
            if _ModuleLock.module == module and (stopping or _module_of(nextitem) != module):
                _ModuleLock.held.close()
                _ModuleLock.module = None


def pytest_sessionfinish() -> None:
    _ModuleLock.held.close()
    _ModuleLock.module = None
