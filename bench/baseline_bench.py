"""Naive baseline: the hand-rolled load + full reload the platform replaces, on the same orders.

    uv run --frozen python bench/baseline_bench.py [--orders 100000] [--history-orders 1000000]

1. Starts its own generator API (`python -m drp_generator`, 200,000 orders/day, no faults, same
   seed as the platform) and finds the whole-hour window from 2024-01-02 holding >= `--orders`
   order records: the same window, hence the same records, `bench/ingest_bench.py` loads at that
   size.
2. **naive load**: pages through `GET /v1/orders` (limit 1000, `response.json()`), and INSERTs
   every order and every order line as its own `INSERT … VALUES` statement into scratch tables
   `bench_naive.orders_raw` / `bench_naive.order_lines_raw` on an autocommit connection, with
   psycopg's `executemany` once per page and table. psycopg pipelines those statements, so the
   server commits once per call, not once per row: the kindest version of the naive loader.
   The unkind one, `cursor.execute` + commit per row, is timed on the first `--single-sample`
   records only (a full window would take tens of minutes) and reported as a rate with a
   projected time, labelled as such.
3. **naive transform**: a full reload with pandas: read every row of the scratch raw tables,
   keep the latest version of each order (max `updated_at`) and its lines, aggregate daily
   metrics per UTC order date (orders, amount, customers, status counts, amount per currency),
   and write `staging_orders`, `staging_order_lines` and `daily_order_metrics` back with
   `DataFrame.to_sql(if_exists="replace")`. Its cost grows with raw, not with the day.
4. `--history-orders N`: COPYs (untimed) the rest of the window holding N records into the
   scratch raw tables and times the same full reload again: the naive daily transform once raw
   holds N records of history.
5. Drops the `bench_naive` schema (also at start, if a crashed run left it). Never touches
   `raw.*` or the platform's DuckDB warehouse.

Prints a summary and a JSON document (also written to `--json-out`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

from _common import log, start_generator, stop_process
from drp.settings import Settings, get_settings

SCHEMA = "bench_naive"
WINDOW_START = datetime(2024, 1, 2, tzinfo=UTC)  # as bench/ingest_bench.py: the same records
MAX_HOURS = 24 * 31

ORDER_COLUMNS = ("order_id", "customer_id", "status", "currency", "amount", "created_at", "updated_at")
INSERT_ORDER = (
    f"insert into {SCHEMA}.orders_raw (order_id, customer_id, status, currency, amount, created_at, "
    "updated_at, payload) values (%s, %s, %s, %s, %s, %s, %s, %s)"
)
INSERT_LINE = (
    f"insert into {SCHEMA}.order_lines_raw (order_id, order_updated_at, line_number, product_id, "
    "quantity, unit_price) values (%s, %s, %s, %s, %s, %s)"
)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- window -------------------------------------------------------------------------------------


def served(http: httpx.Client, url: str, start: datetime, end: datetime) -> int:
    response = http.get(
        f"{url}/v1/truth/orders", params={"start": _iso(start), "end": _iso(end)}, timeout=600
    )
    response.raise_for_status()
    return int(response.json()["served"])


def window_for(http: httpx.Client, url: str, target: int) -> tuple[datetime, int]:
    """End of the smallest whole-hour window from WINDOW_START holding >= target records."""
    lo, hi = 1, 24
    while served(http, url, WINDOW_START, WINDOW_START + timedelta(hours=hi)) < target:
        lo, hi = hi, hi * 2
        if hi > MAX_HOURS:
            raise SystemExit(f"cannot find {target} orders within 31 days: raise --orders-per-day")
    while lo < hi:
        mid = (lo + hi) // 2
        if served(http, url, WINDOW_START, WINDOW_START + timedelta(hours=mid)) >= target:
            hi = mid
        else:
            lo = mid + 1
    end = WINDOW_START + timedelta(hours=hi)
    return end, served(http, url, WINDOW_START, end)


# --- scratch schema -----------------------------------------------------------------------------


def create_schema(conn: psycopg.Connection[Any]) -> None:
    conn.execute(f"drop schema if exists {SCHEMA} cascade")
    conn.execute(f"create schema {SCHEMA}")
    # What a hand-written loader typically creates: typed columns, the record as jsonb, no keys
    # (a rerun duplicates rows, which is one of the things the platform fixes).
    conn.execute(
        f"""create table {SCHEMA}.orders_raw (
               order_id text, customer_id text, status text, currency text, amount numeric(12, 2),
               created_at timestamptz, updated_at timestamptz, payload jsonb,
               loaded_at timestamptz not null default now())"""
    )
    conn.execute(
        f"""create table {SCHEMA}.order_lines_raw (
               order_id text, order_updated_at timestamptz, line_number int, product_id text,
               quantity int, unit_price numeric(12, 2), loaded_at timestamptz not null default now())"""
    )


def truncate(conn: psycopg.Connection[Any]) -> None:
    conn.execute(f"truncate {SCHEMA}.orders_raw, {SCHEMA}.order_lines_raw")


def drop_schema(settings: Settings) -> None:
    with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as conn:
        conn.execute(f"drop schema if exists {SCHEMA} cascade")


# --- naive load ---------------------------------------------------------------------------------


def _order_row(record: dict[str, Any]) -> tuple[Any, ...]:
    return (*(record.get(c) for c in ORDER_COLUMNS), json.dumps(record))


def _line_rows(record: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            record.get("order_id"),
            record.get("updated_at"),
            line.get("line_number"),
            line.get("product_id"),
            line.get("quantity"),
            line.get("unit_price"),
        )
        for line in record.get("lines") or []
    ]


def naive_pages(http: httpx.Client, url: str, start: datetime, end: datetime, limit: int) -> Any:
    """Pages of records, the way a hand-written client fetches them."""
    cursor = None
    while True:
        params: dict[str, Any] = {"start": _iso(start), "end": _iso(end), "limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = http.get(f"{url}/v1/orders", params=params, timeout=120)
        response.raise_for_status()
        body = response.json()
        yield body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return


def naive_load(settings: Settings, http: httpx.Client, url: str, end: datetime, limit: int) -> dict[str, Any]:
    """Fetch every page and INSERT row by row (executemany per page), autocommit."""
    records = lines = 0
    fetch_seconds = 0.0
    with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as conn:
        truncate(conn)
        cur = conn.cursor()
        started = time.perf_counter()
        pages = naive_pages(http, url, WINDOW_START, end, limit)
        while True:
            fetch_started = time.perf_counter()
            page = next(pages, None)
            fetch_seconds += time.perf_counter() - fetch_started
            if page is None:
                break
            line_rows = [row for record in page for row in _line_rows(record)]
            cur.executemany(INSERT_ORDER, [_order_row(record) for record in page])
            if line_rows:
                cur.executemany(INSERT_LINE, line_rows)
            records += len(page)
            lines += len(line_rows)
        seconds = time.perf_counter() - started
    return {
        "mode": "executemany per page, autocommit",
        "records": records,
        "lines": lines,
        "seconds": round(seconds, 3),
        "fetch_seconds": round(fetch_seconds, 3),
        "records_per_s": round(records / seconds, 1),
        "rows_per_s": round((records + lines) / seconds, 1),
    }


def naive_single_sample(
    settings: Settings, http: httpx.Client, url: str, end: datetime, limit: int, sample: int, total: int
) -> dict[str, Any]:
    """`cursor.execute` per row, each its own transaction, on the first `sample` records."""
    records = lines = 0
    with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as conn:
        truncate(conn)
        cur = conn.cursor()
        started = time.perf_counter()
        for page in naive_pages(http, url, WINDOW_START, end, limit):
            for record in page[: sample - records]:
                cur.execute(INSERT_ORDER, _order_row(record))
                for row in _line_rows(record):
                    cur.execute(INSERT_LINE, row)
                    lines += 1
                records += 1
            if records >= sample:
                break
        seconds = time.perf_counter() - started
        truncate(conn)
    rate = records / seconds
    return {
        "mode": "execute + commit per row (sample)",
        "records": records,
        "lines": lines,
        "seconds": round(seconds, 3),
        "records_per_s": round(rate, 1),
        "rows_per_s": round((records + lines) / seconds, 1),
        "projected_seconds_for_window": round(total / rate, 1),
    }


# --- naive transform ----------------------------------------------------------------------------


def naive_transform(settings: Settings) -> dict[str, Any]:
    """Full reload with pandas: all of raw -> latest versions -> daily metrics -> replace tables."""
    import pandas as pd
    from sqlalchemy import create_engine

    engine = create_engine(settings.sqlalchemy_url())
    try:
        started = time.perf_counter()
        orders = pd.read_sql(f"select * from {SCHEMA}.orders_raw", engine)
        lines = pd.read_sql(f"select * from {SCHEMA}.order_lines_raw", engine)
        read_done = time.perf_counter()
        raw_orders, raw_lines = len(orders), len(lines)

        latest = orders.sort_values(["order_id", "updated_at", "loaded_at"]).drop_duplicates(
            "order_id", keep="last"
        )
        staging_orders = latest.drop(columns=["payload", "loaded_at"])
        staging_lines = lines.merge(
            latest[["order_id", "updated_at"]].rename(columns={"updated_at": "order_updated_at"}),
            on=["order_id", "order_updated_at"],
        ).drop_duplicates(["order_id", "line_number"], keep="last")
        staging_lines = staging_lines.drop(columns=["loaded_at"])
        frame = staging_orders.assign(
            order_date=staging_orders["created_at"].dt.tz_convert("UTC").dt.date,
            is_cancelled=staging_orders["status"].eq("cancelled"),
            is_returned=staging_orders["status"].eq("returned"),
            amount_usd=staging_orders["amount"].where(staging_orders["currency"].eq("USD"), 0.0),
            amount_eur=staging_orders["amount"].where(staging_orders["currency"].eq("EUR"), 0.0),
            amount_gbp=staging_orders["amount"].where(staging_orders["currency"].eq("GBP"), 0.0),
        )
        metrics = (
            frame.groupby("order_date")
            .agg(
                total_orders=("order_id", "size"),
                total_amount=("amount", "sum"),
                unique_customers=("customer_id", "nunique"),
                cancelled_orders=("is_cancelled", "sum"),
                returned_orders=("is_returned", "sum"),
                amount_usd=("amount_usd", "sum"),
                amount_eur=("amount_eur", "sum"),
                amount_gbp=("amount_gbp", "sum"),
            )
            .reset_index()
        )
        metrics["avg_order_amount"] = metrics["total_amount"] / metrics["total_orders"]
        compute_done = time.perf_counter()

        for name, table in (
            ("staging_orders", staging_orders),
            ("staging_order_lines", staging_lines),
            ("daily_order_metrics", metrics),
        ):
            table.to_sql(name, engine, schema=SCHEMA, if_exists="replace", index=False, chunksize=10_000)
        finished = time.perf_counter()
    finally:
        engine.dispose()
    return {
        "raw_orders": raw_orders,
        "raw_lines": raw_lines,
        "staging_orders": len(staging_orders),
        "staging_lines": len(staging_lines),
        "metric_days": len(metrics),
        "read_seconds": round(read_done - started, 3),
        "compute_seconds": round(compute_done - read_done, 3),
        "write_seconds": round(finished - compute_done, 3),
        "seconds": round(finished - started, 3),
    }


# --- untimed history ----------------------------------------------------------------------------


def copy_history(settings: Settings, http: httpx.Client, url: str, start: datetime, end: datetime) -> int:
    """COPY `[start, end)` into the scratch raw tables (setup for the history measurement)."""
    count = 0
    params = {"start": _iso(start), "end": _iso(end)}
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        cur = conn.cursor()
        order_sql = (
            f"copy {SCHEMA}.orders_raw (order_id, customer_id, status, currency, amount, created_at, "
            "updated_at, payload) from stdin"
        )
        line_sql = (
            f"copy {SCHEMA}.order_lines_raw (order_id, order_updated_at, line_number, product_id, "
            "quantity, unit_price) from stdin"
        )
        line_rows: list[tuple[Any, ...]] = []
        with (
            http.stream("GET", f"{url}/v1/orders/bulk", params=params, timeout=1200) as response,
            cur.copy(order_sql) as copy,
        ):
            response.raise_for_status()
            for raw in response.iter_lines():
                if not raw:
                    continue
                record = orjson.loads(raw)
                copy.write_row(_order_row(record))
                line_rows.extend(_line_rows(record))
                count += 1
        with cur.copy(line_sql) as copy:
            for row in line_rows:
                copy.write_row(row)
        conn.execute(f"analyze {SCHEMA}.orders_raw")
        conn.execute(f"analyze {SCHEMA}.order_lines_raw")
    return count


# --- main ---------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = get_settings()
    report: dict[str, Any] = {
        "orders_per_day": args.orders_per_day,
        "target_orders": args.orders,
        "page_limit": args.limit,
    }
    gen, url = start_generator(args.orders_per_day)
    http = httpx.Client(headers={"X-API-Key": settings.generator_api_key.get_secret_value()})
    try:
        with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as conn:
            create_schema(conn)
        end, count = window_for(http, url, args.orders)
        report["window"] = [WINDOW_START.isoformat(), end.isoformat()]
        report["records"] = count
        log(f"baseline window [{WINDOW_START:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M}) holds {count:,} orders")

        if args.single_sample > 0:
            report["single_row_commit"] = naive_single_sample(
                settings, http, url, end, args.limit, args.single_sample, count
            )
            log(f"  single-row commits: {report['single_row_commit']['records_per_s']:,.0f} records/s")

        report["load"] = naive_load(settings, http, url, end, args.limit)
        load = report["load"]
        log(f"  naive load: {load['seconds']:.1f}s ({load['records_per_s']:,.0f} records/s)")
        report["transform"] = naive_transform(settings)
        log(f"  naive full reload ({count:,} raw orders): {report['transform']['seconds']:.1f}s")
        report["total_seconds"] = round(report["load"]["seconds"] + report["transform"]["seconds"], 3)

        if args.history_orders and args.history_orders > count:
            history_end, history_count = window_for(http, url, args.history_orders)
            copied = copy_history(settings, http, url, end, history_end)
            log(f"  copied {copied:,} more orders (history up to {history_end:%Y-%m-%d %H:%M}, untimed)")
            transform = naive_transform(settings)
            transform["history_window"] = [WINDOW_START.isoformat(), history_end.isoformat()]
            transform["history_records"] = history_count
            report["transform_history"] = transform
            log(f"  naive full reload ({transform['raw_orders']:,} raw orders): {transform['seconds']:.1f}s")
    finally:
        http.close()
        stop_process(gen)
        drop_schema(settings)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=100_000, help="order records in the window")
    parser.add_argument("--orders-per-day", type=int, default=200_000, help="generator volume")
    parser.add_argument("--limit", type=int, default=1_000, help="page size of the naive client")
    parser.add_argument(
        "--single-sample", type=int, default=1_000, help="records timed with one commit per row (0: skip)"
    )
    parser.add_argument(
        "--history-orders", type=int, default=0, help="also time the full reload with this much raw"
    )
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)

    report = run(args)
    load = report["load"]
    print(f"naive baseline on {report['records']:,} orders ({load['lines']:,} lines)")
    print(
        f"  load (executemany per page, autocommit): {load['seconds']:.2f}s, "
        f"{load['records_per_s']:,.0f} orders/s"
    )
    if "single_row_commit" in report:
        single = report["single_row_commit"]
        print(
            f"  load (commit per row, {single['records']:,}-record sample): "
            f"{single['records_per_s']:,.0f} orders/s, "
            f"projected {single['projected_seconds_for_window']:,.0f}s for the window"
        )
    for key in ("transform", "transform_history"):
        if key in report:
            reload = report[key]
            print(
                f"  transform (pandas full reload of {reload['raw_orders']:,} raw orders): "
                f"{reload['seconds']:.2f}s"
            )
    document = json.dumps(report, default=str)
    if args.json_out:
        args.json_out.write_text(document)
    print(document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
