"""Versioned, idempotent schema migrations for the `drp` database (Alembic).

Revisions live in `drp/db/migrations/versions/`; each is plain SQL through `op.execute` so the
schema reads like the database it creates. `upgrade()` is safe to run on every `make up`.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from drp.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "drp_schema_version"


def alembic_config(settings: Settings) -> Config:
    """An Alembic config pointing at our migrations and the platform database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # '%' must be escaped for ConfigParser interpolation.
    config.set_main_option("sqlalchemy.url", settings.sqlalchemy_url().replace("%", "%%"))
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Apply every pending migration (a no-op when the schema is current)."""
    command.upgrade(alembic_config(settings), revision)


def current_revision(settings: Settings) -> str | None:
    """The revision the database is at, or None before the first migration."""
    engine = create_engine(settings.sqlalchemy_url())
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()
    finally:
        engine.dispose()


def head_revision(settings: Settings) -> str | None:
    """The newest revision shipped with the code."""
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()
