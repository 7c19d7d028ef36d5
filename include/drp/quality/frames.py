"""Read what the gate validates from the DuckDB warehouse: what one run's build wrote.

One pandas frame per suite (same name), read one at a time by `FrameReader` after the interval
has been scoped into temp tables. The scope is the interval the run's build wrote (`$start`,
`$end`): the run's own interval, widened back to days the build carried in (a day whose run
failed or never ran, history days). The relation frames are scoped to it:

* `staging.orders`: rows written by the interval's batches (`batch_interval_start` inside it) or
  created inside it. A rerun or a backfill of an old interval sees the same orders;
* `analytics.fct_orders` / `analytics.fct_order_lines`: the facts of those orders, plus facts the
  interval's batches wrote;
* `analytics.daily_order_metrics`: the interval's dates and every order date it touched;
  volume is judged on whole days of the run's own interval (`$own_start`, `$own_end`) and on
  every whole day of the scope whose orders the build carried in (not on history days without
  orders);
* the dimensions: whole tables (SCD2 checks need every version; they are small).

The derived frames (`reconciliation.daily_orders`, `integrity.relationships`,
`contracts.columns`) are computed in DuckDB SQL: exact decimal arithmetic, no full tables in
Python. Dates are UTC calendar dates, as dbt's `to_utc_date` computes them.

A frame that cannot be read (a missing relation or column) is returned with its error instead of
failing the whole load: the gate reports it as a critical failure of that suite, next to the
results of everything that could be read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

import duckdb
import pandas as pd

from drp.quality.suites import CONTRACTS, INTEGRITY

EXAMPLES_PER_CHECK: Final = 5

_IN_INTERVAL = "({col} >= $start and {col} < $end)"


def _in_interval(column: str) -> str:
    return _IN_INTERVAL.format(col=column)


def _utc_date(column: str) -> str:
    return f"cast(timezone('UTC', {column}) as date)"


# Temp tables, in dependency order: later statements read earlier ones.
_SCOPE_SQL: Final[tuple[tuple[str, str], ...]] = (
    (
        "q_staging_orders",
        f"""
        select *
        from staging.orders
        where {_in_interval("batch_interval_start")} or {_in_interval("order_created_at")}
        """,
    ),
    (
        "q_fct_orders",
        f"""
        select *
        from analytics.fct_orders
        where
            order_id in (select source_order_id from q_staging_orders)
            or {_in_interval("batch_interval_start")}
            or {_in_interval("order_created_at")}
        """,
    ),
    (
        "q_fct_order_lines",
        f"""
        select *
        from analytics.fct_order_lines
        where
            order_id in (select order_id from q_fct_orders)
            or {_in_interval("batch_interval_start")}
        """,
    ),
    (
        # Days outside the run's own interval that an orders batch the build carried in covers
        # (every day of a multi-day batch): batches with rows in staging, and raw's live orders
        # batches (`$raw_order_days`), which also name a day whose every order was quarantined.
        "q_carried_days",
        """
        with batch_days as (
            select distinct
                unnest(range(
                    cast(timezone('UTC', batch_interval_start) as timestamp),
                    cast(timezone('UTC', batch_interval_end) as timestamp),
                    interval 1 day
                )) as day_start
            from (
                select distinct batch_interval_start, batch_interval_end
                from q_staging_orders
                where batch_interval_start < $end and batch_interval_end > $start
            )
            union
            select cast(timezone('UTC', unnest($raw_order_days::timestamptz[])) as timestamp)
        )
        select distinct cast(day_start as date) as order_date
        from batch_days
        where
            (day_start at time zone 'UTC') >= $start::timestamptz
            and (day_start at time zone 'UTC') < $end::timestamptz
            and not (
                (day_start at time zone 'UTC') >= $own_start::timestamptz
                and (day_start at time zone 'UTC') < $own_end::timestamptz
            )
        """,
    ),
    (
        # The interval's own dates and every order date it touched.
        "q_dates",
        f"""
        with
        interval_dates as (
            select cast(day_start as date) as order_date
            from range(
                cast({_utc_date("$start::timestamptz")} as timestamp),
                cast($end::timestamptz at time zone 'UTC' as timestamp),
                interval 1 day
            ) as days (day_start)
        ),
        touched_dates as (
            select distinct {_utc_date("order_created_at")} as order_date
            from q_staging_orders
            where order_created_at is not null
            union
            select distinct order_date from q_fct_orders where order_date is not null
        ),
        all_dates as (
            select order_date from interval_dates
            union
            select order_date from touched_dates
        )
        select
            order_date,
            order_date in (select order_date from interval_dates) as in_interval,
            -- the whole UTC day lies inside the run's own interval, or inside the scope as a
            -- carried day: its volume can be judged
            (
                (cast(order_date as timestamp) at time zone 'UTC') >= $own_start::timestamptz
                and ((cast(order_date as timestamp) + interval 1 day) at time zone 'UTC')
                    <= $own_end::timestamptz
            )
            or (
                (cast(order_date as timestamp) at time zone 'UTC') >= $start::timestamptz
                and ((cast(order_date as timestamp) + interval 1 day) at time zone 'UTC')
                    <= $end::timestamptz
                and order_date in (select order_date from q_carried_days)
            ) as full_day
        from all_dates
        """,
    ),
    (
        "q_daily_order_metrics",
        """
        select *
        from analytics.daily_order_metrics
        where order_date in (select order_date from q_dates) or order_date is null
        """,
    ),
)

# Frames read from a temp table (or a whole relation) as they are.
_RELATION_FRAMES: Final[dict[str, str]] = {
    "staging.orders": "select * from q_staging_orders",
    "analytics.daily_order_metrics": "select * from q_daily_order_metrics order by order_date",
    "analytics.fct_orders": "select * from q_fct_orders",
    "analytics.fct_order_lines": "select * from q_fct_order_lines",
    "analytics.dim_customers": "select * from analytics.dim_customers",
    "analytics.dim_products": "select * from analytics.dim_products",
    "analytics.dim_date": "select * from analytics.dim_date",
}
# Which temp tables each frame needs (a frame whose input failed reports that failure).
_NEEDS: Final[dict[str, tuple[str, ...]]] = {
    "staging.orders": ("q_staging_orders",),
    "analytics.daily_order_metrics": ("q_carried_days", "q_dates", "q_daily_order_metrics"),
    "analytics.fct_orders": ("q_fct_orders",),
    "analytics.fct_order_lines": ("q_fct_order_lines",),
    "reconciliation.daily_orders": ("q_carried_days", "q_dates", "q_daily_order_metrics"),
    "integrity.relationships": ("q_staging_orders", "q_fct_orders", "q_fct_order_lines"),
}

_RECONCILIATION_SQL: Final = f"""
with
staging_by_date as (
    select {_utc_date("order_created_at")} as order_date, count(*) as orders, sum(amount) as amount
    from staging.orders
    where {_utc_date("order_created_at")} in (select order_date from q_dates)
    group by all
),
fct_by_date as (
    select order_date, count(*) as orders, sum(amount) as amount
    from analytics.fct_orders
    where order_date in (select order_date from q_dates)
    group by all
)
select
    dates.order_date,
    dates.in_interval,
    dates.full_day,
    metrics.order_date is not null or coalesce(staging.orders, 0) = 0 as metrics_row_present,
    exists (select 1 from analytics.dim_date as d where d.date_day = dates.order_date)
        as dim_date_row_present,
    coalesce(staging.orders, 0) as staging_orders,
    cast(coalesce(staging.amount, 0) as double) as staging_amount,
    metrics.total_orders as metrics_total_orders,
    cast(metrics.total_amount as double) as metrics_total_amount,
    coalesce(fct.orders, 0) as fct_orders,
    cast(coalesce(fct.amount, 0) as double) as fct_amount,
    metrics.total_orders - coalesce(staging.orders, 0) as metrics_orders_minus_staging,
    cast(metrics.total_amount - coalesce(staging.amount, 0) as double) as metrics_amount_minus_staging,
    coalesce(fct.orders, 0) - coalesce(staging.orders, 0) as fct_orders_minus_staging,
    cast(coalesce(fct.amount, 0) - coalesce(staging.amount, 0) as double) as fct_amount_minus_staging,
    cast(
        metrics.avg_amount - cast(metrics.total_amount as double) / nullif(metrics.total_orders, 0)
        as double
    ) as avg_amount_minus_ratio,
    metrics.placed_orders + metrics.paid_orders + metrics.shipped_orders + metrics.delivered_orders
        + metrics.cancelled_orders + metrics.returned_orders - metrics.total_orders
        as status_counts_minus_total,
    cast(
        metrics.amount_usd + metrics.amount_eur + metrics.amount_gbp - metrics.total_amount as double
    ) as currency_amounts_minus_total,
    case
        when dates.full_day and $orders_per_day > 0
            then coalesce(staging.orders, 0) / $orders_per_day
    end as volume_ratio
