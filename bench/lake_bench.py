"""The lake against the local DuckDB file it replaced: a day's cost, and object-store bytes.

    uv run --frozen python bench/lake_bench.py [--history 1000000] [--daily-orders 10000]
        [--daily-updates 5000] [--days 3] [--bytes-days 30] [--bytes-history 100000]
        [--bytes-daily-orders 1000] [--bytes-daily-updates 500] [--only compare,bytes]
        [--json-out FILE]

**compare** (lake vs file, side by side): one raw history (transform_bench's synthetic data) in a
throw-away Postgres database, built two ways from the same raw, day after day:

* lake: the daily run as it is: restore the head to the last publication (`prepare_warehouse`),
  `dbt build` into a lake of its own (catalog database + data prefix, `_common.isolated_lake`),
  the quality gate on the snapshot the build left, publish = record that snapshot
  (`publish_snapshot`: fingerprints every mart at the snapshot, one insert).
* file: the path before the lake (commit ab63ad4~1): `dbt build` into a local DuckDB file
  (`bench/profiles/profiles.yml`, the old `duckdb` target), the gate reading the file
  (`run_quality_gate(duckdb_path=...)`), publish = the old copy of every mart to Parquet (zstd,
  rows ordered) + upload to the analytics bucket + a manifest (`old_publish`, re-implemented here:
  the old module is gone; its objects go under a bench prefix, deleted at the end).

A first day builds both from all history (reported, not compared); then --days measured days,
the order of lake and file alternating each day. The gate skips Data Docs on both sides (the
same cost either way; without it the ratio is the stricter one). Reported: per side the median
of build, gate, publish and their sum; the lake/file ratio of the sums, paired per day (goal
≤ 1.3×).

**bytes** (bytes after N daily runs): another history (small: --bytes-history orders) and lake,
then --bytes-days consecutive days, each a `dbt build` and a publish of the snapshot it left.
Reported: bytes under the lake's prefix after the days, before and after maintenance
(`drp.lake.maintenance.expire_snapshots` + `cleanup_files`, with the platform's retention
setting), against the copy-per-day baseline: the Parquet files the old publish would have
written for those days, exported the old way from each day's published snapshot, measured and
deleted (summed, not kept).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from _common import BENCH_DIR, isolated_lake, log, prefix_bytes, remove_objects
from drp.db.migrate import upgrade
from drp.lake.connection import current_version, lake, lake_identity
from drp.lake.rollback import restore_head
from drp.publish import registry
from drp.publish.snapshots import publish_snapshot
from drp.quality.errors import QualityGateError
from drp.quality.gate import run_quality_gate
from drp.quality.project import GX_ROOT
from drp.settings import Settings, load_settings
from drp.storage.object_store import client
from drp.transform import run_dbt
from drp.transform.manifest import published_marts
from drpctl.db_admin import create_database, drop_database
from transform_bench import HISTORY_START, add_day, generate_history

FILE_PROFILES_DIR = BENCH_DIR / "profiles"
"""The old `duckdb` target: dbt-duckdb writing the file named by DRP_DUCKDB_PATH."""
MART_SCHEMA = "analytics"
LINES, PRODUCTS, HISTORY_PER_DAY = 2, 1_000, 10_000  # transform_bench's defaults


@dataclass
class World:
    """One raw history in a database of its own, and the next day to land in it."""

    settings: Settings
    customers: int
    next_id: int
    next_day: datetime

    def land_day(self, new_orders: int, updates: int) -> datetime:
        """Append one more day's batch to raw; returns its interval start."""
        day = self.next_day
        with psycopg.connect(self.settings.postgres_conninfo(), autocommit=True) as conn:
            add_day(conn, day, self.next_id, new_orders, updates, LINES, self.customers, PRODUCTS)
        self.next_id += new_orders
        self.next_day = day + timedelta(days=1)
        return day


