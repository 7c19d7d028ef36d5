"""End to end: daily runs of `orders_elt_daily` under the Airflow scheduler, timed from its metadata.

    uv run --frozen python bench/e2e_bench.py [--orders-per-day 100000] [--days 2024-01-10,...]
        [--warmup 1] [--json-out FILE]

By default the bench runs in a deployment of its own: it stops the native stack, starts it again
with a 100,000 orders/day source, fresh databases (platform, Airflow metadata and the lake's
catalog) and buckets (the lake's data in its own analytics bucket), runs the days, removes all of
that and restarts the platform's stack as it was (`bench_stack`). The source's world is keyed by
its volume, so a 100k day cannot share the platform's 10k history. `--orders-per-day 0` runs on
the running stack as it is instead.

For each day (one run each, in order), triggers the DAG through Airflow's REST API for
`[day, day + 1)` (`drpctl.driver.run.run_day`), waits for it, then reads Airflow's metadata
database (`dag_run`, `task_instance`, `task_instance_history`, `task_reschedule`) for that run:

* **wall**: the run's `start_date` → `end_date` (the scheduler's view: from the run being picked
  up, so time spent queued behind another run of the DAG is reported apart as `run_queue_wait`);
* **Σ task time**: the sum of every task execution (every try);
* **work tasks**: every task but Cosmos' per-model watcher sensors (`Dbt*WatcherOperator`), i.e.
  the loads, prepare, the one `dbt build` (producer), dbt_results, quality gate and publish;
  `work_busy` is the union of their running intervals (parallel loads counted once);
* **overhead**: `(wall − Σ task)/wall` as asked, which goes negative when tasks overlap, and the
  honest one, `(wall − work_busy)/wall`: the share of the wall clock in which no work task ran
  (scheduling, queueing, worker start-up, sensors, hand-offs). The target (≤ 25 %) is judged on
  the latter;
* **queue latency**: per execution, `queued_dttm` → `start_date` (queued → running); also
  `scheduled_dttm` → `queued_dttm`, and per work task the hand-off gap: its start − the latest end
  among its upstream tasks (what a task waits for once its inputs are done).

The first `--warmup` runs are reported but flagged: the first run of a new deployment also loads
every day of customer and product history before its day. A run stopped by the quality gate (a
data verdict) is `measured` (every stage but publish ran).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import psycopg
from minio.deleteobjects import DeleteObject

from _common import log, overridden_env
from drp.settings import Settings, get_settings
from drp.storage import object_store
from drpctl.db_admin import drop_database
from drpctl.driver.airflow_api import AirflowClient
from drpctl.driver.run import DAG_ID, PipelineRunError, run_day
from drpctl.stack import docker, native
from drpctl.stack.supervisor import Supervisor

SENSOR_OPERATORS = ("DbtRunWatcherOperator", "DbtTestWatcherOperator")
NOT_EXECUTED = {"upstream_failed", "skipped", "removed", None}
Span = tuple[datetime, datetime]


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def _nonnegative(value: float | None) -> float | None:
    return value if value is not None and value >= 0 else None


def _union_seconds(spans: list[Span]) -> float:
    """Length of the union of intervals."""
    total = 0.0
    current: Span | None = None
    for start, end in sorted(spans):
        if current is None or start > current[1]:
            if current is not None:
                total += (current[1] - current[0]).total_seconds()
            current = (start, end)
        elif end > current[1]:
            current = (current[0], end)
    if current is not None:
        total += (current[1] - current[0]).total_seconds()
    return total


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 3),
        "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 3),
        "max": round(ordered[-1], 3),
        "n": len(ordered),
    }


def upstream_map(settings: Settings) -> dict[str, list[str]]:
    """task_id -> its upstream task ids, from the DAG's structure (REST API)."""
    client = AirflowClient(settings)
    try:
        tasks = client.call("GET", f"/dags/{DAG_ID}/tasks")["tasks"]
    finally:
        client.close()
    upstream: dict[str, list[str]] = {t["task_id"]: [] for t in tasks}
    for task in tasks:
        for child in task["downstream_task_ids"]:
            upstream.setdefault(child, []).append(task["task_id"])
    return upstream


