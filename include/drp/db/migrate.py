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


def upgrade(settings: Settings, revision: str = "heads") -> None:
    """Apply every pending migration (a no-op when the schema is current)."""
    command.upgrade(alembic_config(settings), revision)


def current_revisions(settings: Settings) -> set[str]:
    """The revisions the database is at (one per branch), empty before the first migration."""
    engine = create_engine(settings.sqlalchemy_url())
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            return set(context.get_current_heads())
    finally:
        engine.dispose()


def head_revisions(settings: Settings) -> set[str]:
    """The newest revisions shipped with the code (feature branches may each have a head)."""
    return set(ScriptDirectory.from_config(alembic_config(settings)).get_heads())
