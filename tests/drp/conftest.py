"""Fixtures shared by the runtime's tests: the platform's settings, with Postgres checked once."""

from __future__ import annotations

import psycopg
import pytest

from drp.settings import Settings, load_settings


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    """The platform's settings; fails (never skips) when the admin DSN does not answer."""
    settings = load_settings()
    try:
        with psycopg.connect(settings.postgres_admin_dsn, connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL admin DSN does not answer ({exc}): run `make up`")
    return settings
