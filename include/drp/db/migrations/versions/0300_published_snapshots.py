"""ops.published_snapshots: the publication manifest of the lake, one row per publish.

A row makes a lake catalog snapshot the published state for its `snapshot_date`: consumers read
the marts at `lake_snapshot_id` (DuckLake time travel), never at the lake's head. Inserting the
row is the atomic "publish" of write-audit-publish (docs/adr/0003-lakehouse.md). A rerun of a
day adds a row; the newest row of a date is that date's published state. Owned by
`drp.publish.registry`.

Revision ID: 0300
Revises: 0002
"""

from alembic import op

revision = "0300"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        create table ops.published_snapshots (
            id bigint generated always as identity primary key,
            snapshot_date date not null,
            run_id text not null unique,
            lake_snapshot_id bigint not null check (lake_snapshot_id >= 0),
            marts jsonb not null,
            details jsonb not null default '{}'::jsonb,
            published_at timestamptz not null default now()
        )""")
    op.execute(
        "create index published_snapshots_date_idx on ops.published_snapshots (snapshot_date, id desc)"
    )
    op.execute("""
        comment on table ops.published_snapshots is
        'Published days: the lake snapshot consumers read per date, with row counts, checksums per mart'""")
    op.execute("""
        comment on column ops.published_snapshots.marts is
        'Per mart: {"rows": n, "checksum": order-independent content hash} at lake_snapshot_id'""")


def downgrade() -> None:
    op.execute("drop table if exists ops.published_snapshots")
