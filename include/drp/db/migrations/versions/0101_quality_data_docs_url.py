"""ops.quality_results.data_docs_path becomes data_docs_url: the Data Docs site lives in the
object store (`s3://…/index.html`), not on the host that ran the gate.

Revision ID: 0101
Revises: 0100
"""

from alembic import op

revision = "0101"
down_revision = "0100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("alter table ops.quality_results rename column data_docs_path to data_docs_url")


def downgrade() -> None:
    op.execute("alter table ops.quality_results rename column data_docs_url to data_docs_path")