@contextmanager
def world(base: Settings, history: int, daily_orders: int, tag: str) -> Iterator[World]:
    """A database with `history` orders of raw and a lake of its own (both removed on exit)."""
    name = f"drp_bench_{tag}_{secrets.token_hex(4)}"
    customers = min(100_000, max(1_000, history // 10))
    with isolated_lake(base, tag) as lake_overrides:
        create_database(base.postgres_admin_dsn, name, base.postgres_user)
        try:
            settings = base.model_copy(
                update={"postgres_db": name, "generator_orders_per_day": daily_orders, **lake_overrides}
            )
            upgrade(settings)
            started = time.perf_counter()
            with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as conn:
                days = generate_history(conn, history, HISTORY_PER_DAY, LINES, customers, PRODUCTS)
            log(
                f"{tag}: {history:,} orders of raw history over {days} days in {name} "
                f"({time.perf_counter() - started:.0f}s); lake {settings.lake_data_path}"
            )
            yield World(settings, customers, history + 1, HISTORY_START + timedelta(days=days))
        finally:
            drop_database(base.postgres_admin_dsn, name)


# --- the two paths ---------------------------------------------------------------------------------


BUILD_FAILURES: list[dict[str, Any]] = []
"""Every failed `dbt build` try (retried once): reported in the JSON, never hidden."""


def build(settings: Settings, day: datetime, target: Path, profiles_dir: Path | None = None) -> float:
    """`dbt build` of the day's interval; seconds of the try that succeeded. A failed try is
    recorded in BUILD_FAILURES and retried once (the lake's first builds have failed now and
    then with a binder error on a just-created table); a second failure raises."""
    kwargs: dict[str, Any] = {} if profiles_dir is None else {"profiles_dir": profiles_dir}
    for attempt in (1, 2):
        started = time.perf_counter()
        result = run_dbt(
            settings,
            "build",
            data_interval_start=day,
            data_interval_end=day + timedelta(days=1),
            target_path=target,
            check=attempt == 2,
            **kwargs,
        )
        seconds = time.perf_counter() - started
        if result.success:
            log(f"    {result.summary()}; {seconds:.1f}s wall")
            return seconds
        failed = [f"{n.name}: {' '.join(str(n.message).split())[:300]}" for n in result.failed_nodes]
        side = "file" if profiles_dir else "lake"
        BUILD_FAILURES.append(
            {
                "side": side,
                "day": day.date().isoformat(),
                "returncode": result.returncode,
                "failed": failed,
                "seconds": round(seconds, 2),
            }
        )
        log(f"    dbt build FAILED on the {side} (exit {result.returncode}): {failed[:3]}; retrying once")
    raise AssertionError("unreachable")


def gate(settings: Settings, day: datetime, gx_root: Path, run_id: str, **where: Any) -> tuple[float, bool]:
    """The quality gate on the day (lake snapshot or file in `where`); (seconds, passed)."""
    started = time.perf_counter()
    try:
        report = run_quality_gate(
            settings,
            run_id=run_id,
            data_interval_start=day,
            data_interval_end=day + timedelta(days=1),
            gx_root=gx_root,
            build_docs=False,
            **where,
        )
        passed = report.passed
    except QualityGateError as exc:  # a data verdict: the gate's cost was paid all the same
        log(f"    gate failed: {str(exc)[:300]}")
        passed = False
    return time.perf_counter() - started, passed


def lake_day(
    settings: Settings, day: datetime, work: Path, gx_root: Path, marts: Sequence[str] | None
) -> dict[str, Any]:
    """The daily run's warehouse part on the lake: prepare, build, gate, publish."""
    run_id = f"bench_lake__{day:%Y%m%d}__{secrets.token_hex(3)}"
    started = time.perf_counter()
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        published = registry.latest_lake_snapshot(conn, lake_identity(settings))
    restore_head(settings, published)
    prepare_s = time.perf_counter() - started
    build_s = build(settings, day, work / "target_lake")
    with lake(settings, read_only=True) as conn:
        snapshot = current_version(conn)
    gate_s, passed = gate(settings, day, gx_root, run_id, lake_snapshot_id=snapshot)
    marts = marts or published_marts(work / "target_lake" / "manifest.json")
    started = time.perf_counter()
    publish_snapshot(settings, day.date(), run_id=run_id, lake_snapshot_id=snapshot, models=marts)
    publish_s = time.perf_counter() - started
    return _day("lake", day, prepare_s, build_s, gate_s, publish_s, passed)


def file_day(
    settings: Settings, day: datetime, work: Path, gx_root: Path, marts: Sequence[str] | None, prefix: str
) -> dict[str, Any]:
    """The same on the local file, as before the lake: build, gate on the file, copy publish."""
    path = Path(os.environ["DRP_DUCKDB_PATH"])
    run_id = f"bench_file__{day:%Y%m%d}__{secrets.token_hex(3)}"
    build_s = build(settings, day, work / "target_file", FILE_PROFILES_DIR)
    gate_s, passed = gate(settings, day, gx_root, run_id, duckdb_path=path)
    marts = marts or published_marts(work / "target_file" / "manifest.json")
    started = time.perf_counter()
    old_publish(settings, path, day, run_id, marts, prefix)
    publish_s = time.perf_counter() - started
    return _day("file", day, 0.0, build_s, gate_s, publish_s, passed)


def _day(
    side: str, day: datetime, prepare_s: float, build_s: float, gate_s: float, publish_s: float, passed: bool
) -> dict[str, Any]:
    total = prepare_s + build_s + gate_s + publish_s
    log(
        f"  {side} {day:%Y-%m-%d}: prepare {prepare_s:.1f}s, build {build_s:.1f}s, gate {gate_s:.1f}s, "
        f"publish {publish_s:.1f}s = {total:.1f}s"
    )
    return {
        "day": day.date().isoformat(),
        "prepare_seconds": round(prepare_s, 3),
        "build_seconds": round(build_s, 3),
        "gate_seconds": round(gate_s, 3),
        "publish_seconds": round(publish_s, 3),
        "total_seconds": round(total, 3),
        "gate_passed": passed,
    }


def export_marts(conn: Any, marts: Sequence[str], out: Path) -> dict[str, Path]:
    """The old publish's export: each mart to `<out>/<mart>.parquet`, rows ordered, zstd."""
    files = {}
    for model in marts:
        path = out / f"{model}.parquet"
        ordered = f"select * from {MART_SCHEMA}.{model} order by all"
        conn.execute(f"copy ({ordered}) to '{path}' (format parquet, compression zstd)")
        files[model] = path
    return files


def old_publish(
    settings: Settings, path: Path, day: datetime, run_id: str, marts: Sequence[str], prefix: str
) -> int:
    """Publish as before the lake (`git show ab63ad4~1:include/drp/publish/snapshots.py`): export
    every mart from the file (read-only) to Parquet, upload each, then a manifest; keys under
    `prefix` instead of the bucket's root. Returns the bytes uploaded."""
    import duckdb

    s3 = client(settings)
    bucket = settings.s3_bucket_analytics
    date = day.date().isoformat()
    snapshots: list[dict[str, Any]] = []
    uploaded = 0
    with tempfile.TemporaryDirectory(prefix="drp-bench-publish-") as tmp:
        con = duckdb.connect(str(path), read_only=True)
        try:
            files = export_marts(con, marts, Path(tmp))
            rows = {}
            for model in marts:
                row = con.execute(f"select count(*) from {MART_SCHEMA}.{model}").fetchone()
                rows[model] = int(row[0]) if row else 0
        finally:
            con.close()
        for model, file in files.items():
            key = f"{prefix}/analytics/{model}/snapshot_date={date}/{model}.parquet"
            s3.fput_object(bucket, key, str(file), content_type="application/vnd.apache.parquet")
            size = file.stat().st_size
            uploaded += size
            digest = hashlib.sha256(file.read_bytes()).hexdigest()
            snapshots.append(
                {"model": model, "key": key, "rows": rows[model], "sha256": digest, "bytes": size}
            )
    manifest = {"snapshot_date": date, "run_id": run_id, "published_at": datetime.now(UTC).isoformat()}
    body = json.dumps({**manifest, "snapshots": snapshots}, indent=2).encode()
    key = f"{prefix}/analytics/_manifests/snapshot_date={date}/manifest.json"
    s3.put_object(bucket, key, io.BytesIO(body), len(body), content_type="application/json")
    return uploaded + len(body)


# --- compare -----------------------------------------------------------------------------------------


def compare(base: Settings, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    gx_root = work / "great_expectations"
    shutil.copytree(GX_ROOT, gx_root, ignore=shutil.ignore_patterns("uncommitted"))
    prefix = f"bench-file-baseline/{secrets.token_hex(4)}"
    os.environ["DRP_DUCKDB_PATH"] = str(work / "warehouse.duckdb")  # the file profile reads it
    lake_days: list[dict[str, Any]] = []
    file_days: list[dict[str, Any]] = []
    try:
        with world(base, args.history, args.daily_orders, "lakecmp") as w:
            day = w.land_day(args.daily_orders, args.daily_updates)
            log(f"compare: first day {day:%Y-%m-%d}, both built from all history")
            first_lake = lake_day(w.settings, day, work, gx_root, None)
            first_file = file_day(w.settings, day, work, gx_root, None, prefix)
            marts = published_marts(work / "target_lake" / "manifest.json")
            for n in range(args.days):
                day = w.land_day(args.daily_orders, args.daily_updates)
                log(f"compare: day {n + 1}/{args.days} {day:%Y-%m-%d}")
                if n % 2 == 0:
                    lake_days.append(lake_day(w.settings, day, work, gx_root, marts))
                    file_days.append(file_day(w.settings, day, work, gx_root, marts, prefix))
                else:
                    file_days.append(file_day(w.settings, day, work, gx_root, marts, prefix))
                    lake_days.append(lake_day(w.settings, day, work, gx_root, marts))
            file_mb = Path(os.environ["DRP_DUCKDB_PATH"]).stat().st_size / 2**20
    finally:
        remove_objects(base, prefix)
    ratios = [lk["total_seconds"] / f["total_seconds"] for lk, f in zip(lake_days, file_days, strict=True)]
    return {
        "history_orders": args.history,
        "daily_orders": args.daily_orders,
        "daily_updates": args.daily_updates,
        "marts": list(marts),
        "duckdb_file_mb": round(file_mb, 1),
        "first_day": {"lake": first_lake, "file": first_file},
        "lake": lake_days,
        "file": file_days,
        "ratio_per_day": [round(r, 3) for r in ratios],
        "ratio_median": round(statistics.median(ratios), 3) if ratios else None,
    }


# --- bytes -------------------------------------------------------------------------------------------


def bytes_after_days(base: Settings, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from drp.lake.maintenance import cleanup_files, expirable_snapshots, expire_snapshots

    orders, updates = args.bytes_daily_orders, args.bytes_daily_updates
    days: list[dict[str, Any]] = []
    started = time.perf_counter()
    with world(base, args.bytes_history, orders, "lakebytes") as w:
        settings, prefix = w.settings, w.settings.lake_data_prefix
        marts: Sequence[str] | None = None
        copies_total = 0
        for n in range(args.bytes_days):
            day = w.land_day(orders, updates)
            build_s = build(settings, day, work / "target_bytes")
            marts = marts or published_marts(work / "target_bytes" / "manifest.json")
            with lake(settings, read_only=True) as conn:
                snapshot = current_version(conn)
            run_id = f"bench_bytes__{day:%Y%m%d}__{secrets.token_hex(3)}"
            publish_snapshot(settings, day.date(), run_id=run_id, lake_snapshot_id=snapshot, models=marts)
            # What the old publish would have written for this day: the same marts, the old way.
            with lake(settings, version=snapshot) as conn, tempfile.TemporaryDirectory() as tmp:
                copies = sum(f.stat().st_size for f in export_marts(conn, marts, Path(tmp)).values())
            copies_total += copies
            lake_now, objects = prefix_bytes(settings, prefix)
            days.append(
                {
                    "day": day.date().isoformat(),
                    "lake_snapshot_id": snapshot,
                    "build_seconds": round(build_s, 2),
                    "lake_bytes": lake_now,
                    "lake_objects": objects,
                    "copy_bytes": copies,
                    "copy_bytes_cumulative": copies_total,
                }
            )
            log(
                f"  bytes day {n + 1}/{args.bytes_days} {day:%Y-%m-%d}: lake {lake_now / 2**20:.1f} MiB "
                f"({objects} objects), copies so far {copies_total / 2**20:.1f} MiB"
            )
        before, objects_before = prefix_bytes(settings, prefix)
        by_schema_before = bytes_by_schema(settings, prefix)
        expired = expire_snapshots(settings)
        cleaned = cleanup_files(settings)
        after, objects_after = prefix_bytes(settings, prefix)
        log(f"  maintenance: {expired}, {cleaned}")
        # Every publication here is minutes old, so retention keeps them all. What a lake past
        # retention keeps: the expiry the same module would do with the clock past retention
        # (only the newest publication and the head survive), then the cleanup.
        future = datetime.now(UTC) + timedelta(days=settings.lake_snapshot_retention_days + 1)
        with lake(settings) as conn:
            versions = expirable_snapshots(settings, conn, now=future)
            if versions:
                conn.execute("call ducklake_expire_snapshots('lake', versions => ?)", [versions])
        cleaned_past = cleanup_files(settings)
        past, objects_past = prefix_bytes(settings, prefix)
        by_schema_past = bytes_by_schema(settings, prefix)
        log(f"  past retention: expired {len(versions)} more snapshots, {cleaned_past}")
    return {
        "history_orders": args.bytes_history,
        "daily_orders": orders,
        "daily_updates": updates,
        "days": len(days),
        "seconds": round(time.perf_counter() - started, 1),
        "retention_days": base.lake_snapshot_retention_days,
        "lake_bytes_before_maintenance": before,
        "lake_objects_before_maintenance": objects_before,
        "lake_bytes_after_maintenance": after,
        "lake_objects_after_maintenance": objects_after,
        "copy_per_day_bytes": copies_total,
        "ratio_before_maintenance": round(before / copies_total, 4) if copies_total else None,
        "ratio_after_maintenance": round(after / copies_total, 4) if copies_total else None,
        "lake_bytes_past_retention": past,
        "lake_objects_past_retention": objects_past,
        "ratio_past_retention": round(past / copies_total, 4) if copies_total else None,
        "lake_bytes_by_schema_before_maintenance": by_schema_before,
        "lake_bytes_by_schema_past_retention": by_schema_past,
        "expire_snapshots": expired,
        "cleanup_files": cleaned,
        "past_retention_expired": len(versions),
        "past_retention_cleanup_files": cleaned_past,
        "per_day": days,
    }


def bytes_by_schema(settings: Settings, prefix: str) -> dict[str, int]:
    """Bytes under the lake's prefix per schema folder (DuckLake writes `<schema>/<table>/...`)."""
    out: dict[str, int] = {}
    for obj in client(settings).list_objects(
        settings.s3_bucket_analytics, prefix=f"{prefix.strip('/')}/", recursive=True
    ):
        name = (obj.object_name or "")[len(prefix.strip("/")) + 1 :]
        schema = name.split("/", 1)[0] if "/" in name else "(top)"
        out[schema] = out.get(schema, 0) + (obj.size or 0)
    return dict(sorted(out.items()))


# --- main --------------------------------------------------------------------------------------------


def _print(report: dict[str, Any]) -> None:
    cmp = report.get("compare")
    if cmp:
        print(
            f"\nlake vs file: a day's build + gate + publish, {cmp['history_orders']:,} orders of history, "
            f"{cmp['daily_orders']:,} new orders + {cmp['daily_updates']:,} updates a day"
        )
        print(f"{'side':<6}{'prepare s':>11}{'build s':>10}{'gate s':>9}{'publish s':>11}{'total s':>10}")
        for side in ("lake", "file"):
            med = {
                k: statistics.median(d[f"{k}_seconds"] for d in cmp[side])
                for k in ("prepare", "build", "gate", "publish", "total")
            }
            print(
                f"{side:<6}{med['prepare']:>11.2f}{med['build']:>10.2f}{med['gate']:>9.2f}"
                f"{med['publish']:>11.2f}{med['total']:>10.2f}"
            )
        print(
            f"lake/file (paired per day): {cmp['ratio_per_day']}, median {cmp['ratio_median']}x "
            "(goal <= 1.3x)"
        )
    b = report.get("bytes")
    if b:
        mib = 2**20
        print(
            f"\nbytes after {b['days']} daily runs ({b['history_orders']:,} orders of history, "
            f"{b['daily_orders']:,} new orders + {b['daily_updates']:,} updates a day):"
        )
        print(
            f"  lake, before maintenance: {b['lake_bytes_before_maintenance'] / mib:.2f} MiB "
            f"({b['lake_objects_before_maintenance']} objects)"
        )
        print(
            "  lake, after expire_snapshots + cleanup_files: "
            f"{b['lake_bytes_after_maintenance'] / mib:.2f} MiB "
            f"({b['lake_objects_after_maintenance']} objects)"
        )
        print(
            f"  lake, past retention (only the newest publication kept): "
            f"{b['lake_bytes_past_retention'] / mib:.2f} MiB ({b['lake_objects_past_retention']} objects)"
        )
        by_schema = ", ".join(
            f"{k} {v / mib:.2f}" for k, v in b["lake_bytes_by_schema_before_maintenance"].items()
        )
        print(f"  lake by schema before maintenance (MiB): {by_schema}")
        print(f"  copy per day (the old publish, marts only): {b['copy_per_day_bytes'] / mib:.2f} MiB")
        print(
            f"  lake / copy-per-day: {b['ratio_before_maintenance']}x before maintenance, "
            f"{b['ratio_after_maintenance']}x after, {b['ratio_past_retention']}x past retention"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--history", type=int, default=1_000_000, help="compare: orders of raw history")
    parser.add_argument("--daily-orders", type=int, default=10_000, help="compare: new orders a day")
    parser.add_argument("--daily-updates", type=int, default=5_000, help="compare: status updates a day")
    parser.add_argument("--days", type=int, default=3, help="compare: measured days after the first")
    parser.add_argument("--bytes-history", type=int, default=100_000, help="bytes: orders of raw history")
    parser.add_argument("--bytes-daily-orders", type=int, default=1_000, help="bytes: new orders a day")
    parser.add_argument("--bytes-daily-updates", type=int, default=500, help="bytes: status updates a day")
    parser.add_argument("--bytes-days", type=int, default=30, help="bytes: consecutive daily runs")
    parser.add_argument("--only", default="compare,bytes", help="compare, bytes or both")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.only.split(",") if p.strip()}

    base = load_settings()
    report: dict[str, Any] = {"benchmark": "lake_vs_file"}
    with tempfile.TemporaryDirectory(prefix="drp_lake_bench_") as tmp:
        if "compare" in parts:
            (Path(tmp) / "compare").mkdir()
            report["compare"] = compare(base, args, Path(tmp) / "compare")
            if args.json_out:  # kept should the bytes part fail
                args.json_out.write_text(json.dumps({**report, "build_failures": BUILD_FAILURES}))
        if "bytes" in parts:
            (Path(tmp) / "bytes").mkdir()
            report["bytes"] = bytes_after_days(base, args, Path(tmp) / "bytes")
    report["build_failures"] = BUILD_FAILURES
    report["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    _print(report)
    document = json.dumps(report, default=str)
    if args.json_out:
        args.json_out.write_text(document)
    print(document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
