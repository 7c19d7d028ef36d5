"""ops.pipeline_flow_audit: one row per DAG run and per task try, written by Airflow callbacks.

Revision ID: 0200
Revises: 0002
"""

from alembic import op

revision = "0200"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        create table ops.pipeline_flow_audit (
            id bigint generated always as identity primary key,
            flow_name text not null,
            flow_run_id text not null,
            task_id text,
            try_number integer,
            status text not null,
            logical_date timestamptz,
            data_interval_start timestamptz,
            data_interval_end timestamptz,
            started_at timestamptz,
            ended_at timestamptz,
            duration_seconds double precision,
            records_processed bigint,
            metadata jsonb not null default '{}'::jsonb,
            error_message text,
            recorded_at timestamptz not null default now()
        )""")
    op.execute(
        "comment on table ops.pipeline_flow_audit is "
        "'Every DAG run (task_id null) and task try, written by Airflow callbacks'"
    )
    op.execute("create index pipeline_flow_audit_run_idx on ops.pipeline_flow_audit (flow_name, flow_run_id)")


def downgrade() -> None:
    op.execute("drop table if exists ops.pipeline_flow_audit")
