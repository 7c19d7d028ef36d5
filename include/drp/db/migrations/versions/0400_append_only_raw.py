"""Append-only raw: superseded batches keep their rows; a batch that looks broken is `held`.

A rerun of an interval no longer deletes the previous batch's raw rows: the previous batch becomes
`replaced` and records which batch took its place and when (`superseded_by`, `superseded_at`).
A batch past a threshold (quarantined share, a contract field missing, volume) is committed as
`held`: its rows stay in raw for inspection and replay, but it is not live and supersedes nothing;
`threshold_violations` says why. `replay_of` names the batch a replay re-ingested. The retention
purge deletes the raw rows of long-superseded batches (the archive stays) and records
`purged_at`/`purged_rows` on the batch row, so every purge is on record.

Revision ID: 0400
Revises: 0301
"""

from alembic import op

revision = "0400"
down_revision = "0301"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        alter table ops.ingest_batches
            add column superseded_by uuid,
            add column superseded_at timestamptz,
            add column replay_of uuid,
            add column purged_at timestamptz,
            add column purged_rows bigint,
            add column threshold_violations jsonb""")
    op.execute("alter table ops.ingest_batches drop constraint ingest_batches_status_check")
    op.execute("""
        alter table ops.ingest_batches add constraint ingest_batches_status_check
            check (status in ('running', 'succeeded', 'failed', 'replaced', 'held'))""")
    # Every committed batch (live, superseded or held) keeps the batch invariant.
    op.execute("alter table ops.ingest_batches drop constraint ingest_batches_check1")
    op.execute("""
        alter table ops.ingest_batches add constraint ingest_batches_counts_check
            check (status not in ('succeeded', 'replaced', 'held')
                   or received = loaded + quarantined + duplicates)""")
    op.execute("""
        alter table ops.ingest_batches add constraint ingest_batches_purge_check
            check (purged_at is null or status in ('replaced', 'held'))""")
    # The purge's scan: superseded or held batches by age (a held batch's age runs from its end).
    op.execute("""
        create index ingest_batches_superseded_idx
            on ops.ingest_batches ((coalesce(superseded_at, ended_at)))
            where status in ('replaced', 'held') and purged_at is null""")


def downgrade() -> None:
    op.execute("drop index ops.ingest_batches_superseded_idx")
    op.execute("alter table ops.ingest_batches drop constraint ingest_batches_purge_check")
    op.execute("alter table ops.ingest_batches drop constraint ingest_batches_counts_check")
    op.execute("alter table ops.ingest_batches drop constraint ingest_batches_status_check")
    op.execute("update ops.ingest_batches set status = 'failed' where status = 'held'")
    op.execute("""
        alter table ops.ingest_batches add constraint ingest_batches_status_check
            check (status in ('running', 'succeeded', 'failed', 'replaced'))""")
    op.execute("""
        alter table ops.ingest_batches add constraint ingest_batches_check1
            check (status <> 'succeeded' or received = loaded + quarantined + duplicates)""")
    op.execute("""
        alter table ops.ingest_batches
            drop column threshold_violations,
            drop column purged_rows,
            drop column purged_at,
            drop column replay_of,
            drop column superseded_at,
            drop column superseded_by""")