def run_metrics(settings: Settings, run_id: str, upstream: dict[str, list[str]]) -> dict[str, Any]:
    """Wall, Σ task time, overheads and queue latencies of one DAG run, from Airflow's metadata."""
    columns = (
        "ti.task_id, ti.try_number, ti.state, ti.operator, ti.scheduled_dttm, ti.queued_dttm, "
        "ti.start_date, ti.end_date"
    )
    with psycopg.connect(settings.postgres_conninfo(settings.airflow_db)) as conn:
        run = conn.execute(
            "select state, queued_at, start_date, end_date from dag_run where dag_id = %s and run_id = %s",
            (DAG_ID, run_id),
        ).fetchone()
        if run is None:
            raise RuntimeError(f"dag_run {run_id} not found in Airflow's metadata")
        current = conn.execute(
            f"select ti.id, {columns} from task_instance ti where ti.dag_id = %s and ti.run_id = %s",
            (DAG_ID, run_id),
        ).fetchall()
        history = conn.execute(
            f"select ti.task_instance_id, {columns} from task_instance_history ti "
            "where ti.dag_id = %s and ti.run_id = %s",
            (DAG_ID, run_id),
        ).fetchall()
        ids = [row[0] for row in current] + [row[0] for row in history]
        reschedules = conn.execute(
            "select ti_id, start_date, end_date from task_reschedule where ti_id = any(%s)", (ids,)
        ).fetchall()
    state, queued_at, started, ended = run
    wall = _seconds(started, ended) or 0.0

    earlier_pokes: dict[Any, int] = {}
    for ti_id, _poke_start, _poke_end in reschedules:
        earlier_pokes[ti_id] = earlier_pokes.get(ti_id, 0) + 1

    executions: list[dict[str, Any]] = []
    for ti_id, task_id, try_number, ti_state, operator, scheduled, queued, start, end in [*current, *history]:
        if ti_state in NOT_EXECUTED or start is None or end is None:
            continue
        # Airflow 3 rewrites start_date on every poke of a reschedule-mode sensor, so a row is its
        # last poke; earlier pokes only leave a task_reschedule row (stamped at their end, so they
        # cannot be timed) and are counted apart.
        executions.append(
            {
                "task_id": task_id,
                "try_number": try_number,
                "state": ti_state,
                "operator": operator,
                "sensor": operator in SENSOR_OPERATORS,
                "earlier_pokes": earlier_pokes.get(ti_id, 0),
                "start_date": start,
                "end_date": end,
                "spans": [(start, end)],
                "seconds": (end - start).total_seconds(),
                # An earlier try's queued_dttm can be overwritten by a later queueing: drop those.
                "queue_latency": _nonnegative(_seconds(queued, start)),
                "schedule_latency": _nonnegative(_seconds(scheduled, queued)),
            }
        )

    all_spans = [s for e in executions for s in e["spans"]]
    work = [e for e in executions if not e["sensor"]]
    work_spans = [s for e in work for s in e["spans"]]
    sum_all = sum(e["seconds"] for e in executions)
    sum_work = sum(e["seconds"] for e in work)
    busy_all = _union_seconds(all_spans)
    busy_work = _union_seconds(work_spans)

    # Hand-off gap of each work task: its (last) start minus the latest end of its upstream tasks.
    last: dict[str, dict[str, Any]] = {}
    for e in executions:
        if e["task_id"] not in last or e["try_number"] > last[e["task_id"]]["try_number"]:
            last[e["task_id"]] = e
    handoffs: dict[str, float] = {}
    for task_id, e in last.items():
        ups = [last[u]["end_date"] for u in upstream.get(task_id, []) if u in last]
        if not e["sensor"] and ups:
            handoffs[task_id] = round((e["start_date"] - max(ups)).total_seconds(), 3)

    per_task: dict[str, dict[str, Any]] = {}
    for e in executions:
        t = per_task.setdefault(
            e["task_id"], {"operator": e["operator"], "tries": 0, "seconds": 0.0, "queue_latency": []}
        )
        t["tries"] = max(t["tries"], e["try_number"])
        t["seconds"] = round(t["seconds"] + e["seconds"], 3)
        if e["queue_latency"] is not None:
            t["queue_latency"].append(round(e["queue_latency"], 3))

    latencies = [e["queue_latency"] for e in executions if e["queue_latency"] is not None]
    work_latencies = [e["queue_latency"] for e in work if e["queue_latency"] is not None]
    scheduling = [e["schedule_latency"] for e in executions if e["schedule_latency"] is not None]
    not_run = sorted(row[1] for row in current if row[3] in NOT_EXECUTED or row[7] is None or row[8] is None)
    failed_tasks = sorted(task_id for task_id, e in last.items() if e["state"] == "failed")
    return {
        "state": state,
        "failed_tasks": failed_tasks,
        "not_run": not_run,
        # A run stopped by the quality gate (a data verdict, not a platform fault) still timed
        # every stage but publish; the figures use it, flagged.
        "measured": state == "success" or failed_tasks == ["quality_gate"],
        "run_queue_wait_seconds": _seconds(queued_at, started),
        "wall_seconds": round(wall, 3),
        "task_count": len(last),
        "executions": len(executions),
        "sensor_pokes_untimed": sum(e["earlier_pokes"] for e in executions),
        "sum_task_seconds": round(sum_all, 3),
        "sum_work_task_seconds": round(sum_work, 3),
        "busy_seconds": round(busy_all, 3),
        "work_busy_seconds": round(busy_work, 3),
        "overhead_sum_pct": round(100 * (wall - sum_all) / wall, 2) if wall else None,
        "overhead_idle_pct": round(100 * (wall - busy_all) / wall, 2) if wall else None,
        "overhead_pct": round(100 * (wall - busy_work) / wall, 2) if wall else None,
        "queue_latency_seconds": _stats(latencies),
        "work_queue_latency_seconds": _stats(work_latencies),
        "schedule_latency_seconds": _stats(scheduling),
        "handoff_gap_seconds": handoffs,
        "handoff_gap_total_seconds": round(sum(handoffs.values()), 3),
        "tasks": per_task,
    }


