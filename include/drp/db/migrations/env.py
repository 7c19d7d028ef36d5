"""Alembic environment: online migrations only, against the URL set by drp.db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from drp.db.migrate import VERSION_TABLE

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "sqlalchemy.url is set by drp.db.migrate.alembic_config"

engine = create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, version_table=VERSION_TABLE, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
