"""ops.published_snapshots.lake: which lake a publication's snapshot id belongs to.

Snapshot ids are numbers within one lake. A platform database can see more than one lake (a test
or a benchmark points DRP_LAKE_CATALOG_DB elsewhere), so every read filters by the lake's
identity (`drp.lake.connection.lake_identity`: catalog database and data path). Rows written
before this revision belong to the platform's default lake.

Revision ID: 0301
Revises: 0300
"""

from alembic import op

revision = "0301"
down_revision = "0300"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("alter table ops.published_snapshots add column lake text")
    op.execute("update ops.published_snapshots set lake = 'drp_lake s3://drp-analytics/lake/'")
    op.execute("alter table ops.published_snapshots alter column lake set not null")
    op.execute("drop index ops.published_snapshots_date_idx")
    op.execute(
        "create index published_snapshots_lake_date_idx "
        "on ops.published_snapshots (lake, snapshot_date, id desc)"
    )


def downgrade() -> None:
    op.execute("drop index ops.published_snapshots_lake_date_idx")
    op.execute("alter table ops.published_snapshots drop column lake")
    op.execute(
        "create index published_snapshots_date_idx on ops.published_snapshots (snapshot_date, id desc)"
    )
