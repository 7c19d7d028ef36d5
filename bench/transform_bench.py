"""Benchmark the dbt build: first day and one more day over 1M and 10M orders of raw history.

For each history size, in an isolated Postgres database (`drp_bench_transform_<random>`,
dropped at the end unless --keep):

1. synthesise the raw history with SQL `generate_series` (orders spread over `size /
   orders-per-day` days, their lines, customers, products, one live batch per entity and day),
   with the generator API's id formats (`ord_YYYYMMDD_NNNNNN`, `cus_NNNNNNNN`, `prd_NNNNNN`);
2. measure how fast DuckDB reads Postgres raw (the staging columns of raw.orders_raw);
3. day 1 after the history: a batch of new orders plus status updates of recent orders, then
   `dbt build` for that interval into an empty lake of its own (a catalog database
   `drp_transform_lake_<random>` and the data prefix `bench-lakes/<random>/` in the analytics
   bucket, both removed at the end unless --keep): a first build, all history;
4. more days the same way (--more-days, default 3): incremental `dbt build`s (the daily run),
   alternating between the sizes so that other load on a shared machine hits each alike.

The daily run's cost should depend on the day's data, not on the history: the script reports
the ratio of the "one more day" build times between the largest and the smallest size (goal
≤ 1.3×), best of --more-days runs, since other work on a shared machine adds noise. Usage:

    uv run --frozen python bench/transform_bench.py                      # 1M and 10M
    uv run --frozen python bench/transform_bench.py --sizes 200000 --daily-orders 5000
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from _common import isolated_lake
from drp.db.migrate import upgrade
from drp.lake.extensions import ensure_extensions, extension_directory
from drp.settings import Settings, load_settings
from drp.transform import DBT_PROJECT_DIR, DbtResult, run_dbt
from drpctl.db_admin import create_database, drop_database

HISTORY_START = datetime(2024, 1, 1, tzinfo=UTC)
STATUSES = "array['delivered','delivered','delivered','shipped','paid','placed','cancelled','returned']"


@dataclass
class DayRun:
    label: str
    interval_start: str
    new_orders: int
    updated_orders: int
    wall_seconds: float
    dbt_seconds: float | None
    models: int
    tests_passed: int
    tests_failed: int
    slowest: dict[str, float]


@dataclass
class SizeResult:
    history_orders: int
    history_days: int
    raw_order_rows: int
    raw_line_rows: int
    generate_seconds: float
    duckdb_read_rows_per_second: float
    duckdb_read_seconds: float
    days: list[DayRun] = field(default_factory=list)

    @property
    def daily(self) -> list[DayRun]:
        return self.days[1:] or self.days

    @property
    def daily_min(self) -> float:
        return min(d.wall_seconds for d in self.daily)

    @property
    def daily_median(self) -> float:
        return statistics.median(d.wall_seconds for d in self.daily)

    @property
    def daily_dbt_min(self) -> float:
        return min(d.dbt_seconds or 0.0 for d in self.daily)

    def summary(self) -> dict[str, float]:
        return {
            "daily_min": self.daily_min,
            "daily_median": self.daily_median,
            "daily_dbt_min": self.daily_dbt_min,
        }


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- synthetic raw data --------------------------------------------------------------------


def generate_history(
    conn: psycopg.Connection[Any], size: int, per_day: int, lines: int, customers: int, products: int
) -> int:
    """Insert `size` orders over size / per_day days of live batches; returns the number of days."""
    days = max(1, -(-size // per_day))
    params = {
        "size": size,
        "per_day": per_day,
        "lines": lines,
        "customers": customers,
        "products": products,
        "base": HISTORY_START,
    }
    conn.execute("set synchronous_commit = off")
    conn.execute("set timezone = 'UTC'")
    conn.execute(
        """insert into raw.customers_raw (source_customer_id, name, email, country, city, segment,
               customer_created_at, updated_at, ingested_at, batch_id, source_system, data_interval_start,
               data_interval_end, record_hash, raw_payload)
           select 'cus_' || lpad(c::text, 8, '0'), 'Customer ' || c, 'c' || c || '@example.com',
                  (array['FR','GB','DE','US'])[1 + c %% 4], 'City ' || (c %% 500),
                  (array['retail','smb','enterprise'])[1 + c %% 3],
                  %(base)s, %(base)s, %(base)s + interval '1 day 5 minutes',
                  md5('customers' || %(base)s::date)::uuid, 'generator', %(base)s,
                  %(base)s + interval '1 day',
                  md5('c' || c), jsonb_build_object('n', c)
           from generate_series(1, %(customers)s) as c""",
        params,
    )
    conn.execute(
        """insert into raw.products_raw (source_product_id, name, category, unit_price, currency,
               product_created_at, updated_at, ingested_at, batch_id, source_system, data_interval_start,
               data_interval_end, record_hash, raw_payload)
           select 'prd_' || lpad(p::text, 6, '0'), 'Product ' || p, 'category ' || (p %% 20),
                  round((1 + p %% 200)::numeric, 2), 'USD',
                  %(base)s, %(base)s, %(base)s + interval '1 day 5 minutes',
                  md5('products' || %(base)s::date)::uuid, 'generator', %(base)s, %(base)s + interval '1 day',
                  md5('p' || p), jsonb_build_object('n', p)
           from generate_series(1, %(products)s) as p""",
        params,
    )
    conn.execute(
        f"""insert into raw.orders_raw (source_order_id, customer_id, status, currency, amount,
               order_created_at, updated_at, ingested_at, batch_id, source_system, data_interval_start,
               data_interval_end, record_hash, raw_payload)
           select 'ord_' || to_char(day_start, 'YYYYMMDD') || '_'
                      || lpad(((i - 1) %% %(per_day)s)::text, 6, '0'),
                  'cus_' || lpad((1 + (i * 7919) %% %(customers)s)::text, 8, '0'),
                  ({STATUSES})[1 + i %% 8], (array['USD','EUR','GBP'])[1 + i %% 3],
                  round((5 + (i * 37) %% 50000 / 100.0)::numeric, 2),
                  day_start + (i %% %(per_day)s) * (interval '86399 seconds' / %(per_day)s),
                  day_start + (i %% %(per_day)s) * (interval '86399 seconds' / %(per_day)s),
                  day_start + interval '1 day 5 minutes',
                  md5('orders' || day_start::date)::uuid, 'generator', day_start,
                  day_start + interval '1 day',
                  md5('o' || i), jsonb_build_object('n', i, 'version', 1)
           from generate_series(1::bigint, %(size)s::bigint) as i,
                lateral (select %(base)s + ((i - 1) / %(per_day)s) * interval '1 day' as day_start) as d""",
        params,
    )
    conn.execute(
        """insert into raw.order_lines_raw (source_order_id, line_number, product_id, quantity, unit_price,
               order_updated_at, ingested_at, batch_id, source_system, data_interval_start, data_interval_end)
           select o.source_order_id, n,
                  'prd_' || lpad((1 + (o.id * 31 + n) %% %(products)s)::text, 6, '0'), 1 + n %% 3,
                  round((1 + (o.id + n) %% 200)::numeric, 2), o.updated_at, o.ingested_at, o.batch_id,
                  o.source_system, o.data_interval_start, o.data_interval_end
           from raw.orders_raw as o, generate_series(1, %(lines)s) as n""",
        params,
    )
    register_batches(conn)
    conn.execute("analyze")
    return days


def register_batches(conn: psycopg.Connection[Any]) -> None:
    """One live batch row per (entity, interval) present in raw and not yet registered."""
    for entity, table in (
        ("orders", "orders_raw"),
        ("customers", "customers_raw"),
        ("products", "products_raw"),
    ):
        conn.execute(
            sql.SQL(
                """insert into ops.ingest_batches (batch_id, source_system, entity, data_interval_start,
                       data_interval_end, status, received, loaded, started_at, ended_at)
                   select batch_id, 'generator', {entity}, data_interval_start, data_interval_end,
                          'succeeded', count(*), count(*), min(ingested_at), min(ingested_at)
                   from raw.{table}
                   where batch_id not in (select batch_id from ops.ingest_batches)
                   group by batch_id, data_interval_start, data_interval_end"""
            ).format(entity=sql.Literal(entity), table=sql.Identifier(table))
        )


def add_day(
    conn: psycopg.Connection[Any],
    day_start: datetime,
    first_new_id: int,
    new_orders: int,
    updates: int,
    lines: int,
    customers: int,
    products: int,
) -> None:
    """A day's batch: new orders, new versions of recent orders (and their lines), a few customers."""
    params = {
        "day": day_start,
        "first": first_new_id,
        "last": first_new_id + new_orders - 1,
        "updates": updates,
        "lines": lines,
        "customers": customers,
        "products": products,
    }
    batch_orders = "md5('orders' || %(day)s::date)::uuid"
    conn.execute("set timezone = 'UTC'")
    conn.execute(
        f"""insert into raw.orders_raw (source_order_id, customer_id, status, currency, amount,
               order_created_at, updated_at, ingested_at, batch_id, source_system, data_interval_start,
               data_interval_end, record_hash, raw_payload)
           select 'ord_' || to_char(%(day)s, 'YYYYMMDD') || '_' || lpad((i - %(first)s)::text, 6, '0'),
                  'cus_' || lpad((1 + (i * 7919) %% %(customers)s)::text, 8, '0'), 'placed',
                  (array['USD','EUR','GBP'])[1 + i %% 3],
                  round((5 + (i * 37) %% 50000 / 100.0)::numeric, 2),
                  %(day)s + (i - %(first)s) * (interval '86399 seconds' / (%(last)s - %(first)s + 1)),
                  %(day)s + (i - %(first)s) * (interval '86399 seconds' / (%(last)s - %(first)s + 1)),
                  %(day)s + interval '1 day 5 minutes', {batch_orders}, 'generator', %(day)s,
                  %(day)s + interval '1 day', md5('o' || i), jsonb_build_object('n', i, 'version', 1)
           from generate_series(%(first)s::bigint, %(last)s::bigint) as i""",
        params,
    )
    # Status updates: the most recent orders created before this day move on (placed -> paid,
    # anything else -> delivered), with updated_at inside the day.
    conn.execute(
        f"""insert into raw.orders_raw (source_order_id, customer_id, status, currency, amount,
               order_created_at, updated_at, ingested_at, batch_id, source_system, data_interval_start,
               data_interval_end, record_hash, raw_payload)
           select source_order_id, customer_id, case when status = 'placed' then 'paid' else 'delivered' end,
                  currency, amount, order_created_at, %(day)s + interval '12 hours',
                  %(day)s + interval '1 day 5 minutes', {batch_orders}, 'generator', %(day)s,
                  %(day)s + interval '1 day', md5(source_order_id || 'v2' || %(day)s::date),
                  jsonb_build_object('id', source_order_id, 'version', 2)
           from (
               select distinct on (source_order_id) *
               from raw.orders_raw
               where data_interval_start >= %(day)s - interval '3 days' and data_interval_start < %(day)s
               order by source_order_id, updated_at desc
               limit %(updates)s
           ) as recent""",
        params,
    )
    conn.execute(
        """insert into raw.order_lines_raw (source_order_id, line_number, product_id, quantity, unit_price,
               order_updated_at, ingested_at, batch_id, source_system, data_interval_start, data_interval_end)
           select o.source_order_id, n,
                  'prd_' || lpad((1 + (abs(hashtext(o.source_order_id)) + n) %% %(products)s)::text, 6, '0'),
                  1 + n %% 3, round((1 + n * 7)::numeric, 2), o.updated_at, o.ingested_at, o.batch_id,
                  o.source_system, o.data_interval_start, o.data_interval_end
           from raw.orders_raw as o, generate_series(1, %(lines)s) as n
           where o.data_interval_start = %(day)s""",
        params,
    )
    conn.execute(
        """insert into raw.customers_raw (source_customer_id, name, email, country, city, segment,
               customer_created_at, updated_at, ingested_at, batch_id, source_system, data_interval_start,
               data_interval_end, record_hash, raw_payload)
           select 'cus_' || lpad(c::text, 8, '0'), 'Customer ' || c, 'c' || c || '@example.com', 'FR',
                  'Moved ' || %(day)s::date,
                  'retail', timestamptz '2024-01-01', %(day)s + interval '8 hours',
                  %(day)s + interval '1 day 5 minutes',
                  md5('customers' || %(day)s::date)::uuid, 'generator', %(day)s, %(day)s + interval '1 day',
                  md5('c' || c || %(day)s::date), jsonb_build_object('n', c)
           from generate_series(1 + (extract(doy from %(day)s::date)::int * 97) %% %(customers)s,
                                (extract(doy from %(day)s::date)::int * 97) %% %(customers)s + 100) as c""",
        params,
    )
    register_batches(conn)
    conn.execute("analyze raw.orders_raw")
    conn.execute("analyze raw.order_lines_raw")