from q_dates as dates
left join q_daily_order_metrics as metrics on metrics.order_date = dates.order_date
left join staging_by_date as staging on staging.order_date = dates.order_date
left join fct_by_date as fct on fct.order_date = dates.order_date
order by dates.order_date
"""

# One (check, key) row per anomaly; every check of the integrity suite has a branch. Inferred
# dimension members (placeholders dbt adds for keys whose record never arrived) do not count as
# known: an order pointing at one references a customer that does not exist (yet).
_INTEGRITY_ANOMALIES_SQL: Final = """
with real_customers as (
    select customer_id, valid_from, valid_to from analytics.dim_customers where not is_inferred
)
select 'fct_orders_unknown_customer' as check_name, f.order_id as example
from q_fct_orders as f
where not exists (
    select 1 from real_customers as c where c.customer_id = f.customer_id
)

union all
select 'fct_orders_customer_not_valid_at_order_time', f.order_id
from q_fct_orders as f
where
    exists (select 1 from real_customers as c where c.customer_id = f.customer_id)
    and not exists (
        select 1
        from real_customers as c
        where
            c.customer_id = f.customer_id
            and c.valid_from <= f.order_created_at
            and (c.valid_to is null or f.order_created_at < c.valid_to)
    )

union all
select 'fct_orders_missing_from_staging', f.order_id
from q_fct_orders as f
where not exists (select 1 from staging.orders as s where s.source_order_id = f.order_id)

