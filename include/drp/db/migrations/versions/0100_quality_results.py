"""Quality gate results: one summary row per suite per pipeline run.

Written by `drp.quality.gate.run_quality_gate` after every gate run, passed or failed. A rerun of
the same run id replaces that run's rows in one transaction. The full GX validation result lives
in the GX project's uncommitted store (`result_path`); its Data Docs page is `result_url`.

Revision ID: 0100
Revises: 0002
"""

from alembic import op

revision = "0100"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        create table ops.quality_results (
            id bigint generated always as identity primary key,
            run_id text not null,
            suite text not null,
            data_interval_start timestamptz not null,
            data_interval_end timestamptz not null,
            success boolean not null,
            blocking boolean generated always as (cardinality(critical_failed) > 0) stored,
            rows_validated bigint not null default 0,
            evaluated_count integer not null,
            failed_count integer not null,
            critical_count integer not null,
            warning_count integer not null,
            failed_expectations text[] not null default '{}',
            critical_failed text[] not null default '{}',
            warning_failed text[] not null default '{}',
            failures jsonb not null default '[]'::jsonb,
            validated_at timestamptz not null,
            elapsed_seconds double precision,
            result_path text,
            result_url text,
            data_docs_path text,
            recorded_at timestamptz not null default now(),
            unique (run_id, suite),
            check (data_interval_end > data_interval_start),
            check (failed_count between 0 and evaluated_count),
            check (critical_count + warning_count = evaluated_count),
            check (cardinality(failed_expectations) = failed_count),
            check (cardinality(critical_failed) + cardinality(warning_failed) = failed_count),
            check (success = (failed_count = 0))
        )""")
    op.execute("create index quality_results_interval_idx on ops.quality_results (data_interval_start)")
    op.execute("create index quality_results_validated_idx on ops.quality_results (validated_at)")
    op.execute("""
        comment on table ops.quality_results is
        'Quality gate: one row per suite per run; blocking = a critical expectation failed'""")
    op.execute("""
        comment on column ops.quality_results.failed_expectations is
        'Check names (drp.quality.suites) of every failed expectation, critical then warning'""")


def downgrade() -> None:
    op.execute("drop table if exists ops.quality_results")
