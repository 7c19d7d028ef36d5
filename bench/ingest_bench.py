"""Ingestion benchmark: API -> Postgres raw throughput vs the bare COPY ceiling, and peak RSS.

    uv run --frozen python bench/ingest_bench.py [--orders 1000000] [--rss-sizes 100000] [--rounds 2]

What it does, in one run:

1. starts the generator API in its own process (`python -m drp_generator`) with
   `DRP_GENERATOR_ORDERS_PER_DAY` set high (default 200,000, the generator's maximum) and finds,
   through `/v1/truth/orders`, windows starting 2024-01-02 that hold about N order records
   (whole hours, so the figures report the exact count). Those truth calls also warm the
   generator's day cache, so the load measures ingestion, not first-time generation;
2. **load** of the smaller windows (`--rss-sizes`, for the RSS comparison);
3. **ceiling**: fetches the main window's records once (bulk NDJSON), builds the exact rows the
   loader writes (orders and order lines) in memory, then times only `COPY … FROM STDIN` of those
   rows into scratch copies of `raw.orders_raw` / `raw.order_lines_raw` (same indexes, WAL-logged,
   one transaction rolled back at the end), two ways: `copy.write_row` of the tuples, and the same
   rows as ready COPY text (no client formatting at all);
4. **paired rounds** (`--rounds`, default 2): ceiling, then a load of the main window, each load
   compared with the ceiling measured just before it; the reported ratio is the median. Every
   load runs `load_interval` in a child process; the child reports its peak RSS (`VmHWM`;
   `os.wait4`'s ru_maxrss is kept too, but it includes the image the child was forked from).
   Load throughput uses the batch's own duration (registry, paging, checks, COPYs, archive
   upload, commit), i.e. everything but interpreter start;
5. deletes every batch it created (source_system `bench-ingest-<pid>-<random>`, its own), rows
   and archives.

Prints a table and a JSON document (also written to `--json-out` when given).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

from drp.ingest.contract import LINES_COLUMNS, SPECS, check_record
from drp.ingest.loader import BATCH_COLUMNS
from drp.settings import Settings, get_settings
from drp_domain import Entity

# Each run loads (and purges) under a source of its own, passed to its children in the
# environment, so two bench runs at once never delete each other's batches.
SOURCE_ENV = "DRP_INGEST_BENCH_SOURCE"
SOURCE = os.environ.get(SOURCE_ENV, "bench-ingest")
WINDOW_START = datetime(2024, 1, 2, tzinfo=UTC)  # the generator's default epoch + 1: orders start here
MAX_HOURS = 24 * 31


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_generator(orders_per_day: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = dict(os.environ, DRP_GENERATOR_ORDERS_PER_DAY=str(orders_per_day), DRP_GENERATOR_FAULTS="")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "drp_generator",
            *("--host", "127.0.0.1", "--port", str(port)),
            "--no-access-log",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("generator did not start")


def served(http: httpx.Client, url: str, start: datetime, end: datetime) -> int:
    params = {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "end": end.strftime("%Y-%m-%dT%H:%M:%SZ")}
    resp = http.get(f"{url}/v1/truth/orders", params=params, timeout=600)
    resp.raise_for_status()
    return int(resp.json()["served"])


def window_for(http: httpx.Client, url: str, target: int) -> tuple[datetime, int]:
    """The smallest whole-hour window from WINDOW_START holding >= target records."""
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


# ---- ceiling -------------------------------------------------------------------------------------
def build_rows(
    http: httpx.Client, url: str, end: datetime
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rows the loader would write for the window, built in memory (not timed)."""
    spec = SPECS[Entity.ORDERS]
    batch = ("00000000-0000-0000-0000-000000000000", SOURCE, WINDOW_START.isoformat(), end.isoformat())
    orders: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    params = {"start": WINDOW_START.strftime("%Y-%m-%dT%H:%M:%SZ"), "end": end.strftime("%Y-%m-%dT%H:%M:%SZ")}
    with http.stream("GET", f"{url}/v1/orders/bulk", params=params, timeout=600) as resp:
        resp.raise_for_status()
        for line in resp.iter_lines():
            if not line:
                continue
            record = orjson.loads(line)
            checked = check_record(spec, record)
            digest = hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()
            orders.append((*checked.values, *batch, digest, orjson.dumps(record).decode()))
            updated = checked.values[6]
            for number, product, quantity, price in checked.lines:
                lines.append((checked.values[0], number, product, quantity, price, updated, *batch))
    return orders, lines


def _rechunk(rows: Iterator[bytes], size: int = 1 << 20) -> list[bytes]:
    """COPY TO yields one row per chunk: regroup into ~1 MB writes, as the loader's spools do."""
    out, buf, length = [], [], 0
    for row in rows:
        buf.append(row)
        length += len(row)
        if length >= size:
            out.append(b"".join(buf))
            buf, length = [], 0
    if buf:
        out.append(b"".join(buf))
    return out


