"""Scale: a backfill under LocalExecutor and under CeleryExecutor with 1 and 2 workers.

    uv run --frozen python bench/scale_bench.py [--orders-per-day 100000] [--start 2024-01-10]
        [--days 7] [--configs local,celery-1,celery-2] [--json-out FILE]

Each configuration runs in a bench deployment of its own (`e2e_bench.bench_stack`: its own world at
`--orders-per-day`, fresh databases and buckets, removed afterwards), with the executor set by
`DRP_EXECUTOR` / `DRP_CELERY_WORKERS`. The day before `--start` runs first, alone, as the warm-up
(the first run of a deployment also loads the dimensions' history); then `--days` days from
`--start` run as one Airflow backfill (`drp backfill`). Reported per configuration, from Airflow's
metadata (`e2e_bench.run_metrics`):

* the backfill's wall clock: the first run's start to the last run's end;
* per run: wall, Σ task time, work busy time;
* per task execution: queue latency (queued → running), median, p90 and max over the backfill;
* under Celery: how many task executions each worker ran.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, timedelta
from typing import Any

import psycopg

from _common import log, overridden_env
from drp.settings import Settings, get_settings
from drpctl.driver.run import DAG_ID, PipelineRunError, backfill
from drpctl.stack import native
from drpctl.stack.supervisor import Supervisor
from e2e_bench import _stats, bench_stack, run_days, run_metrics, upstream_map

CONFIGS: dict[str, dict[str, str]] = {
    "local": {"DRP_EXECUTOR": "local"},
    "celery-1": {"DRP_EXECUTOR": "celery", "DRP_CELERY_WORKERS": "1"},
    "celery-2": {"DRP_EXECUTOR": "celery", "DRP_CELERY_WORKERS": "2"},
}


def workers_of(settings: Settings, run_ids: list[str]) -> dict[str, int]:
    """Task executions (every try) per recorded host name, over the runs."""
    query = """
        select hostname, count(*) from (
            select hostname from task_instance where dag_id = %(dag)s and run_id = any(%(runs)s)
            union all
            select hostname from task_instance_history where dag_id = %(dag)s and run_id = any(%(runs)s)
        ) t where hostname <> '' group by hostname order by hostname
    """
    with psycopg.connect(settings.postgres_conninfo(settings.airflow_db)) as conn:
        return dict(conn.execute(query, {"dag": DAG_ID, "runs": run_ids}).fetchall())


def run_config(name: str, orders_per_day: int, start: date, days: int, timeout: float) -> dict[str, Any]:
    with overridden_env(CONFIGS[name]), bench_stack(orders_per_day, restore=False) as settings:
        log(f"scale {name}: warm-up {start - timedelta(days=1)}")
        warmup = run_days(settings, [start - timedelta(days=1)], 1, timeout)
        last = start + timedelta(days=days - 1)
        log(f"scale {name}: backfill {start} .. {last}")
        error = None
        try:
            summaries = backfill(
                settings, start, last, echo=lambda line: log(f"  {line}"), timeout_per_day=timeout
            )
            run_ids = [s.run_id for s in summaries]
        except PipelineRunError as exc:
            error = str(exc)
            run_ids = []
        upstream = upstream_map(settings)
        runs = [run_metrics(settings, run_id, upstream) for run_id in run_ids]
        latencies = [
            latency for r in runs for task in r["tasks"].values() for latency in task["queue_latency"]
        ]
        with psycopg.connect(settings.postgres_conninfo(settings.airflow_db)) as conn:
            span = conn.execute(
                "select min(start_date), max(end_date) from dag_run where dag_id = %s and run_id = any(%s)",
                (DAG_ID, run_ids),
            ).fetchone()
        first_start, last_end = span if span else (None, None)
        wall = (last_end - first_start).total_seconds() if first_start and last_end else None
        return {
            "config": name,
            "executor": settings.executor,
            "celery_workers": settings.celery_workers if settings.executor == "celery" else None,
            "error": error,
            "warmup_wall_seconds": warmup[0]["wall_seconds"],
            "backfill_days": days,
            "backfill_wall_seconds": round(wall, 3) if wall is not None else None,
            "run_wall_seconds": _stats([r["wall_seconds"] for r in runs]),
            "run_work_busy_seconds": _stats([r["work_busy_seconds"] for r in runs]),
            "queue_latency_seconds": _stats(latencies),
            "tasks_per_worker": workers_of(settings, run_ids),
            "runs": [
                {
                    k: r[k]
                    for k in (
                        "state",
                        "wall_seconds",
                        "sum_task_seconds",
                        "work_busy_seconds",
                        "overhead_pct",
                    )
                }
                for r in runs
            ],
            "orders_per_day": settings.generator_orders_per_day,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders-per-day", type=int, default=100_000)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 10))
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument(
        "--configs", default=",".join(CONFIGS), help=f"comma-separated subset of {','.join(CONFIGS)}"
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for one run")
    parser.add_argument("--json-out")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = sorted(set(names) - set(CONFIGS))
    if unknown:
        parser.error(f"unknown configuration(s) {', '.join(unknown)}: choose from {', '.join(CONFIGS)}")
    was_running = Supervisor(get_settings()).running()
    try:
        results = [run_config(n, args.orders_per_day, args.start, args.days, args.timeout) for n in names]
    finally:
        if was_running:  # the platform's stack, once, as configured (not as the last configuration)
            get_settings.cache_clear()
            log("scale: restarting the platform's stack")
            native.up(get_settings(), timeout=600, echo=lambda line: log(f"  {line}"))

    header = f"{'config':<10}{'days':>5}{'backfill s':>12}{'run wall med s':>16}"
    print(f"{header}{'queue med/p90/max s':>22}  workers")
    for r in results:
        q = r["queue_latency_seconds"] or {"median": float("nan"), "p90": float("nan"), "max": float("nan")}
        wall = r["run_wall_seconds"] or {"median": float("nan")}
        print(
            f"{r['config']:<10}{r['backfill_days']:>5}{r['backfill_wall_seconds'] or float('nan'):>12.1f}"
            f"{wall['median']:>16.1f}{q['median']:>10.2f}/{q['p90']:.2f}/{q['max']:.2f}  "
            f"{json.dumps(r['tasks_per_worker'])}{'  ERROR: ' + r['error'] if r['error'] else ''}"
        )
    document = json.dumps({"generated_at": datetime.now().isoformat(), "results": results}, default=str)
    if args.json_out:
        with open(args.json_out, "w") as out:
            out.write(document)
    print(document)
    return 0 if all(r["error"] is None for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
