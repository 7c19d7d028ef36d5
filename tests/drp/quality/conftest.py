"""Fixtures for the quality gate tests.

Isolation: the shared `drp` database is never touched. The session creates its own database
`drp_test_gx_<random>` through the admin DSN, migrates it to revision 0100 (this component's
branch) and drops it at the end. Warehouses are DuckDB files laid out like the lake, under pytest's
tmp dirs: one clean sample is built per session and each test corrupts its own copy; a test that
needs the lake itself copies the sample into a lake of its own (`sample_lake`). The GX project is a copy of the
committed `great_expectations/` (without `uncommitted/`), so tests never write into the checkout;
its validation results go to a prefix of the session's own in the object store.
Great Expectations is imported once per session (by the first gate run).
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from drp.db.migrate import upgrade
from drp.quality.project import GX_ROOT
from drp.settings import Settings, load_settings
from drpctl.db_admin import create_database, drop_database
from tests.drp.quality.gate_runner import SAMPLE, RunGate, copy_into_lake, gate_runner
from tests.drp.quality.sample_warehouse import build_sample_warehouse
from tests.isolated_lake import isolated_lake, remove_objects


@pytest.fixture(scope="session")
def quality_settings(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings pointing at a fresh database `drp_test_gx_<random>` (dropped afterwards)."""
    base = base_settings
    name = f"drp_test_gx_{secrets.token_hex(4)}"
    create_database(base.postgres_admin_dsn, name, base.postgres_user)
    try:
        tmp = tmp_path_factory.mktemp("quality_state")
        settings = load_settings(
            postgres_db=name,
            generator_orders_per_day=SAMPLE.orders_per_day,
            state_dir=tmp,
            # The session's own validation results and Data Docs in the object store (removed afterwards).
            quality_results_prefix=f"tests/{name}/validations",
            quality_docs_prefix=f"tests/{name}/data_docs",
        )
        upgrade(settings, "0101")
        yield settings
    finally:
        drop_database(base.postgres_admin_dsn, name)
        remove_objects(base, f"tests/{name}")


@pytest.fixture(scope="session")
def gx_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the committed GX project."""
    root = tmp_path_factory.mktemp("gx") / "great_expectations"
    shutil.copytree(GX_ROOT, root, ignore=shutil.ignore_patterns("uncommitted"))
    return root


@pytest.fixture(scope="session")
def clean_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clean") / "clean.duckdb"
    build_sample_warehouse(path, SAMPLE)
    return path


@pytest.fixture
def warehouse(clean_warehouse: Path, tmp_path: Path) -> Path:
    """This test's own copy of the clean sample warehouse."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(clean_warehouse, path)
    return path


@pytest.fixture
def sample_lake(quality_settings: Settings, clean_warehouse: Path) -> Iterator[Settings]:
    """The quality settings with a lake of their own holding the clean sample (removed after)."""
    with isolated_lake(quality_settings) as overrides:
        settings = quality_settings.model_copy(update=overrides)
        copy_into_lake(settings, clean_warehouse)
        yield settings


@pytest.fixture
def run_gate(quality_settings: Settings, gx_root: Path) -> RunGate:
    """Run the gate on a warehouse for the sample's interval (Data Docs off unless asked)."""
    return gate_runner(quality_settings, gx_root)


@pytest.fixture
def pg_quality(quality_settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(quality_settings.postgres_conninfo(), autocommit=True) as conn:
        yield conn