def copy_ceiling(
    settings: Settings, orders: list[tuple[Any, ...]], lines: list[tuple[Any, ...]]
) -> dict[str, float]:
    """Seconds to COPY the same rows into scratch copies of the raw tables (rolled back), two ways.

    * `write_row`: `copy.write_row` of the pre-built row tuples (psycopg formats them);
    * `text`: the same rows as ready COPY text (read back with COPY TO), written with `copy.write`:
      no client-side formatting at all, i.e. what the server alone can ingest.
    """
    spec = SPECS[Entity.ORDERS]
    order_cols = ", ".join((*spec.raw_columns, *BATCH_COLUMNS, "record_hash", "raw_payload"))
    line_cols = ", ".join((*LINES_COLUMNS, *BATCH_COLUMNS))
    suffix = os.getpid()
    out: dict[str, float] = {}
    with psycopg.connect(settings.postgres_conninfo(), application_name="drp-ingest-bench") as conn:
        for n in (1, 2):
            conn.execute(
                f"create table raw.bench_ceiling_orders_{suffix}_{n} (like raw.orders_raw including all)"
            )
            conn.execute(
                f"create table raw.bench_ceiling_lines_{suffix}_{n} (like raw.order_lines_raw including all)"
            )
        cur = conn.cursor()
        t0 = time.perf_counter()
        with cur.copy(f"copy raw.bench_ceiling_orders_{suffix}_1 ({order_cols}) from stdin") as copy:
            for row in orders:
                copy.write_row(row)
        with cur.copy(f"copy raw.bench_ceiling_lines_{suffix}_1 ({line_cols}) from stdin") as copy:
            for row in lines:
                copy.write_row(row)
        out["write_row"] = time.perf_counter() - t0

        texts = {}
        for name, cols in (("orders", order_cols), ("lines", line_cols)):
            with cur.copy(f"copy raw.bench_ceiling_{name}_{suffix}_1 ({cols}) to stdout") as copy:
                texts[name] = _rechunk(bytes(chunk) for chunk in copy)
        t0 = time.perf_counter()
        for name, cols in (("orders", order_cols), ("lines", line_cols)):
            with cur.copy(f"copy raw.bench_ceiling_{name}_{suffix}_2 ({cols}) from stdin") as copy:
                for chunk in texts[name]:
                    copy.write(chunk)
        out["text"] = time.perf_counter() - t0
        del texts
        conn.rollback()
    return out


# ---- loads in child processes --------------------------------------------------------------------
def child_load(url: str, end: str, page_size: int) -> None:
    """Run in the child: one load, its result as JSON on stdout."""
    from drp.ingest import ClientConfig, load_interval

    result = load_interval(
        get_settings(),
        "orders",
        WINDOW_START,
        datetime.fromisoformat(end),
        api_base_url=url,
        source_system=SOURCE,
        client_config=ClientConfig(page_size=page_size),
    )
    out = {
        "batch_id": str(result.batch_id),
        "received": result.received,
        "loaded": result.loaded,
        "lines": result.lines_loaded,
        "duration_seconds": result.duration_seconds,
        "timings": result.timings,
        "archive_bytes": result.archive_bytes,
        "peak_rss_mb": _vm_hwm_mb(),
    }
    print(json.dumps(out))


