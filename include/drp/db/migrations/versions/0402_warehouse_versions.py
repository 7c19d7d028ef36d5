"""ops.warehouse_versions and ops.warehouse_heads: the Postgres engine's snapshot catalog.

On the Postgres engine (DRP_WAREHOUSE_ENGINE=postgres) dbt builds staging and marts in schemas
next to raw, which have no time travel. The quality gate freezes what the build wrote into a
snapshot (a copy of the warehouse's schemas, `snapshot_<id>__<schema>`), validates that copy, and
publish records its id: the role DuckLake's catalog snapshots play on the lake. A row here is
either such a snapshot or a restore (the head put back to a published snapshot, `source`).
`ops.warehouse_heads.clean_at` names the snapshot the head equals, or NULL once a build may
have written it, so the next run knows whether it must restore. Every statement on both tables
lives in `drp.warehouse.postgres`.

Revision ID: 0402
Revises: 0401
"""

from alembic import op

revision = "0402"
down_revision = "0401"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        create table ops.warehouse_versions (
            id bigint generated always as identity primary key,
            warehouse text not null,
            kind text not null check (kind in ('snapshot', 'restore')),
            source bigint references ops.warehouse_versions (id) on delete set null,
            created_at timestamptz not null default now(),
            expired_at timestamptz,
            check (kind = 'restore' or source is null),
            check (kind = 'snapshot' or expired_at is null)
        )
    """)
    op.execute("create index warehouse_versions_warehouse_idx on ops.warehouse_versions (warehouse, id)")
    op.execute("""
        create table ops.warehouse_heads (
            warehouse text primary key,
            clean_at bigint references ops.warehouse_versions (id) on delete set null
        )
    """)


def downgrade() -> None:
    op.execute("drop table ops.warehouse_heads")
    op.execute("drop table ops.warehouse_versions")