# --- measurements -------------------------------------------------------------------------


def duckdb_read_rate(settings: Settings) -> tuple[float, float, int]:
    """Rows/s for DuckDB copying the staging columns of raw.orders_raw out of Postgres."""
    import duckdb

    ext_dir = ensure_extensions(extension_directory(settings))
    config: dict[str, str | bool | int | float | list[str]] = {
        "extension_directory": str(ext_dir),
        "autoinstall_known_extensions": False,
    }
    with duckdb.connect(":memory:", config=config) as conn:
        conn.execute(f"attach '{settings.postgres_conninfo()}' as pg (type postgres, read_only)")
        started = time.perf_counter()
        conn.execute(
            "create table copied as select source_order_id, customer_id, status, currency, amount, "
            "order_created_at, updated_at, ingested_at, batch_id, source_system, data_interval_start, "
            "data_interval_end, record_hash from pg.raw.orders_raw"
        )
        elapsed = time.perf_counter() - started
        row = conn.execute("select count(*) from copied").fetchone()
        rows = int(row[0]) if row else 0
    return rows / elapsed, elapsed, rows


def day_run(label: str, result: DbtResult, start: datetime, new_orders: int, updates: int) -> DayRun:
    slowest = dict(list(result.timings.items())[:6])
    return DayRun(
        label=label,
        interval_start=start.isoformat(),
        new_orders=new_orders,
        updated_orders=updates,
        wall_seconds=round(result.elapsed_seconds, 2),
        dbt_seconds=round(result.dbt_elapsed_seconds or 0, 2),
        models=len(result.models_built),
        tests_passed=len(result.tests_passed),
        tests_failed=len(result.tests_failed),
        slowest={k: round(v, 2) for k, v in slowest.items()},
    )


