"""Raw landing tables, quarantine tables and the batch registry.

Raw tables are source-faithful and append-only per batch: a rerun of an interval replaces that
interval's batch in one transaction. Every row keeps its lineage (batch, interval, source, time)
and its full payload, so nothing the source sent is lost.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BATCH_COLUMNS = """
    ingested_at timestamptz not null default now(),
    batch_id uuid not null,
    source_system text not null,
    data_interval_start timestamptz not null,
    data_interval_end timestamptz not null"""
LINEAGE = (
    BATCH_COLUMNS
    + """,
    record_hash text not null,
    raw_payload jsonb not null
"""
)


def upgrade() -> None:
    op.execute(f"""
        create table raw.orders_raw (
            id bigint generated always as identity primary key,
            source_order_id text not null,
            customer_id text not null,
            status text not null,
            currency text not null,
            amount numeric(12, 2) not null,
            order_created_at timestamptz not null,
            updated_at timestamptz not null,
            {LINEAGE}
        )""")
    op.execute("create index orders_raw_batch_idx on raw.orders_raw (batch_id)")
    op.execute("create index orders_raw_interval_idx on raw.orders_raw (data_interval_start)")
    op.execute("create index orders_raw_updated_idx on raw.orders_raw (updated_at)")

    op.execute(f"""
        create table raw.order_lines_raw (
            id bigint generated always as identity primary key,
            source_order_id text not null,
            line_number integer not null,
            product_id text not null,
            quantity integer not null,
            unit_price numeric(12, 2) not null,
            order_updated_at timestamptz not null,
            {BATCH_COLUMNS}
        )""")
    op.execute("create index order_lines_raw_batch_idx on raw.order_lines_raw (batch_id)")
    op.execute("create index order_lines_raw_interval_idx on raw.order_lines_raw (data_interval_start)")

    op.execute(f"""
        create table raw.customers_raw (
            id bigint generated always as identity primary key,
            source_customer_id text not null,
            name text,
            email text,
            country text,
            city text,
            segment text,
            customer_created_at timestamptz not null,
            updated_at timestamptz not null,
            {LINEAGE}
        )""")
    op.execute("create index customers_raw_batch_idx on raw.customers_raw (batch_id)")
    op.execute("create index customers_raw_interval_idx on raw.customers_raw (data_interval_start)")

    op.execute(f"""
        create table raw.products_raw (
            id bigint generated always as identity primary key,
            source_product_id text not null,
            name text,
            category text,
            unit_price numeric(12, 2) not null,
            currency text not null,
            product_created_at timestamptz not null,
            updated_at timestamptz not null,
            {LINEAGE}
        )""")
    op.execute("create index products_raw_batch_idx on raw.products_raw (batch_id)")
    op.execute("create index products_raw_interval_idx on raw.products_raw (data_interval_start)")

    for entity in ("orders", "customers", "products"):
        op.execute(f"""
            create table raw.{entity}_rejected (
                id bigint generated always as identity primary key,
                batch_id uuid not null,
                source_system text not null,
                data_interval_start timestamptz not null,
                data_interval_end timestamptz not null,
                ingested_at timestamptz not null default now(),
                source_record_id text,
                reasons text[] not null check (cardinality(reasons) > 0),
                raw_payload jsonb,
                raw_text text,
                check (raw_payload is not null or raw_text is not null)
            )""")
        op.execute(f"create index {entity}_rejected_batch_idx on raw.{entity}_rejected (batch_id)")

    op.execute("""
        create table ops.ingest_batches (
            batch_id uuid primary key,
            source_system text not null,
            entity text not null,
            data_interval_start timestamptz not null,
            data_interval_end timestamptz not null,
            status text not null check (status in ('running', 'succeeded', 'failed', 'replaced')),
            received integer not null default 0,
            loaded integer not null default 0,
            quarantined integer not null default 0,
            duplicates integer not null default 0,
            drift jsonb not null default '{}'::jsonb,
            archive_key text,
            error_message text,
            started_at timestamptz not null default now(),
            ended_at timestamptz,
            duration_seconds double precision,
            check (data_interval_end > data_interval_start),
            check (status <> 'succeeded' or received = loaded + quarantined + duplicates)
        )""")
    op.execute("""
        create unique index ingest_batches_one_live_per_interval
            on ops.ingest_batches (source_system, entity, data_interval_start, data_interval_end)
            where status = 'succeeded'""")


def downgrade() -> None:
    op.execute("drop table if exists ops.ingest_batches")
    for entity in ("orders", "customers", "products"):
        op.execute(f"drop table if exists raw.{entity}_rejected")
    for table in ("orders_raw", "order_lines_raw", "customers_raw", "products_raw"):
        op.execute(f"drop table if exists raw.{table}")