def _vm_hwm_mb() -> float:
    """This process's peak RSS (VmHWM): reset by exec, unlike ru_maxrss, which a forked child
    inherits from its parent's image (here: a parent holding a million pre-built rows)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_load(url: str, end: datetime, page_size: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child-load", url, end.isoformat(), str(page_size)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"load failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(output.decode().strip().splitlines()[-1])
    result["wall_seconds"] = wall
    result["ru_maxrss_mb"] = usage.ru_maxrss / 1024  # Linux: KiB; includes the pre-exec fork image
    return result


def purge(settings: Settings) -> int:
    from drp.storage.object_store import client

    with psycopg.connect(settings.postgres_conninfo()) as conn:
        rows = conn.execute(
            "select batch_id, archive_key from ops.ingest_batches where source_system = %s", [SOURCE]
        ).fetchall()
        ids = [r[0] for r in rows]
        for table in ("orders_raw", "order_lines_raw", "orders_rejected"):
            conn.execute(f"delete from raw.{table} where batch_id = any(%s)", [ids])
        conn.execute("delete from ops.ingest_batches where source_system = %s", [SOURCE])
    s3 = client(settings)
    for _batch, key in rows:
        if key:
            s3.remove_object(settings.s3_bucket_raw, key)
    return len(ids)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _load(url: str, end: datetime, target: int, page_size: int) -> dict[str, Any]:
    result = run_load(url, end, page_size)
    result["target"] = target
    result["window"] = [WINDOW_START.isoformat(), end.isoformat()]
    result["orders_per_s"] = result["received"] / result["duration_seconds"]
    result["loadavg"] = os.getloadavg()[0]
    print(
        f"load {result['received']:,} orders: {result['orders_per_s']:,.0f} orders/s, "
        f"peak RSS {result['peak_rss_mb']:.0f} MB, load average {result['loadavg']:.1f}, "
        f"timings {result['timings']}",
        flush=True,
    )
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-load":
        child_load(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=1_000_000, help="order records in the main window")
    parser.add_argument("--rss-sizes", default="100000", help="extra window sizes for the RSS comparison")
    parser.add_argument("--rounds", type=int, default=2, help="(ceiling, load) pairs at --orders")
    parser.add_argument("--orders-per-day", type=int, default=200_000)
    parser.add_argument("--page-size", type=int, default=5_000)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    global SOURCE  # noqa: PLW0603 - chosen once per run, inherited by the child loads
    SOURCE = f"bench-ingest-{os.getpid()}-{secrets.token_hex(3)}"
    os.environ[SOURCE_ENV] = SOURCE
    settings = get_settings()
    extra = sorted({int(s) for s in args.rss_sizes.split(",") if s} - {args.orders})
    gen, url = start_generator(args.orders_per_day)
    http = httpx.Client(headers={"X-API-Key": settings.generator_api_key.get_secret_value()})
    report: dict[str, Any] = {
        "orders_per_day": args.orders_per_day,
        "page_size": args.page_size,
        "cpus": os.cpu_count(),
        "loads": [],
        "rounds": [],
    }
    try:
        purge(settings)
        windows = {n: window_for(http, url, n) for n in [*extra, args.orders]}
        main_end, main_n = windows[args.orders]
        print(f"windows: {[(n, w[0].isoformat(), w[1]) for n, w in windows.items()]}", flush=True)
        for n in extra:
            report["loads"].append(_load(url, windows[n][0], n, args.page_size))

        orders, lines = build_rows(http, url, main_end)
        report["ceiling_rows"] = {"orders": len(orders), "lines": len(lines)}
        # Ceiling and load alternate, and each load is compared with the ceiling measured just
        # before it: on a shared machine the CPU available drifts, and pairs cancel most of it.
        for n in range(args.rounds):
            ceiling = copy_ceiling(settings, orders, lines)
            rates = {kind: len(orders) / seconds for kind, seconds in ceiling.items()}
            print(
                f"round {n + 1} ceiling: { {k: f'{v:,.0f} orders/s' for k, v in rates.items()} }", flush=True
            )
            purge(settings)  # a first load each round, not a replacement of the previous round's
            load = _load(url, main_end, args.orders, args.page_size)
            report["loads"].append(load)
            report["rounds"].append(
                {
                    "ceiling_seconds": ceiling,
                    "ceiling_orders_per_s": rates,
                    "load_orders_per_s": load["orders_per_s"],
                    "ratio_write_row": load["orders_per_s"] / rates["write_row"],
                    "ratio_text": load["orders_per_s"] / rates["text"],
                }
            )
        del orders, lines
    finally:
        http.close()
        gen.terminate()
        gen.wait(timeout=30)
        report["purged_batches"] = purge(settings)

    rounds = report["rounds"]
    c = report["ceiling_rows"]
    report["ceiling"] = {"orders": c["orders"], "lines": c["lines"]}
    for kind in ("write_row", "text"):
        seconds = _median([r["ceiling_seconds"][kind] for r in rounds])
        report["ceiling"][kind] = {
            "seconds": seconds,
            "orders_per_s": c["orders"] / seconds,
            "rows_per_s": (c["orders"] + c["lines"]) / seconds,
        }
    report["ratio_to_write_row_ceiling"] = _median([r["ratio_write_row"] for r in rounds])
    report["ratio_to_text_ceiling"] = _median([r["ratio_text"] for r in rounds])
    report["peak_rss_mb"] = {str(r["target"]): round(r["peak_rss_mb"], 1) for r in report["loads"]}

    print()
    print(f"{'measure':<36}{'orders':>11}{'lines':>11}{'orders/s':>11}{'ratio':>8}{'peak RSS MB':>13}")
    for n, r in enumerate(rounds, start=1):
        for kind, label in (("write_row", "COPY ceiling, write_row"), ("text", "COPY ceiling, ready text")):
            print(f"{f'#{n} {label}':<36}{c['orders']:>11,}{c['lines']:>11,}"
                  f"{r['ceiling_orders_per_s'][kind]:>11,.0f}{'':>8}{'':>13}")  # fmt: skip
        load = report["loads"][len(extra) + n - 1]
        rate, ratio, rss = load["orders_per_s"], r["ratio_write_row"], load["peak_rss_mb"]
        print(f"{f'#{n} API -> raw load':<36}{load['received']:>11,}{load['lines']:>11,}"
              f"{rate:>11,.0f}{ratio:>8.0%}{rss:>13.0f}")  # fmt: skip
    for load in report["loads"][: len(extra)]:
        print(f"{'API -> raw load (RSS)':<36}{load['received']:>11,}{load['lines']:>11,}"
              f"{load['orders_per_s']:>11,.0f}{'':>8}{load['peak_rss_mb']:>13.0f}")  # fmt: skip
    print(
        f"\nload / ceiling at {main_n:,} orders (median of {len(rounds)} paired rounds): "
        f"{report['ratio_to_write_row_ceiling']:.0%} of the write_row ceiling, "
        f"{report['ratio_to_text_ceiling']:.0%} of the ready-text ceiling (target >= 50%)"
    )
    print(json.dumps(report, indent=2, default=str))
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