@dataclass
class Bench:
    """One history size: its database, its lake and what was measured on it."""

    size: int
    database: str
    settings: Settings
    result: SizeResult
    next_id: int
    next_day: datetime


def prepare(base: Settings, size: int, args: argparse.Namespace, lake: dict[str, object]) -> Bench:
    """Create the database, synthesise the history and measure DuckDB's read rate; dbt builds
    into the lake of the settings overrides `lake`."""
    name = f"drp_bench_transform_{secrets.token_hex(4)}"
    create_database(base.postgres_admin_dsn, name, base.postgres_user)
    settings = base.model_copy(update={"postgres_db": name, **lake})
    bench = Bench(size, name, settings, SizeResult(size, 0, 0, 0, 0, 0, 0), size + 1, HISTORY_START)
    upgrade(settings)
    log(f"{size:,} orders: generating raw history in {name}")
    started = time.perf_counter()
    with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as conn:
        days = generate_history(
            conn, size, args.orders_per_day, args.lines_per_order, args.customers, args.products
        )
        counts = conn.execute(
            "select (select count(*) from raw.orders_raw), (select count(*) from raw.order_lines_raw)"
        ).fetchone()
    generate_seconds = time.perf_counter() - started
    assert counts is not None
    log(
        f"  generated {counts[0]:,} order rows, {counts[1]:,} line rows over {days} days "
        f"in {generate_seconds:.0f}s"
    )
    rate, read_seconds, read_rows = duckdb_read_rate(settings)
    log(
        f"  DuckDB reads raw.orders_raw from Postgres at {rate:,.0f} rows/s ({read_rows:,} rows in "
        f"{read_seconds:.1f}s)"
    )
    bench.result = SizeResult(
        history_orders=size,
        history_days=days,
        raw_order_rows=counts[0],
        raw_line_rows=counts[1],
        generate_seconds=round(generate_seconds, 1),
        duckdb_read_rows_per_second=round(rate),
        duckdb_read_seconds=round(read_seconds, 2),
    )
    bench.next_day = HISTORY_START + timedelta(days=days)
    return bench


