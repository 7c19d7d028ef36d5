"""`make bench`: the platform measured against its own ceilings, in one run.

    uv run --frozen python bench/run.py [--quick] [--repeat N] [--only generator,ingest,...]

Runs every component benchmark as a subprocess (a crash in one is reported, not fatal), several
times, interleaved (round 1 of every bench, then round 2, ...) so that the noise of a shared
machine lands on every figure alike, and reports each figure as the median of its runs with
min and max. Prints a table with the targets (pass/miss) and writes everything (figures, every
run's raw JSON, commands, logs, machine facts) to `bench/results/<timestamp>.json`; each script's
output goes to `bench/results/<timestamp>/<bench>_<n>.log`.

Benches (`--only` names):

* `generator`: `bench/generator_bench.py`: records/s one client pulls, paged and bulk, cold/warm.
* `ingest`: `bench/ingest_bench.py`: API → raw orders/s for a 1M-order window vs the bare COPY
  ceiling (same rows from memory), peak RSS of the load at 100k and 1M.
* `transform`: drives `bench/transform_bench.py`'s own functions: one raw history per size (1M,
  10M), the first build, then N incremental "one more day" builds (N = --repeat) per size, plus N
  days with a 100k-row delta at 1M (for the baseline comparison); DuckDB read rows/s (median of N).
  Falls back to running the script itself if its functions changed.
* `quality`: `bench/quality_bench.py`: the GX gate at 100k and 1M orders.
* `baseline`: `bench/baseline_bench.py`: the naive load + pandas full reload on the same 100k
  orders (and the reload over 1M of raw, in the first round).
* `lake`: `bench/lake_bench.py`, in the first round, in one go: the lake against the local DuckDB
  file it replaced, side by side on one raw history (1M orders, 10k-order days): a day's dbt build +
  quality gate + publish on each, N days (N = --repeat), lake/file paired per day (goal ≤ 1.3×);
  then 30 daily builds + publishes on a small lake (100k history, 1k orders a day): object-store
  bytes under the lake's prefix, before and after maintenance, against the Parquet copies the old
  publish would have written for those days.
* `e2e`: `bench/e2e_bench.py`, last and in one go: daily runs of 100k orders under the Airflow
  scheduler, in a deployment of its own (the stack restarted with its own source volume,
  databases, warehouse and buckets, then restored): a warm-up day, then one measured day per
  round: wall, Σ task time, overhead, queue latency.
* `scale`: `bench/scale_bench.py`, after e2e, in one go: a 7-day backfill at 100k orders/day under
  LocalExecutor and under CeleryExecutor with 1 and 2 workers, each in a deployment of its own:
  backfill wall, run wall, per-task queue latency, tasks per worker (docs/scaling.md).

`--quick` (CI): small sizes, one round, no 10M history, no scheduler run (e2e, scale), lake vs file on one
small day and 2 days of bytes; a few minutes.
Figures are then not meaningful and targets are not judged.
"""

from __future__ import annotations

import argparse
import inspect
import json
import secrets
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import RESULTS_DIR, ScriptRun, isolated_lake, log, machine_info, run_script, summarize

BENCHES = ("generator", "ingest", "quality", "baseline", "e2e", "transform", "lake", "scale")
# The scale bench: a 7-day backfill at 100k orders/day per executor configuration.
SCALE_DAYS = 7
# The e2e bench's own deployment (100k orders/day): a warm-up day that also loads the dimensions'
# history, then one measured day per round.
E2E_ORDERS_PER_DAY = 100_000
E2E_FIRST_DAY = date(2024, 1, 10)
TRANSFORM_API_ERROR = 3  # exit code of the transform child when transform_bench's functions changed


# --- what to run --------------------------------------------------------------------------------


def plan(args: argparse.Namespace) -> dict[str, Any]:
    """Sizes and flags per bench, full or quick."""
    if args.quick:
        return {
            "generator": ["--days", "1", "--repeat", "1"],
            # The baseline's window is the ingest bench's small window: the same records.
            "ingest": ["--orders", "30000", "--rss-sizes", "20000"],
            "ingest_sizes": (30_000, 20_000),
            "quality": ["--sizes", "10000", "--no-docs"],
            "quality_sizes": (10_000,),
            "baseline": ["--orders", "20000", "--single-sample", "100"],
            "baseline_history": [],
            "lake": [
                *("--history", "20000", "--daily-orders", "1000", "--daily-updates", "500", "--days", "1"),
                *("--bytes-history", "20000", "--bytes-days", "2"),
            ],
            "transform": {
                "sizes": [20_000],
                "daily_orders": 1_000,
                "daily_updates": 500,
                "big_orders": 0,
                "big_updates": 0,
                "big_days": 0,
                "reads": 1,
                "days": 1,
            },
        }
    return {
        "generator": ["--repeat", "1"],
        "ingest": ["--orders", "1000000", "--rss-sizes", "100000"],
        "ingest_sizes": (1_000_000, 100_000),
        "quality": ["--sizes", "100000", "1000000"],
        "quality_sizes": (100_000, 1_000_000),
        "baseline": ["--orders", "100000"],
        "baseline_history": ["--history-orders", "1000000"],
        # transform's sizes: 1M orders of history, 10k new orders + 5k updates a day; the bytes
        # part: 30 days on a small lake (its defaults: 100k history, 1k orders + 500 updates a day).
        "lake": [
            *("--history", "1000000", "--daily-orders", "10000", "--daily-updates", "5000"),
            *("--days", str(args.repeat), "--bytes-days", "30"),
        ],
        "transform": {
            "sizes": args.transform_sizes,
            "daily_orders": 10_000,
            "daily_updates": 5_000,
            # The baseline's day: 100k order rows (70k new orders, 30k status updates).
            "big_orders": 70_000,
            "big_updates": 30_000,
            "big_days": args.repeat,
            "reads": args.repeat,
            "days": args.repeat,
        },
    }