union all
select 'staging_orders_missing_from_fct', s.source_order_id
from q_staging_orders as s
where not exists (select 1 from analytics.fct_orders as f where f.order_id = s.source_order_id)

union all
select 'fct_orders_amount_mismatch', f.order_id
from q_fct_orders as f
where f.amount is distinct from f.lines_amount

union all
select 'fct_order_lines_unknown_order', l.order_line_id
from q_fct_order_lines as l
where not exists (select 1 from analytics.fct_orders as f where f.order_id = l.order_id)

union all
select 'fct_order_lines_unknown_product', l.order_line_id
from q_fct_order_lines as l
where not exists (
    select 1 from analytics.dim_products as p where p.product_id = l.product_id and not p.is_inferred
)

union all
select 'fct_order_lines_amount_mismatch', l.order_line_id
from q_fct_order_lines as l
where l.line_amount is distinct from l.quantity * l.unit_price

union all
select 'dim_customers_not_one_current', customer_id
from analytics.dim_customers
group by customer_id
having count(*) filter (where is_current) <> 1

union all
select 'dim_customers_version_gaps', customer_id
from (
    select
        customer_id,
        valid_to,
        lead(valid_from) over (partition by customer_id order by valid_from) as next_valid_from
    from analytics.dim_customers
)
where next_valid_from is not null and valid_to is distinct from next_valid_from
"""

_CONTRACT_SQL: Final = """
select
    table_schema || '.' || table_name as relation,
    column_name,
    data_type,
    table_schema || '.' || table_name || '.' || column_name || ' ' || data_type as signature
from information_schema.columns
-- The warehouse's own catalog: on Postgres, DuckDB also lists the attached database's schemas.
where table_catalog = current_database()
    and table_schema || '.' || table_name in (select unnest($relations::varchar[]))
