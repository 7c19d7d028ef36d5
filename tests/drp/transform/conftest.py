"""Fixtures for the dbt tests (see dbt_helpers for the isolation rules)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from drp.settings import Settings, load_settings


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    settings = load_settings()
    try:
        with psycopg.connect(settings.postgres_admin_dsn, connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL admin DSN does not answer: {exc}")
    return settings


@pytest.fixture(scope="session")
def transform_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One state dir (DuckDB extension directory) for the whole session."""
    return tmp_path_factory.mktemp("drp_state")
