"""ops.alerts: every alert the platform raised, and whether it reached the webhook.

An alert is written before it is delivered, so a webhook that is down or unset loses nothing:
`delivered` stays false and `delivery_error` says why. `kind` names what raised it (drift,
quarantine, batch_rejected, freshness, deadline, run_failed, task_failed, quality_warning,
reconciliation); `dag_id`/`run_id`/`task_id` place it in Airflow when it came from a run.
Every statement on the table lives in `drp.monitoring.alert_store`.

Revision ID: 0401
Revises: 0400
"""

from alembic import op

revision = "0401"
down_revision = "0400"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        create table ops.alerts (
            id bigint generated always as identity primary key,
            created_at timestamptz not null default now(),
            kind text not null,
            level text not null check (level in ('error', 'warning', 'info')),
            title text not null,
            lines jsonb not null default '[]'::jsonb,
            dag_id text,
            run_id text,
            task_id text,
            details jsonb not null default '{}'::jsonb,
            delivered boolean not null default false,
            delivered_at timestamptz,
            delivery_error text
        )""")
    op.execute(
        "comment on table ops.alerts is "
        "'Every alert raised (drift, quarantine, freshness, deadline, failures) and its delivery'"
    )
    op.execute("create index alerts_created_idx on ops.alerts (created_at desc)")
    op.execute("create index alerts_run_idx on ops.alerts (dag_id, run_id)")


def downgrade() -> None:
    op.execute("drop table if exists ops.alerts")