order by relation, ordinal_position
"""


_DERIVED_FRAMES: Final[dict[str, str]] = {
    "reconciliation.daily_orders": _RECONCILIATION_SQL,
    "contracts.columns": _CONTRACT_SQL,
}


@dataclass
class Frame:
    """What one suite validates: a DataFrame, or why it could not be read."""

    name: str
    data: pd.DataFrame | None
    error: str | None = None
    # For derived anomaly counts: a few offending keys per check (shown in reports).
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return 0 if self.data is None else len(self.data)


class FrameReader:
    """Reads the suites' frames for one interval from an open (read-only) DuckDB connection.

    Construction scopes the interval into temp tables (in the connection; the caller closes it).
    `read()` then returns one frame at a time, so a caller can validate and drop each before
    reading the next: at 1M orders a frame is hundreds of MB.
    """

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        *,
        data_interval_start: datetime,
        data_interval_end: datetime,
        orders_per_day: int,
        scope_start: datetime | None = None,
        scope_end: datetime | None = None,
        orders_batches: Sequence[tuple[datetime, datetime]] = (),
    ) -> None:
        """Scope the interval.

        Args:
            conn: an open DuckDB connection to the warehouse (read-only is enough).
            data_interval_start: inclusive start of the run's interval (timezone-aware).
            data_interval_end: exclusive end.
            orders_per_day: the source's configured daily volume (for the volume ratio).
            scope_start: inclusive start of what the build wrote (default: the run's interval).
                It is widened to cover the run's interval whatever is passed.
            scope_end: exclusive end of it.
            orders_batches: the intervals of raw's live orders batches in the scope (their days
                are judged for volume even when no order of theirs reached staging).
        """
        self._conn = conn
        start = min(scope_start or data_interval_start, data_interval_start)
        end = max(scope_end or data_interval_end, data_interval_end)
        self._params: dict[str, Any] = {
            "start": start,
            "end": end,
            "own_start": data_interval_start,
            "own_end": data_interval_end,
            "raw_order_days": _day_starts(orders_batches),
        }
        self._extra: dict[str, dict[str, Any]] = {
            "reconciliation.daily_orders": {"orders_per_day": orders_per_day},
            "contracts.columns": {"relations": list(CONTRACTS)},
        }
        # Temp tables that could not be built, with why (frames needing them report it).
        self.failed: dict[str, str] = {}
        conn.execute("set TimeZone = 'UTC'")
        conn.execute("set enable_progress_bar = false")
        for table, sql in _SCOPE_SQL:
            try:
                conn.execute(f"create or replace temp table {table} as {sql}", _used(sql, self._params))
            except duckdb.Error as exc:
                self.failed[table] = _one_line(exc)

    def carried_days(self) -> list[date]:
        """Days outside the run's own interval whose orders the build carried in (oldest first)."""
        if "q_carried_days" in self.failed:
            return []
        rows = self._conn.execute("select order_date from q_carried_days order by order_date").fetchall()
        return [row[0] for row in rows]

    def read(self, name: str) -> Frame:
        """The frame of suite `name`, or a Frame carrying the reason it could not be read."""
        if name == "integrity.relationships":
            return self._integrity()
        sql = _RELATION_FRAMES.get(name) or _DERIVED_FRAMES[name]
        return self._read(name, sql)

    def _read(self, name: str, sql: str) -> Frame:
        for table in _NEEDS.get(name, ()):
            if table in self.failed:
                return Frame(name, None, error=f"{table}: {self.failed[table]}")
        params = _used(sql, {**self._params, **self._extra.get(name, {})})
        try:
            return Frame(name, _fetch_df(self._conn, sql, params))
        except duckdb.Error as exc:
            return Frame(name, None, error=_one_line(exc))

    def _integrity(self) -> Frame:
        """One row of anomaly counts (one column per integrity check) and a few examples of each."""
        sql = f"""
            select
                check_name,
                count(*) as anomalies,
                list(example order by example)[1:{EXAMPLES_PER_CHECK}] as examples
            from ({_INTEGRITY_ANOMALIES_SQL})
            group by check_name
        """
        grouped = self._read("integrity.relationships", sql)
        if grouped.data is None:
            return grouped
        counts = {check.name: 0 for check in INTEGRITY.checks}
        examples: dict[str, list[str]] = {}
        records: list[dict[Any, Any]] = grouped.data.to_dict(orient="records")
        for record in records:
            check = str(record["check_name"])
            counts[check] = int(record["anomalies"])
            examples[check] = [str(value) for value in record["examples"]]
        return Frame("integrity.relationships", pd.DataFrame([counts]), examples=examples)


def _fetch_df(conn: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    """Run `sql` into pandas through Arrow (2-3x faster than `.df()` on wide string frames).

    DECIMAL columns become float64, as `.df()` would make them (GX's pandas metrics need
    numbers, not Decimal objects); UUIDs become strings. Exact types are checked separately, on
    the warehouse's declared types (`contracts.columns`).
    """
    described = conn.execute(f"select * from ({sql}) limit 0", params).description or []
    columns = []
    for column in described:
        name = '"' + str(column[0]).replace('"', '""') + '"'
        is_decimal = str(column[1]).upper().startswith("DECIMAL")
        columns.append(f"cast({name} as double) as {name}" if is_decimal else name)
    table = conn.execute(f"select {', '.join(columns)} from ({sql})", params).fetch_arrow_table()
    frame: pd.DataFrame = table.to_pandas(date_as_object=False)
    return frame


def _day_starts(intervals: Sequence[tuple[datetime, datetime]]) -> list[datetime]:
    """The UTC midnights of every day the intervals touch."""
    days = set()
    for start, end in intervals:
        day = datetime.combine(start.astimezone(UTC).date(), time.min, tzinfo=UTC)
        while day < end:
            days.add(day)
            day += timedelta(days=1)
    return sorted(days)


def _used(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    # DuckDB rejects named parameters a statement does not use.
    return {key: value for key, value in params.items() if f"${key}" in sql}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:500]}"