def bench_settings(base: Settings, orders_per_day: int) -> dict[str, str]:
    """`DRP_*` values of the bench's own deployment: a world, databases, warehouse and buckets of its own."""
    tag = f"e2e_{orders_per_day}"
    return {
        "DRP_GENERATOR_ORDERS_PER_DAY": str(orders_per_day),
        "DRP_GENERATOR_FAULTS": "",
        "DRP_POSTGRES_DB": f"drp_bench_{tag}",
        "DRP_AIRFLOW_DB": f"airflow_bench_{tag}",
        # Its own lake: a catalog database of its own; the data goes to its analytics bucket.
        "DRP_LAKE_CATALOG_DB": f"drp_lake_bench_{tag}",
        "DRP_S3_BUCKET_RAW": f"drp-bench-{tag.replace('_', '-')}-raw",
        "DRP_S3_BUCKET_ANALYTICS": f"drp-bench-{tag.replace('_', '-')}-analytics",
        "DRP_S3_BUCKET_LOGS": f"drp-bench-{tag.replace('_', '-')}-logs",
        # Only the runs the bench triggers: no scheduled run competes with them.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
    }


def drop_bench_state(base: Settings, bench: Settings) -> None:
    """Drop the bench deployment's databases, the lake's catalog among them (the stack must be
    down); the lake's data goes with the bench's analytics bucket (`empty_buckets`)."""
    for database in (bench.postgres_db, bench.airflow_db, bench.lake_catalog_db):
        drop_database(base.postgres_admin_dsn, database)


def empty_buckets(settings: Settings) -> None:
    """Delete the bench buckets and everything in them (the object store must be up)."""
    s3 = object_store.client(settings)
    for bucket in object_store.platform_buckets(settings):
        if not s3.bucket_exists(bucket):
            continue
        listed = s3.list_objects(bucket, recursive=True)
        objects = (DeleteObject(o.object_name) for o in listed if o.object_name)
        for error in s3.remove_objects(bucket, objects):
            log(f"  could not delete s3://{bucket}/{error.name}: {error.message}")
        s3.remove_bucket(bucket)


@contextmanager
def bench_stack(orders_per_day: int, *, restore: bool = True) -> Iterator[Settings]:
    """The native stack restarted as a deployment of its own at `orders_per_day`, then restored.

    The source's world is keyed by its volume: a 100k day loaded next to the platform's 10k
    history would leave orders whose customers the warehouse never saw (and corrupt the
    platform's raw). So the bench gets its own generator volume, platform, Airflow and lake catalog
    databases and buckets, created fresh and removed afterwards; the platform's stack is started
    again as it was (`drp up` also restarts a stack whose data settings differ, should this
    process die before restoring it); `restore=False` leaves that to the caller.
    """
    if docker.use_docker(get_settings()):
        raise SystemExit("the e2e bench restarts the native stack; with Docker, run it on the running stack")
    base = get_settings()
    was_running = Supervisor(base).running()
    echo = lambda line: log(f"  {line}")  # noqa: E731
    log(f"e2e: restarting the stack as a bench deployment at {orders_per_day:,} orders/day")
    native.down(base, echo=echo)
    try:
        with overridden_env(bench_settings(base, orders_per_day)):
            get_settings.cache_clear()
            bench = get_settings()
            try:
                drop_bench_state(base, bench)
                report = native.up(bench, timeout=600, echo=echo)
                log(f"e2e: bench deployment healthy in {report.seconds:.0f}s")
                yield bench
            finally:
                try:
                    empty_buckets(bench)
                except Exception as exc:  # noqa: BLE001  (cleanup must not hide the bench's outcome)
                    log(f"  could not empty the bench buckets: {exc!r}")
                native.down(bench, echo=echo)
                drop_bench_state(base, bench)
    finally:
        # Even when the teardown failed: the platform's settings and stack come back.
        get_settings.cache_clear()
        if was_running and restore:
            log("e2e: restarting the platform's stack")
            native.up(get_settings(), timeout=600, echo=echo)


