"""Fixtures for the dbt tests (see dbt_helpers for the isolation rules)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def transform_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One state dir (DuckDB extension directory) for the whole session."""
    return tmp_path_factory.mktemp("drp_state")
