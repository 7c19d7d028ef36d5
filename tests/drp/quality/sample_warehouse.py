"""A small synthetic warehouse with the dbt project's published relations, for tests and the bench.

It writes `staging.orders` and the `analytics` marts into a DuckDB file with the same columns and
types as dbt builds them (`drp.quality.suites.CONTRACTS`) and data shaped like the source
system's (`drp_generator.world`): amounts from 1-5 lines of 1-4 items at list prices of
1.99-500, USD/EUR/GBP at the generator's FX rates, a realistic status mix, SCD2 customers with
a few changed ones. Everything is computed in SQL from hashes, so a build is deterministic and
1M orders take a few seconds. Clean by construction: every suite passes on it. Tests corrupt a
copy to inject one violation at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb


@dataclass(frozen=True, slots=True)
class SampleSpec:
    """What to generate.

    The fault fields mimic the source system's aggregate faults (`drp_generator.faults`): they
    are applied at the source, so every layer stays consistent with every other, and only
    checks on distributions, references and timestamps can see them.

    Attributes:
        first_day: first UTC day with orders.
        days: how many days of orders.
        orders_per_day: orders created per day (exactly; the gate's configured volume).
        seed: changes every hash-derived value.
        orphans: share of orders whose customer never existed.
        x100: share of orders whose prices (and so amount) are 100x too large.
        future: share of orders whose timestamps are `future_days` in the future (delivered by
            the batch of their true time).
        collapse_days: day indexes whose volume falls to `collapse_factor` of normal.
        customers: how many customers (default: 1 per 20 daily orders per day, + 30 days).
    """

    first_day: date = date(2026, 1, 1)
    days: int = 7
    orders_per_day: int = 200
    seed: int = 7
    orphans: float = 0.0
    x100: float = 0.0
    future: float = 0.0
    future_days: int = 365
    collapse_days: tuple[int, ...] = ()
    collapse_factor: float = 0.05
    customers: int | None = None

    def day_interval(self, index: int) -> tuple[datetime, datetime]:
        """The half-open UTC interval of day `index` (0-based) of the sample."""
        start = datetime.combine(self.first_day + timedelta(days=index), datetime.min.time(), tzinfo=UTC)
        return start, start + timedelta(days=1)


def build_sample_warehouse(path: Path, spec: SampleSpec | None = None) -> SampleSpec:
    """Create (or replace) a DuckDB file at `path` holding a clean sample warehouse.

    Args:
        path: the DuckDB file to write; an existing file is replaced.
        spec: what to generate (defaults: 7 days x 200 orders from 2026-01-01).

    Returns:
        The spec used.
    """
    spec = spec or SampleSpec()
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)
    conn = duckdb.connect(str(path))
    try:
        conn.execute("set TimeZone = 'UTC'")
        conn.execute("set enable_progress_bar = false")
        for statement in _statements(spec):
            conn.execute(statement)
        conn.execute("checkpoint")
    finally:
        conn.close()
    return spec


def _statements(spec: SampleSpec) -> list[str]:
    # Arithmetic on naive UTC timestamps, cast to timestamptz on output: DuckDB's time-zone-aware
    # functions go through ICU (time_bucket on timestamptz costs ~16 us a row).
    first = f"timestamp '{spec.first_day.isoformat()} 00:00:00'"
    customers = spec.customers or max(50, spec.orders_per_day // 20 * (spec.days + 30))
    seed = spec.seed
    collapsed = ", ".join(str(day) for day in spec.collapse_days) or "-1"
    kept_on_collapsed_days = int(spec.orders_per_day * spec.collapse_factor)

    def u(*parts: str) -> str:
        """A uniform draw in [0, 1) from a hash of the parts and the seed."""
        return f"((hash({', '.join(parts)}, {seed}) % 1000003) / 1000003.0)"

    return [
        "create schema if not exists staging",
        "create schema if not exists analytics",
        # --- customers: created 10-40 days before the first order day; every 7th changed since.
        f"""
        create or replace temp table customers as
        select
            n,
            'cus_' || lpad(cast(n as varchar), 8, '0') as customer_id,
            {first} - interval 40 day + to_seconds(cast(floor({u("n", "'created'")} * 30 * 86400) as bigint))
                as created_at,
            case
                when {u("n", "'country'")} < 0.44 then 'US'
                when {u("n", "'country'")} < 0.58 then 'GB'
                else 'DE'
            end as country,
            n % 7 = 3 as changed
        from range({customers}) as t (n)
        """,
        f"""
        create or replace table analytics.dim_customers as
        with versions as (
            select c.*, 1 as version_number, c.created_at as valid_from,
                case when c.changed then {first} - interval 5 day + to_seconds(n % 86400) end as valid_to
            from customers as c
            union all
            select c.*, 2, {first} - interval 5 day + to_seconds(n % 86400), null
            from customers as c
            where c.changed
        )
        select
            md5(customer_id || '|' || cast(version_number as varchar)) as customer_sk,
            customer_id,
            'Customer ' || cast(n as varchar) as customer_name,
            'customer' || cast(n as varchar) || '@example.com' as email,
            country,
            case country when 'US' then 'Austin' when 'GB' then 'Leeds' else 'Berlin' end
                || case when version_number = 2 then ' North' else '' end as city,
            case when version_number = 2 then 'smb' else 'consumer' end as segment,
            cast(created_at as timestamptz) as customer_created_at,
            cast(version_number as bigint) as version_number,
            cast(valid_from as timestamptz) as valid_from,
            cast(valid_to as timestamptz) as valid_to,
            valid_to is null as is_current,
            false as is_inferred
        from versions
        """,
        # --- products: a 200-item catalog, list prices 1.99-500 USD, mostly cheap.
        f"""
        create or replace table analytics.dim_products as
        select
            'prd_' || lpad(cast(n as varchar), 6, '0') as product_id,
            'Product ' || cast(n as varchar) as product_name,
            ['electronics', 'home', 'garden', 'books', 'toys'][1 + n % 5] as category,
            cast(1.99 + {u("n", "'price'")} * {u("n", "'price'")} * 498 as decimal(12, 2)) as unit_price,
            'USD' as currency,
            cast({first} - interval 60 day as timestamptz) as product_created_at,
            cast({first} - interval 30 day + to_seconds(n * 60) as timestamptz) as updated_at,
            false as is_inferred
        from range(200) as t (n)
        """,
        # --- orders: created uniformly over each day; the latest status decides updated_at.
        f"""
        create or replace temp table orders as
        with base as (
            select
                k,
                i,
                {first} + to_days(cast(k as integer))
                    + to_seconds(cast(floor({u("k", "i", "'t'")} * 86399) as bigint)) as created_at,
                cast(floor({u("k", "i", "'c'")} * {customers}) as bigint) as customer_n,
                {u("k", "i", "'s'")} as us,
                {u("k", "i", "'l'")} as ul,
                {u("k", "i", "'orphan'")} < {spec.orphans} as orphan,
                {u("k", "i", "'x100'")} < {spec.x100} as x100,
                {u("k", "i", "'future'")} < {spec.future} as future
            from range({spec.days}) as d (k), range({spec.orders_per_day}) as r (i)
            where k not in ({collapsed}) or i < {kept_on_collapsed_days}
        )
        select
            'ord_' || strftime(base.created_at, '%Y%m%d') || '_' || lpad(cast(base.i as varchar), 6, '0')
                as order_id,
            base.*,
            case
                when base.orphan then 'cus_99' || lpad(cast(base.k * 100000 + base.i as varchar), 6, '0')
                else c.customer_id
            end as customer_id,
            case c.country when 'US' then 'USD' when 'GB' then 'GBP' else 'EUR' end as currency,
            case
                when us < 0.04 then 'cancelled'
                when us < 0.07 then 'returned'
                when us < 0.77 then 'delivered'
                when us < 0.87 then 'shipped'
                when us < 0.94 then 'paid'
                else 'placed'
            end as status,
            case when ul < 0.45 then 1 when ul < 0.75 then 2 when ul < 0.9 then 3
                 when ul < 0.97 then 4 else 5 end as line_total
        from base
        join customers as c on c.n = base.customer_n
        """,
        f"""
        create or replace temp table lines as
        with drawn as (
            select
                o.order_id,
                o.currency,
                o.x100,
                cast(l.line_number as integer) as line_number,
                {u("o.k", "o.i", "l.line_number", "'p'")} as up,
                {u("o.k", "o.i", "l.line_number", "'q'")} as uq,
                {u("o.k", "o.i", "l.line_number", "'d'")} as ud
            from orders as o, range(1, 6) as l (line_number)
            where l.line_number <= o.line_total
        )
        select
            order_id,
            currency,
            x100,
            line_number,
            -- popular products first, like the source: index = floor(u^2 * 200)
            cast(floor(up * up * 200) as bigint) as product_n,
            cast(case when uq < 0.7 then 1 when uq < 0.9 then 2 when uq < 0.97 then 3 else 4 end as integer)
                as quantity,
            ud
        from drawn
        """,
        """
        create or replace temp table priced_lines as
        with catalog as (
            select cast(substr(product_id, 5) as bigint) as product_n, product_id, unit_price
            from analytics.dim_products
        )
        select
            l.order_id,
            l.line_number,
            p.product_id,
            l.quantity,
            cast(
                p.unit_price
                * case l.currency when 'EUR' then 0.92 when 'GBP' then 0.79 else 1.0 end
                * case when l.ud < 0.8 then 1.0 when l.ud < 0.95 then 0.9 else 0.75 end
                * case when l.x100 then 100 else 1 end
                as decimal(12, 2)
            ) as unit_price
        from lines as l
        join catalog as p using (product_n)
        """,
        f"""
        create or replace table staging.orders as
        with amounts as (
            select order_id, cast(sum(quantity * unit_price) as decimal(12, 2)) as amount
            from priced_lines
            group by order_id
        ),
        versions as (
            select
                o.*,
                a.amount,
                o.created_at + case o.status
                    when 'placed' then interval 0 minute
                    when 'paid' then interval 40 minute
                    when 'cancelled' then interval 3 hour
                    when 'shipped' then interval 30 hour
                    when 'delivered' then interval 4 day
                    else interval 9 day
                end as true_updated_at,
                case when o.future then to_days({spec.future_days}) else interval 0 day end as shift
            from orders as o
            join amounts as a using (order_id)
        ),
        batches as (
            select
                day_start,
                cast(
                    regexp_replace(md5('batch|' || cast(day_start as varchar)),
                        '^(.{{8}})(.{{4}})(.{{4}})(.{{4}})(.{{12}})$', '\\1-\\2-\\3-\\4-\\5')
                    as uuid
                ) as batch_id
            from (select distinct time_bucket(interval 1 day, true_updated_at) as day_start from versions)
        )
        select
            order_id as source_order_id,
            customer_id,
            status,
            currency,
            amount,
            cast(created_at + shift as timestamptz) as order_created_at,
            cast(true_updated_at + shift as timestamptz) as updated_at,
            -- the batch of the version's true time delivers it (even with a faulty timestamp)
            cast(batches.day_start + interval 1 day + interval 10 minute as timestamptz) as ingested_at,
            batches.batch_id,
            'generator' as source_system,
            cast(batches.day_start as timestamptz) as batch_interval_start,
            cast(batches.day_start + interval 1 day as timestamptz) as batch_interval_end,
            md5(order_id || status) as record_hash
        from versions
        join batches on batches.day_start = time_bucket(interval 1 day, versions.true_updated_at)
        """,
        # dbt adds an inferred member for every customer orders reference but that never arrived.
        """
        insert into analytics.dim_customers
        select
            md5(o.customer_id || '|inferred'), o.customer_id, null, null, null, null, null, null,
            1, timestamptz '1970-01-01 00:00:00+00', null, true, true
        from (select distinct customer_id from staging.orders) as o
        where o.customer_id not in (select customer_id from analytics.dim_customers)
        """,
        """
        create or replace table analytics.fct_order_lines as
        select
            l.order_id || '-' || cast(l.line_number as varchar) as order_line_id,
            l.order_id,
            l.line_number,
            l.product_id,
            s.customer_id,
            cast(timezone('UTC', s.order_created_at) as date) as order_date,
            s.status as order_status,
            s.currency,
            l.quantity,
            l.unit_price,
            cast(l.quantity * l.unit_price as decimal(18, 2)) as line_amount,
            s.updated_at as order_updated_at,
            s.batch_interval_start
        from priced_lines as l
        join staging.orders as s on s.source_order_id = l.order_id
        """,
        """
        create or replace table analytics.fct_orders as
        with totals as (
            select
                order_id,
                count(*) as line_count,
                count(distinct product_id) as product_count,
                cast(sum(quantity) as bigint) as item_quantity,
                cast(sum(quantity * unit_price) as decimal(18, 2)) as lines_amount
            from analytics.fct_order_lines
            group by order_id
        )
        select
            s.source_order_id as order_id,
            s.customer_id,
            cast(timezone('UTC', s.order_created_at) as date) as order_date,
            s.order_created_at,
            s.updated_at,
            s.status,
            s.currency,
            s.amount,
            coalesce(t.line_count, 0) as line_count,
            coalesce(t.product_count, 0) as product_count,
            coalesce(t.item_quantity, 0) as item_quantity,
            coalesce(t.lines_amount, 0) as lines_amount,
            s.status = 'cancelled' as is_cancelled,
            s.status = 'returned' as is_returned,
            s.status in ('delivered', 'returned') as is_delivered,
            s.batch_id,
            s.source_system,
            s.batch_interval_start
        from staging.orders as s
        left join totals as t on t.order_id = s.source_order_id
        """,
        """
        create or replace table analytics.daily_order_metrics as
        with aggregated as (
            select
                order_date,
                count(*) as total_orders,
                count(distinct customer_id) as unique_customers,
                cast(sum(amount) as decimal(18, 2)) as total_amount,
                cast(coalesce(sum(case when currency = 'USD' then amount end), 0) as decimal(18, 2))
                    as amount_usd,
                cast(coalesce(sum(case when currency = 'EUR' then amount end), 0) as decimal(18, 2))
                    as amount_eur,
                cast(coalesce(sum(case when currency = 'GBP' then amount end), 0) as decimal(18, 2))
                    as amount_gbp,
                count(case when status = 'placed' then 1 end) as placed_orders,
                count(case when status = 'paid' then 1 end) as paid_orders,
                count(case when status = 'shipped' then 1 end) as shipped_orders,
                count(case when status = 'delivered' then 1 end) as delivered_orders,
                count(case when status = 'cancelled' then 1 end) as cancelled_orders,
                count(case when status = 'returned' then 1 end) as returned_orders
            from analytics.fct_orders
            group by order_date
        )
        select
            order_date,
            total_orders,
            unique_customers,
            total_amount,
            cast(round(cast(total_amount as decimal(38, 10)) / nullif(total_orders, 0), 2)
                as decimal(18, 2)) as avg_amount,
            amount_usd,
            amount_eur,
            amount_gbp,
            placed_orders,
            paid_orders,
            shipped_orders,
            delivered_orders,
            cancelled_orders,
            returned_orders,
            cast(round(cast(cancelled_orders as decimal(38, 10)) / nullif(total_orders, 0), 4)
                as decimal(18, 4)) as cancellation_rate,
            cast(round(cast(returned_orders as decimal(38, 10)) / nullif(total_orders, 0), 4)
                as decimal(18, 4)) as return_rate
        from aggregated
        """,
        """
        create or replace table analytics.dim_date as
        with days as (
            select cast(day_start as date) as date_day
            from range(date '2020-01-01', date '2035-12-31' + interval 1 day, interval 1 day) as s (day_start)
        )
        select
            date_day,
            cast(extract(year from date_day) as integer) as year_number,
            cast(extract(quarter from date_day) as integer) as quarter_number,
            cast(extract(month from date_day) as integer) as month_number,
            monthname(date_day) as month_name,
            cast(extract(day from date_day) as integer) as day_of_month,
            cast(extract(isodow from date_day) as integer) as iso_day_of_week,
            dayname(date_day) as day_name,
            cast(extract(week from date_day) as integer) as iso_week_number,
            cast(extract(isodow from date_day) as integer) in (6, 7) as is_weekend,
            cast(date_trunc('month', date_day) as date) as first_day_of_month
        from days
        """,
    ]