def bench_day(
    settings: Settings, day: date, upstream: dict[str, list[str]], timeout: float
) -> dict[str, Any]:
    log(f"e2e: triggering {DAG_ID} for {day}")
    started = time.perf_counter()
    error = None
    run_id = None

    def echo(line: str) -> None:
        nonlocal run_id
        if line.startswith("triggered "):
            run_id = line.split(" run ", 1)[1].split(" ", 1)[0]
        log(f"  {line.strip()}")

    summary = None
    try:
        summary = run_day(settings, day, echo=echo, timeout=timeout)
        run_id = summary.run_id
    except PipelineRunError as exc:
        error = str(exc)
    client_seconds = time.perf_counter() - started
    if run_id is None:
        raise RuntimeError(f"the run for {day} was not triggered: {error}")
    metrics = run_metrics(settings, run_id, upstream)
    loads = summary.results if summary else {}
    result: dict[str, Any] = {
        "day": day.isoformat(),
        "run_id": run_id,
        "client_seconds": round(client_seconds, 3),
        "error": error,
        "orders_loaded": (loads.get("load_orders") or {}).get("received"),
        "customers_loaded": (loads.get("load_customers") or {}).get("received"),
        "products_loaded": (loads.get("load_products") or {}).get("received"),
        **metrics,
    }
    log(
        f"e2e {day}: {metrics['state']}, wall {metrics['wall_seconds']:.1f}s, Σ task "
        f"{metrics['sum_task_seconds']:.1f}s, work busy {metrics['work_busy_seconds']:.1f}s, "
        f"overhead {metrics['overhead_pct']}%"
    )
    return result


def run_days(settings: Settings, days: list[date], warmup: int, timeout: float) -> list[dict[str, Any]]:
    client = AirflowClient(settings)
    try:
        client.wait_for_dag(DAG_ID)
        was_paused = client.is_paused(DAG_ID)
    finally:
        client.close()
    upstream = upstream_map(settings)
    runs: list[dict[str, Any]] = []
    try:
        for index, day in enumerate(days):
            runs.append({**bench_day(settings, day, upstream, timeout), "warmup": index < warmup})
    finally:
        if was_paused:  # run_day unpauses the DAG
            client = AirflowClient(settings)
            try:
                client.set_paused(DAG_ID, True)
            finally:
                client.close()
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--days",
        default="2024-01-10,2024-01-11,2024-01-12,2024-01-13",
        help="comma-separated days, one run each, in order",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="leading runs reported but not counted (the first run loads the dimensions' history)",
    )
    parser.add_argument(
        "--orders-per-day",
        type=int,
        default=100_000,
        help="the source's volume; 0: the running stack as it is (its volume, its databases)",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for one run")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    days = [date.fromisoformat(d.strip()) for d in args.days.split(",") if d.strip()]

    if args.orders_per_day:
        with bench_stack(args.orders_per_day) as settings:
            runs = run_days(settings, days, args.warmup, args.timeout)
    else:
        settings = get_settings()
        runs = run_days(settings, days, args.warmup, args.timeout)

    report = {
        "dag_id": DAG_ID,
        "generator_orders_per_day": settings.generator_orders_per_day,
        "deployment": "bench" if args.orders_per_day else "platform",
        "runs": runs,
    }
    print(f"{'day':<12}{'state':<9}{'orders':>8}{'wall s':>9}{'Σ task s':>10}{'work busy s':>12}"
          f"{'overhead':>10}{'queue med/max s':>17}")  # fmt: skip
    for r in runs:
        q = r["queue_latency_seconds"] or {"median": float("nan"), "max": float("nan")}
        print(
            f"{r['day']:<12}{r['state']:<9}{r['orders_loaded'] or 0:>8}{r['wall_seconds']:>9.1f}"
            f"{r['sum_task_seconds']:>10.1f}{r['work_busy_seconds']:>12.1f}{r['overhead_pct']:>9.1f}%"
            f"{q['median']:>8.2f}/{q['max']:.2f}{'  (warm-up)' if r['warmup'] else ''}"
        )
    document = json.dumps(report, default=str)
    if args.json_out:
        args.json_out.write_text(document)
    print(document)
    return 0 if all(r["measured"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
