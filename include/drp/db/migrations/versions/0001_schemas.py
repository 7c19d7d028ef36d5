"""Schemas: `raw` (source-faithful landing) and `ops` (platform bookkeeping).

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("create schema if not exists raw")
    op.execute("create schema if not exists ops")
    op.execute("comment on schema raw is 'Source-faithful, append-only landing tables with lineage columns'")
    op.execute("comment on schema ops is 'Platform bookkeeping: batches, audit, quality results'")


def downgrade() -> None:
    op.execute("drop schema if exists ops cascade")
    op.execute("drop schema if exists raw cascade")