def build_day(bench: Bench, label: str, args: argparse.Namespace, workdir: Path) -> None:
    """Land one more day in raw, then `dbt build` that interval."""
    day = bench.next_day
    with psycopg.connect(bench.settings.postgres_conninfo(), autocommit=True) as conn:
        add_day(
            conn,
            day,
            bench.next_id,
            args.daily_orders,
            args.daily_updates,
            args.lines_per_order,
            args.customers,
            args.products,
        )
    bench.next_id += args.daily_orders
    bench.next_day = day + timedelta(days=1)
    log(f"  {bench.size:,}: dbt build {label}, interval {day:%Y-%m-%d}")
    built = run_dbt(
        bench.settings,
        "build",
        data_interval_start=day,
        data_interval_end=day + timedelta(days=1),
        target_path=workdir / f"target_{bench.size}",
        project_dir=args.project_dir,
        profiles_dir=args.project_dir,
        check=False,
    )
    run = day_run(label, built, day, args.daily_orders, args.daily_updates)
    bench.result.days.append(run)
    log(f"    {built.summary()}; slowest: {run.slowest}")
    if not built.success:
        failed = [(n.name, n.message) for n in built.failed_nodes][:5]
        log(f"    FAILED (exit code {built.returncode}): {failed}\n{built.log_tail[-2000:]}")