# --- transform child: transform_bench's functions, one history, N days ----------------------------


TRANSFORM_API = {
    "generate_history": ["conn", "size", "per_day", "lines", "customers", "products"],
    "add_day": [
        "conn",
        "day_start",
        "first_new_id",
        "new_orders",
        "updates",
        "lines",
        "customers",
        "products",
    ],
    "duckdb_read_rate": ["settings"],
    "day_run": ["label", "result", "start", "new_orders", "updates"],
}


def transform_child(args: argparse.Namespace) -> int:
    """Run in a subprocess: per size, one history, the first build, then N incremental days."""
    try:
        import transform_bench as tb

        for name, params in TRANSFORM_API.items():
            if list(inspect.signature(getattr(tb, name)).parameters) != params:
                raise TypeError(f"transform_bench.{name} changed its signature")
        _ = tb.HISTORY_START
    except (ImportError, AttributeError, TypeError) as exc:
        print(f"transform_bench API changed: {exc}", file=sys.stderr)
        return TRANSFORM_API_ERROR

    spec = json.loads(args.child_spec)
    with tempfile.TemporaryDirectory(prefix="drp_bench_run_transform_") as tmp:
        results = [_transform_size(tb, size, spec, Path(tmp)) for size in spec["sizes"]]
    document = {"mode": "harness-driven", "spec": spec, "results": results}
    Path(args.child_json).write_text(json.dumps(document, default=str))
    print(json.dumps(document, default=str))
    return 0