def drop(base: Settings, bench: Bench) -> None:
    drop_database(base.postgres_admin_dsn, bench.database)


def run_benchmark(
    base: Settings, sizes: list[int], args: argparse.Namespace, workdir: Path
) -> list[SizeResult]:
    """Every size gets its history and first build; then the daily runs alternate between sizes,
    so that other work on a shared machine weighs on every size alike."""
    benches: list[Bench] = []
    lakes = ExitStack()
    try:
        for size in sizes:
            lake = lakes.enter_context(isolated_lake(base, "transform"))
            bench = prepare(base, size, args, lake)
            benches.append(bench)
            build_day(bench, "first day (first build: all history)", args, workdir)
        for n in range(1, args.more_days + 1):
            for bench in benches:
                build_day(bench, f"one more day #{n} (incremental)", args, workdir)
        return [bench.result for bench in benches]
    finally:
        if args.keep:
            lakes.pop_all()  # the lakes stay, next to their databases
            for bench in benches:
                log(
                    f"kept {bench.database} and its lake {bench.settings.lake_catalog_db} "
                    f"({bench.settings.lake_data_path})"
                )
        else:
            for bench in benches:
                drop(base, bench)
            lakes.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        default="1000000,10000000",
        help="comma-separated orders of raw history (default 1000000,10000000)",
    )
    parser.add_argument("--orders-per-day", type=int, default=10_000, help="history orders per day")
    parser.add_argument("--daily-orders", type=int, default=10_000, help="new orders in each measured day")
    parser.add_argument(
        "--daily-updates", type=int, default=5_000, help="status updates in each measured day"
    )
    parser.add_argument("--lines-per-order", type=int, default=2)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=1_000)
    parser.add_argument(
        "--more-days",
        type=int,
        default=3,
        help="incremental days measured after the first (the minimum is reported: the machine is shared)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the benchmark databases and lakes (named in the log)"
    )
    parser.add_argument(
        "--project-dir", type=Path, default=DBT_PROJECT_DIR, help="dbt project (and profiles.yml) to run"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]

    base = load_settings()
    with tempfile.TemporaryDirectory(prefix="drp_transform_bench_") as tmp:
        results = run_benchmark(base, sizes, args, Path(tmp))

    print(
        "\nhistory orders | first day build (s) | one more day build, min / median (s) | dbt exec min (s) "
        "| DuckDB read rows/s"
    )
    for r in results:
        print(
            f"{r.history_orders:>14,} | {r.days[0].wall_seconds:>19.1f} | "
            f"{r.daily_min:>17.1f} / {r.daily_median:<17.1f} | {r.daily_dbt_min:>16.1f} | "
            f"{r.duckdb_read_rows_per_second:>18,.0f}"
        )
    report: dict[str, Any] = {"results": [asdict(r) | r.summary() for r in results]}
    if len(results) >= 2:
        small, large = results[0], results[-1]
        ratio = large.daily_min / small.daily_min
        exec_ratio = large.daily_dbt_min / small.daily_dbt_min
        print(
            f"\none more day, {large.history_orders:,} vs {small.history_orders:,} orders of history "
            f"(best of {args.more_days}): {ratio:.2f}x wall clock, {exec_ratio:.2f}x dbt execution "
            "(goal <= 1.3x)"
        )
        report.update(
            {"daily_ratio_wall": round(ratio, 3), "daily_ratio_dbt_execution": round(exec_ratio, 3)}
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    failed = any(day.tests_failed for r in results for day in r.days)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