def _transform_size(tb: Any, size: int, spec: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """One history of `size` orders in a throw-away database and lake, then the builds, timed."""
    from drp.settings import load_settings
    from drpctl.db_admin import create_database, drop_database

    base = load_settings()
    with isolated_lake(base, "transform") as lake:
        name = f"drp_bench_transform_{secrets.token_hex(4)}"
        create_database(base.postgres_admin_dsn, name, base.postgres_user)
        try:
            settings = base.model_copy(update={"postgres_db": name, **lake})
            return _transform_size_in(tb, size, spec, workdir, settings)
        finally:
            drop_database(base.postgres_admin_dsn, name)


def _transform_size_in(
    tb: Any, size: int, spec: dict[str, Any], workdir: Path, settings: Any
) -> dict[str, Any]:
    """`_transform_size` in its database (`settings.postgres_db`) and lake (`settings.lake_*`)."""
    import psycopg

    from drp.db.migrate import upgrade
    from drp.transform import run_dbt

    lines, customers, products, per_day = 2, 100_000, 1_000, 10_000  # transform_bench's defaults
    name = settings.postgres_db
    state = {"day": 0, "next_id": size + 1, "history_days": 0}

    def one_day(label: str, new_orders: int, updates: int) -> dict[str, Any]:
        day = tb.HISTORY_START + timedelta(days=state["history_days"] + state["day"])
        with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as conn:
            tb.add_day(conn, day, state["next_id"], new_orders, updates, lines, customers, products)
        state["day"] += 1
        state["next_id"] += new_orders
        built = run_dbt(
            settings,
            "build",
            data_interval_start=day,
            data_interval_end=day + timedelta(days=1),
            target_path=workdir / "target",
            check=False,
        )
        log(f"  {label} {day:%Y-%m-%d}: {built.summary()}")
        out: dict[str, Any] = dict(vars(tb.day_run(label, built, day, new_orders, updates)))
        out["success"] = built.success
        return out

    upgrade(settings)
    log(f"transform {size:,}: generating raw history in {name}, lake {settings.lake_catalog_db}")
    started = time.perf_counter()
    with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as conn:
        state["history_days"] = tb.generate_history(conn, size, per_day, lines, customers, products)
    generate_seconds = time.perf_counter() - started
    reads = [tb.duckdb_read_rate(settings)[0] for _ in range(spec["reads"])]
    log(f"  history in {generate_seconds:.0f}s; DuckDB reads {reads[0]:,.0f} rows/s")
    first = one_day("first build", spec["daily_orders"], spec["daily_updates"])
    days = [one_day("one more day", spec["daily_orders"], spec["daily_updates"]) for _ in range(spec["days"])]
    big_days = spec["big_days"] if size == min(spec["sizes"]) else 0
    big = [
        one_day("one more day, 100k-row delta", spec["big_orders"], spec["big_updates"])
        for _ in range(big_days)
    ]
    return {
        "history_orders": size,
        "history_days": state["history_days"],
        "generate_seconds": round(generate_seconds, 1),
        "duckdb_read_rows_per_s": [round(r) for r in reads],
        "first_build": first,
        "days": days,
        "big_delta_days": big,
    }


def run_transform(spec: dict[str, Any], out_dir: Path, timeout: float) -> ScriptRun:
    json_file = out_dir / "transform.json"
    run = run_script(
        "transform",
        [
            "bench/run.py",
            "--child-transform",
            "--child-spec",
            json.dumps(spec),
            "--child-json",
            str(json_file),
        ],
        log_path=out_dir / "transform.log",
        timeout=timeout,
        json_file=json_file,
    )
    if run.returncode == TRANSFORM_API_ERROR:
        log("transform: transform_bench's functions changed; running the script itself")
        sizes = ",".join(str(s) for s in spec["sizes"])
        fallback = out_dir / "transform_script.json"
        run = run_script(
            "transform",
            [
                "bench/transform_bench.py",
                "--sizes",
                sizes,
                "--more-days",
                str(spec["days"]),
                "--json",
                str(fallback),
            ],
            log_path=out_dir / "transform_script.log",
            timeout=timeout,
            json_file=fallback,
            accept_returncodes=(0, 1),
        )
        if run.result is not None:
            run.result = {"mode": "script", "results": _from_script(run.result)}
    return run


def _from_script(document: dict[str, Any]) -> list[dict[str, Any]]:
    """transform_bench.py's own JSON in the harness-driven shape (its first day, then the others)."""
    out = []
    for r in document.get("results", []):
        days = r.get("days", [])
        out.append(
            {
                "history_orders": r["history_orders"],
                "history_days": r.get("history_days"),
                "generate_seconds": r.get("generate_seconds"),
                "duckdb_read_rows_per_s": [r.get("duckdb_read_rows_per_second")],
                "first_build": days[0] if days else None,
                "days": days[1:],
                "big_delta_days": [],
            }
        )
    return out


# --- figures ------------------------------------------------------------------------------------


def fig(summary: dict[str, Any] | None, unit: str, label: str) -> dict[str, Any] | None:
    if summary is None:
        return None
    return {**summary, "unit": unit, "label": label}


def ratio_range(num: dict[str, Any] | None, den: dict[str, Any] | None) -> dict[str, Any] | None:
    """num/den from two independent summaries: median/median, and the extreme combinations."""
    if not num or not den or not den["median"] or not den["min"] or not den["max"]:
        return None
    return {
        "median": round(num["median"] / den["median"], 3),
        "min": round(num["min"] / den["max"], 3),
        "max": round(num["max"] / den["min"], 3),
        "n": min(num["n"], den["n"]),
    }


def generator_figures(results: list[dict[str, Any]]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for form in ("paged", "bulk"):
        for phase in ("cold", "warm"):
            values = [
                r["records_per_s"]
                for doc in results
                for r in doc.get("results", [])
                if r["form"] == form and r["phase"] == phase
            ]
            figures[f"{form}_{phase}_records_per_s"] = fig(
                summarize(values, 0), "records/s", f"{form} ({phase} server cache), one client"
            )
    return figures


def ingest_figures(results: list[dict[str, Any]], sizes: tuple[int, int]) -> dict[str, Any]:
    """Every load and every (ceiling, load) round of every invocation is one sample."""
    big, small = sizes

    def loads(size: int) -> list[dict[str, Any]]:
        return [r for doc in results for r in doc.get("loads", []) if r.get("target") == size]

    def values(size: int, key: str) -> list[float]:
        return [r[key] for r in loads(size) if r.get(key) is not None]

    # Older ingest_bench output has no "rounds": one ceiling and one ratio per invocation.
    rounds = [
        rnd
        for doc in results
        for rnd in doc.get("rounds")
        or [
            {
                "ceiling_orders_per_s": {k: doc["ceiling"][k]["orders_per_s"] for k in ("write_row", "text")},
                "ratio_write_row": doc.get("ratio_to_write_row_ceiling"),
                "ratio_text": doc.get("ratio_to_text_ceiling"),
            }
        ]
        if "ceiling" in doc
    ]
    lines_per_order = [d["ceiling"]["lines"] / d["ceiling"]["orders"] for d in results if "ceiling" in d]
    rows_factor = 1 + (sum(lines_per_order) / len(lines_per_order) if lines_per_order else 0)
    rss_growth = [
        max(r["peak_rss_mb"] for r in doc["loads"] if r.get("target") == big)
        / max(r["peak_rss_mb"] for r in doc["loads"] if r.get("target") == small)
        for doc in results
        if any(r.get("target") == big for r in doc.get("loads", []))
        and any(r.get("target") == small for r in doc.get("loads", []))
    ]
    return {
        "window_orders": fig(
            summarize(values(big, "received"), 0), "orders", f"orders in the {big:,} window"
        ),
        "load_orders_per_s": fig(
            summarize(values(big, "orders_per_s"), 0), "orders/s", f"API → raw, {big:,}"
        ),
        "load_rows_per_s": fig(
            summarize([(r["received"] + r["lines"]) / r["duration_seconds"] for r in loads(big)], 0),
            "rows/s",
            f"API → raw, {big:,}, orders + lines",
        ),
        "ceiling_write_row_orders_per_s": fig(
            summarize([r["ceiling_orders_per_s"]["write_row"] for r in rounds], 0),
            "orders/s",
            "COPY ceiling: same rows, write_row from memory",
        ),
        "ceiling_write_row_rows_per_s": fig(
            summarize([r["ceiling_orders_per_s"]["write_row"] * rows_factor for r in rounds], 0),
            "rows/s",
            "  the same, orders + lines",
        ),
        "ceiling_text_orders_per_s": fig(
            summarize([r["ceiling_orders_per_s"]["text"] for r in rounds], 0),
            "orders/s",
            "COPY ceiling: same rows as ready COPY text",
        ),
        "ratio_to_write_row_ceiling": fig(
            summarize([r["ratio_write_row"] for r in rounds]), "x", "load / write_row ceiling (paired)"
        ),
        "ratio_to_text_ceiling": fig(
            summarize([r["ratio_text"] for r in rounds]), "x", "load / COPY-text ceiling (paired)"
        ),
        f"peak_rss_mb_{small}": fig(summarize(values(small, "peak_rss_mb"), 1), "MB", f"peak RSS, {small:,}"),
        f"peak_rss_mb_{big}": fig(summarize(values(big, "peak_rss_mb"), 1), "MB", f"peak RSS, {big:,}"),
        "peak_rss_growth": fig(summarize(rss_growth), "x", f"peak RSS {big:,} / {small:,}"),
        f"load_seconds_{small}": fig(
            summarize(values(small, "duration_seconds")), "s", f"API → raw, {small:,}"
        ),
        f"load_orders_per_s_{small}": fig(
            summarize(values(small, "orders_per_s"), 0), "orders/s", f"API → raw, {small:,}"
        ),
        f"load_orders_{small}": fig(
            summarize(values(small, "received"), 0), "orders", f"orders, {small:,} window"
        ),
    }


def transform_figures(document: dict[str, Any] | None) -> dict[str, Any]:
    if not document:
        return {}
    figures: dict[str, Any] = {"mode": document.get("mode")}
    results = sorted(document.get("results", []), key=lambda r: r["history_orders"])
    for r in results:
        size = r["history_orders"]
        walls = [d["wall_seconds"] for d in r["days"]]
        figures[f"day_seconds_{size}"] = fig(
            summarize(walls), "s", f"dbt build, one more day, {size:,} history (wall)"
        )
        figures[f"day_dbt_seconds_{size}"] = fig(
            summarize([d["dbt_seconds"] for d in r["days"]]), "s", f"same, dbt's own elapsed, {size:,}"
        )
        if r.get("first_build"):
            figures[f"first_build_seconds_{size}"] = fig(
                summarize([r["first_build"]["wall_seconds"]]), "s", f"first build (all history), {size:,}"
            )
        figures[f"duckdb_read_rows_per_s_{size}"] = fig(
            summarize(r["duckdb_read_rows_per_s"], 0), "rows/s", f"DuckDB reads raw.orders_raw, {size:,}"
        )
        if r.get("big_delta_days"):
            figures[f"day_100k_delta_seconds_{size}"] = fig(
                summarize([d["wall_seconds"] for d in r["big_delta_days"]]),
                "s",
                f"dbt build, a 100k-row day, {size:,} history",
            )
        failed = [
            d for d in [r.get("first_build"), *r["days"], *r["big_delta_days"]] if d and d["tests_failed"]
        ]
        if failed:
            figures.setdefault("warnings", []).append(
                f"{size:,}: {len(failed)} build(s) with failed dbt tests"
            )
    if len(results) >= 2:
        small, large = results[0], results[-1]
        pairs = list(zip(small["days"], large["days"], strict=False))
        figures["o_delta_ratio"] = fig(
            summarize([b["wall_seconds"] / a["wall_seconds"] for a, b in pairs]),
            "x",
            f"one more day, {large['history_orders']:,} / {small['history_orders']:,} history (wall)",
        )
        figures["o_delta_ratio_dbt"] = fig(
            summarize([b["dbt_seconds"] / a["dbt_seconds"] for a, b in pairs if a["dbt_seconds"]]),
            "x",
            "same, dbt's own elapsed",
        )
    return figures


def quality_figures(results: list[dict[str, Any]], sizes: tuple[int, ...]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for size in sizes:
        rows = [r for doc in results for r in doc.get("results", []) if r["orders_per_interval"] == size]
        figures[f"gate_seconds_{size}"] = fig(
            summarize([r["gate_seconds"] for r in rows]), "s", f"quality gate (checkpoints), {size:,} orders"
        )
        figures[f"validate_seconds_{size}"] = fig(
            summarize([r["timings"].get("validate") for r in rows]),
            "s",
            f"  of which GX validation, {size:,}",
        )
        figures[f"passed_{size}"] = all(r["passed"] for r in rows) if rows else None
    import_seconds = [doc.get("gx_import_seconds") for doc in results]
    figures["gx_import_seconds"] = fig(
        summarize(import_seconds), "s", "import great_expectations (per process)"
    )
    return figures


def baseline_figures(
    results: list[dict[str, Any]], ingest: dict[str, Any], transform: dict[str, Any]
) -> dict[str, Any]:
    def values(*path: str) -> list[float]:
        out = []
        for doc in results:
            node: Any = doc
            for key in path:
                node = node.get(key) if isinstance(node, dict) else None
            if node is not None:
                out.append(node)
        return out

    naive_load = summarize(values("load", "seconds"))
    naive_reload = summarize(values("transform", "seconds"))
    naive_reload_history = summarize(values("transform_history", "seconds"))
    records = summarize(values("records"), 0)
    history_raw = summarize(values("transform_history", "raw_orders"), 0)
    figures: dict[str, Any] = {
        "orders": fig(records, "orders", "orders in the baseline's window"),
        "naive_load_seconds": fig(naive_load, "s", "naive load: fetch + INSERT per row (executemany/page)"),
        "naive_load_orders_per_s": fig(
            summarize(values("load", "records_per_s"), 0), "orders/s", "naive load"
        ),
        "naive_single_commit_orders_per_s": fig(
            summarize(values("single_row_commit", "records_per_s"), 1),
            "orders/s",
            "naive load, one commit per row (sample)",
        ),
        "naive_single_commit_projected_seconds": fig(
            summarize(values("single_row_commit", "projected_seconds_for_window"), 0),
            "s",
            "  projected for the window",
        ),
        "naive_reload_seconds": fig(naive_reload, "s", "naive transform: pandas full reload of the window"),
        "naive_reload_history_seconds": fig(
            naive_reload_history,
            "s",
            f"naive transform with {int(history_raw['median']):,} raw orders" if history_raw else "",
        ),
    }
    # Ours on the same orders: ingest's load rate on the same window (same generator volume and
    # start: the same records when the sizes match, as in the full run), and dbt's incremental
    # day with a 100k-row delta over 1M of history (the small-delta day if that was not run).
    small_size = min(
        (int(k.rsplit("_", 1)[1]) for k in ingest if k.startswith("load_seconds_")), default=None
    )
    rate = ingest.get(f"load_orders_per_s_{small_size}") if small_size else None
    ours_load = None
    if rate and records and rate["min"] > 0:
        ours_load = {
            "median": round(records["median"] / rate["median"], 3),
            "min": round(records["median"] / rate["max"], 3),
            "max": round(records["median"] / rate["min"], 3),
            "n": rate["n"],
        }
    day_keys = sorted(
        (k for k in transform if k.startswith("day_100k_delta_seconds_")),
        key=lambda k: int(k.rsplit("_", 1)[1]),
    )
    if not day_keys:
        day_keys = sorted(
            (k for k in transform if k.startswith("day_seconds_")), key=lambda k: int(k.rsplit("_", 1)[1])
        )
    ours_transform = transform.get(day_keys[0]) if day_keys else None
    figures["ours_load_seconds"] = fig(ours_load, "s", "ours: the window at ingest's load rate")
    figures["ours_transform_seconds"] = fig(
        ours_transform, "s", f"ours: {ours_transform['label']}" if ours_transform else ""
    )
    figures["load_speedup"] = fig(ratio_range(naive_load, ours_load), "x", "load: naive / ours")
    figures["transform_speedup_no_history"] = fig(
        ratio_range(naive_reload, ours_transform), "x", "transform: naive reload of the window / ours"
    )
    figures["transform_speedup"] = fig(
        ratio_range(naive_reload_history, ours_transform), "x", "transform: naive reload of 1M raw / ours"
    )
    if naive_load and ours_load and ours_transform:
        ours_total = _sum_summaries(ours_load, ours_transform)
        if naive_reload_history:
            figures["e2e_speedup"] = fig(
                ratio_range(_sum_summaries(naive_load, naive_reload_history), ours_total),
                "x",
                "load + transform of a 100k day over 1M history: naive / ours",
            )
        if naive_reload:
            figures["e2e_speedup_no_history"] = fig(
                ratio_range(_sum_summaries(naive_load, naive_reload), ours_total),
                "x",
                "same, naive with no history (its best case)",
            )
    return figures


def _sum_summaries(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {
        "median": a["median"] + b["median"],
        "min": a["min"] + b["min"],
        "max": a["max"] + b["max"],
        "n": min(a["n"], b["n"]),
    }


def e2e_figures(results: list[dict[str, Any]]) -> dict[str, Any]:
    runs = [r for doc in results for r in doc.get("runs", []) if not r.get("warmup")]
    # Succeeded, or stopped by the quality gate's data verdict (every stage but publish timed).
    ok = [r for r in runs if r.get("measured")]

    def s(key: str, digits: int = 3) -> dict[str, Any] | None:
        return summarize([r.get(key) for r in ok], digits)

    return {
        "runs": len(runs),
        "succeeded": len(ok),
        "failed_runs": [
            {"day": r["day"], "run_id": r["run_id"], "error": r.get("error")} for r in runs if r not in ok
        ],
        "orders_loaded": fig(s("orders_loaded", 0), "orders", "orders loaded by the day's run"),
        "wall_seconds": fig(s("wall_seconds"), "s", "DAG run wall (start → end)"),
        "sum_task_seconds": fig(s("sum_task_seconds"), "s", "Σ task time (all tasks, every try)"),
        "work_busy_seconds": fig(s("work_busy_seconds"), "s", "work tasks running (union)"),
        "overhead_pct": fig(s("overhead_pct", 1), "%", "overhead (wall − work busy) / wall"),
        "overhead_sum_pct": fig(s("overhead_sum_pct", 1), "%", "(wall − Σ task) / wall, as literally asked"),
        "queue_latency_median_seconds": fig(
            summarize([(r.get("queue_latency_seconds") or {}).get("median") for r in ok]),
            "s",
            "queue latency (queued → running), median task",
        ),
        "queue_latency_max_seconds": fig(
            summarize([(r.get("queue_latency_seconds") or {}).get("max") for r in ok]),
            "s",
            "queue latency, slowest task",
        ),
        "schedule_latency_median_seconds": fig(
            summarize([(r.get("schedule_latency_seconds") or {}).get("median") for r in ok]),
            "s",
            "scheduled → queued, median task",
        ),
        "handoff_gap_total_seconds": fig(
            s("handoff_gap_total_seconds"), "s", "Σ hand-off gaps of work tasks"
        ),
        "run_queue_wait_seconds": fig(s("run_queue_wait_seconds"), "s", "run queued → started"),
        "tasks": fig(s("task_count", 0), "tasks", "tasks in the run"),
    }


def scale_figures(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per executor configuration: the backfill's wall, a run's wall and the tasks' queue latency."""
    figures: dict[str, Any] = {}
    for r in (r for doc in results for r in doc.get("results", [])):
        name = r["config"]
        figures[f"{name}_backfill_wall_seconds"] = fig(
            summarize([r.get("backfill_wall_seconds")]),
            "s",
            f"{name}: {r['backfill_days']}-day backfill wall",
        )
        figures[f"{name}_run_wall_seconds"] = fig(
            _from_stats(r.get("run_wall_seconds")), "s", f"{name}: a day's run wall"
        )
        latency = r.get("queue_latency_seconds") or {}
        for key in ("median", "p90", "max"):
            figures[f"{name}_queue_latency_{key}_seconds"] = fig(
                summarize([latency.get(key)]), "s", f"{name}: task queue latency, {key}"
            )
        figures[f"{name}_tasks_per_worker"] = r.get("tasks_per_worker")
        if r.get("error"):
            figures[f"{name}_error"] = r["error"]
    return figures


def _from_stats(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    """e2e_bench's median/p90/max/n as a figure (no min there)."""
    if not stats:
        return None
    return {"median": stats["median"], "min": None, "max": stats["max"], "n": stats["n"]}


def lake_figures(results: list[dict[str, Any]]) -> dict[str, Any]:
    """bench/lake_bench.py: lake vs file per day (medians over days), bytes after N days."""
    figures: dict[str, Any] = {}
    compares = [doc["compare"] for doc in results if doc.get("compare")]
    if compares:
        first = compares[0]
        sizes = f"{first['history_orders']:,} history, {first['daily_orders']:,}/day"
        for side in ("lake", "file"):
            days = [d for c in compares for d in c[side]]
            for part in ("build", "gate", "publish"):
                figures[f"{side}_{part}_seconds"] = fig(
                    summarize([d[f"{part}_seconds"] for d in days]), "s", f"{side}: {part}"
                )
            figures[f"{side}_day_seconds"] = fig(
                summarize([d["total_seconds"] for d in days]),
                "s",
                f"{side}: build + gate + publish{' (+ prepare)' if side == 'lake' else ''}, {sizes}",
            )
        figures["lake_prepare_seconds"] = fig(
            summarize([d["prepare_seconds"] for c in compares for d in c["lake"]]),
            "s",
            "lake: prepare (restore the head to the publication)",
        )
        figures["lake_file_ratio"] = fig(
            summarize([r for c in compares for r in c["ratio_per_day"]]), "x", "lake / file, paired per day"
        )
    for doc in results:
        b = doc.get("bytes")
        if not b:
            continue
        span = f"{b['days']} days at {b['daily_orders']:,}/day"
        for key, label in (
            ("lake_bytes_before_maintenance", f"lake bytes after {span}"),
            ("lake_bytes_after_maintenance", "  the same after expire + cleanup"),
            ("lake_bytes_past_retention", "  the same past retention (newest publication only)"),
            ("copy_per_day_bytes", f"copy-per-day Parquet bytes, {span}"),
        ):
            figures[key.replace("bytes", "mib")] = fig(summarize([b[key] / 2**20]), "MiB", label)
        figures["bytes_ratio_before_maintenance"] = fig(
            summarize([b["ratio_before_maintenance"]], 4), "x", "lake / copy-per-day bytes"
        )
        figures["bytes_ratio_after_maintenance"] = fig(
            summarize([b["ratio_after_maintenance"]], 4), "x", "  the same after maintenance"
        )
        figures["bytes_ratio_past_retention"] = fig(
            summarize([b["ratio_past_retention"]], 4), "x", "  the same past retention"
        )
        break
    failures = [f for doc in results for f in doc.get("build_failures", [])]
    figures["build_failures"] = failures
    return figures


# --- targets ------------------------------------------------------------------------------------


def judge(figures: dict[str, dict[str, Any]], quick: bool) -> list[dict[str, Any]]:
    def value(bench: str, key: str) -> float | None:
        f = figures.get(bench, {}).get(key)
        return f["median"] if isinstance(f, dict) else None

    targets = [
        (
            "ingest ≥ 50% of the COPY ceiling (write_row)",
            value("ingest", "ratio_to_write_row_ceiling"),
            ">=",
            0.5,
            "x",
        ),
        ("O(delta): 10M/1M one-more-day ≤ 1.3×", value("transform", "o_delta_ratio"), "<=", 1.3, "x"),
        ("lake vs file: build + gate + publish ≤ 1.3×", value("lake", "lake_file_ratio"), "<=", 1.3, "x"),
        ("end-to-end overhead ≤ 25%", value("e2e", "overhead_pct"), "<=", 25.0, "%"),
        ("≥ 5× the naive baseline end to end", value("baseline", "e2e_speedup"), ">=", 5.0, "x"),
        ("ingest peak RSS flat (1M ≤ 1.25 × 100k)", value("ingest", "peak_rss_growth"), "<=", 1.25, "x"),
    ]
    out = []
    for name, measured, op, threshold, unit in targets:
        if measured is None:
            status = "n/a"
        elif quick:
            status = "not judged (quick)"
        else:
            ok = measured >= threshold if op == ">=" else measured <= threshold
            status = "pass" if ok else "MISS"
        out.append(
            {
                "target": name,
                "value": measured,
                "op": op,
                "threshold": threshold,
                "unit": unit,
                "status": status,
            }
        )
    return out


# --- output -------------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"


def table(figures: dict[str, dict[str, Any]], targets: list[dict[str, Any]]) -> str:
    lines = [f"{'bench':<10} {'figure':<58} {'median':>11} {'min':>11} {'max':>11} {'n':>3}  unit"]
    for bench, figs in figures.items():
        for key, f in figs.items():
            if not isinstance(f, dict) or "median" not in f:
                continue
            label = (f.get("label") or key)[:58]
            lines.append(
                f"{bench:<10} {label:<58} {_fmt(f['median']):>11} {_fmt(f['min']):>11} {_fmt(f['max']):>11} "
                f"{f['n']:>3}  {f['unit']}"
            )
    lines.append("")
    lines.append(f"{'target':<48} {'measured':>10}  result")
    for t in targets:
        measured = (
            "-" if t["value"] is None else f"{_fmt(t['value'])}{t['unit'] if t['unit'] == '%' else '×'}"
        )
        lines.append(f"{t['target']:<48} {measured:>10}  {t['status']}")
    return "\n".join(lines)


def compute_figures(
    selected: list[str], config: dict[str, Any], results: dict[str, list[dict[str, Any]]]
) -> dict[str, dict[str, Any]]:
    """Figures per bench from the scripts' parsed JSON (one list of documents per bench)."""
    figures: dict[str, dict[str, Any]] = {}
    if "generator" in selected:
        figures["generator"] = generator_figures(results.get("generator", []))
    if "ingest" in selected:
        figures["ingest"] = ingest_figures(results.get("ingest", []), config["ingest_sizes"])
    if "transform" in selected:
        transform_docs = results.get("transform", [])
        figures["transform"] = transform_figures(transform_docs[0] if transform_docs else None)
    if "quality" in selected:
        figures["quality"] = quality_figures(results.get("quality", []), config["quality_sizes"])
    if "baseline" in selected:
        figures["baseline"] = baseline_figures(
            results.get("baseline", []), figures.get("ingest", {}), figures.get("transform", {})
        )
    if "e2e" in selected:
        figures["e2e"] = e2e_figures(results.get("e2e", []))
    if "lake" in selected:
        figures["lake"] = lake_figures(results.get("lake", []))
    if "scale" in selected:
        figures["scale"] = scale_figures(results.get("scale", []))
    return figures


def recompute(path: Path, args: argparse.Namespace) -> int:
    """Derive figures and targets again from a result file's raw runs (after a harness fix)."""
    document = json.loads(path.read_text())
    quick = document["mode"] == "quick"
    args.quick, args.repeat = quick, document["repeat"]
    config = document.get("config") or plan(args)
    config["ingest_sizes"] = tuple(config["ingest_sizes"])
    results = {
        name: [r["result"] for r in bench_runs if r.get("result") is not None]
        for name, bench_runs in document["runs"].items()
    }
    document["figures"] = compute_figures(document["benches"], config, results)
    document["targets"] = judge(document["figures"], quick)
    document["recomputed_at"] = datetime.now(UTC).isoformat()
    path.write_text(json.dumps(document, indent=2, default=str))
    print(table(document["figures"], document["targets"]))
    print(f"results: {path} (figures recomputed)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small CI version (< 3 min), figures not judged")
    parser.add_argument("--repeat", type=int, help="runs per figure (default 3; 1 with --quick)")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(BENCHES)}")
    parser.add_argument(
        "--transform-sizes",
        default="1000000,10000000",
        help="orders of raw history for the transform bench (full mode)",
    )
    parser.add_argument("--out", type=Path, help="result file (default bench/results/<timestamp>.json)")
    parser.add_argument("--recompute", type=Path, help="recompute figures and targets of a result file")
    parser.add_argument("--child-transform", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-spec", help=argparse.SUPPRESS)
    parser.add_argument("--child-json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_transform:
        return transform_child(args)

    args.transform_sizes = [int(s.replace("_", "")) for s in args.transform_sizes.split(",") if s.strip()]
    if args.recompute:
        return recompute(args.recompute, args)
    args.repeat = args.repeat or (1 if args.quick else 3)
    selected = [b.strip() for b in args.only.split(",")] if args.only else list(BENCHES)
    unknown = sorted(set(selected) - set(BENCHES))
    if unknown:
        parser.error(f"unknown bench(es) {unknown}; choose from {', '.join(BENCHES)}")
    if args.quick and not args.only:
        # the scheduler runs do not fit in 3 minutes
        selected = [b for b in selected if b not in {"e2e", "scale"}]
    config = plan(args)
    rounds = 1 if args.quick else args.repeat

    started_at = datetime.now(UTC)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    out_path = args.out or RESULTS_DIR / f"{stamp}.json"
    out_dir = out_path.with_suffix("")
    out_dir.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    log(
        f"bench: {'quick' if args.quick else 'full'}, {rounds} round(s) of {', '.join(selected)}; "
        f"{machine['nproc']} cores, {machine['memory_gb']} GB, load {machine['load_avg']}"
    )

    runs: dict[str, list[ScriptRun]] = {b: [] for b in selected}

    def record(run: ScriptRun) -> None:
        runs[run.name].append(run)
        status = "ok" if run.ok else f"FAILED ({run.error}; log {run.log_path})"
        log(f"{run.name}: {status} in {run.seconds:.0f}s")

    scripts = {
        "generator": ("bench/generator_bench.py", 600, None),
        "ingest": ("bench/ingest_bench.py", 2400, "--json-out"),
        "quality": ("bench/quality_bench.py", 1800, None),
        "baseline": ("bench/baseline_bench.py", 2400, "--json-out"),
        "e2e": ("bench/e2e_bench.py", 5400, "--json-out"),
        "lake": ("bench/lake_bench.py", 4 * 3600, "--json-out"),
        "scale": ("bench/scale_bench.py", 4 * 3600, "--json-out"),
    }

    def run_bench(name: str, flags: list[str], index: int) -> None:
        """One run of a bench script: its log and JSON named `<name>_<index + 1>` in `out_dir`."""
        script, timeout, json_flag = scripts[name]
        json_file = None
        if json_flag is not None:
            json_file = out_dir / f"{name}_{index + 1}.json"
            flags = [*flags, json_flag, str(json_file)]
        record(
            run_script(
                name,
                [script, *flags],
                log_path=out_dir / f"{name}_{index + 1}.log",
                timeout=timeout,
                json_file=json_file,
                # quality_bench exits 1 when a suite fails: still a timing, flagged in figures.
                accept_returncodes=(0, 1) if name == "quality" else (0,),
            )
        )

    for index in range(rounds):
        for name in ("generator", "ingest", "quality", "baseline"):
            if name not in selected:
                continue
            flags = list(config[name]) if isinstance(config[name], list) else []
            if name == "baseline" and index == 0:
                flags += config["baseline_history"]
            log(f"{name}: round {index + 1}/{rounds}")
            run_bench(name, flags, index)
        if index == 0 and "transform" in selected:
            log("transform: one history per size, the first build, then incremental days")
            record(run_transform(config["transform"], out_dir, timeout=4 * 3600))
        if index == 0 and "lake" in selected:
            log("lake: lake vs file side by side, then bytes after daily runs")
            run_bench("lake", list(config["lake"]), 0)
    if "e2e" in selected:
        # Last, in one go: it restarts the stack as a deployment of its own (a 100k/day world).
        days = [E2E_FIRST_DAY + timedelta(days=i) for i in range(1 + rounds)]
        log(f"e2e: a warm-up day and {rounds} measured day(s) at {E2E_ORDERS_PER_DAY:,} orders/day")
        flags = ["--orders-per-day", str(E2E_ORDERS_PER_DAY), "--warmup", "1"]
        run_bench("e2e", [*flags, "--days", ",".join(d.isoformat() for d in days)], 0)
    if "scale" in selected:
        log(f"scale: a {SCALE_DAYS}-day backfill at {E2E_ORDERS_PER_DAY:,} orders/day per executor")
        flags = ["--orders-per-day", str(E2E_ORDERS_PER_DAY), "--days", str(SCALE_DAYS)]
        run_bench("scale", [*flags, "--start", E2E_FIRST_DAY.isoformat()], 0)

    results = {
        name: [r.result for r in bench_runs if r.result is not None] for name, bench_runs in runs.items()
    }
    figures = compute_figures(selected, config, results)
    targets = judge(figures, args.quick)

    finished_at = datetime.now(UTC)
    document = {
        "started_at": started_at.isoformat(),
        "finished_at": finished_at.isoformat(),
        "duration_seconds": round((finished_at - started_at).total_seconds(), 1),
        "mode": "quick" if args.quick else "full",
        "repeat": rounds,
        "benches": selected,
        "config": config,
        "machine": machine,
        "load_avg_at_end": machine_info()["load_avg"],
        "figures": figures,
        "targets": targets,
        "failures": [
            {"bench": r.name, **r.as_dict()} for bench_runs in runs.values() for r in bench_runs if not r.ok
        ],
        "runs": {
            name: [{**r.as_dict(), "result": r.result} for r in bench_runs]
            for name, bench_runs in runs.items()
        },
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(document, indent=2, default=str))
    print(table(figures, targets))
    print(
        f"\n{document['mode']} run, {rounds} round(s), {document['duration_seconds'] / 60:.1f} min; "
        f"machine: {machine['nproc']} cores, {machine['memory_gb']} GB, load average "
        f"{machine['load_avg']} → {document['load_avg_at_end']}"
    )
    for failure in document["failures"]:
        print(f"FAILED: {failure['bench']}: {failure['error']} (log: {failure['log']})")
    print(f"results: {out_path}")
    return 1 if document["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
