"""`make run` / `make backfill`: trigger the daily DAG through Airflow's REST API, watch, summarize."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from drp.errors import PlatformError
from drp.monitoring import flow_audit
from drp.pools import WAREHOUSE_POOL, WAREHOUSE_POOL_DESCRIPTION, WAREHOUSE_POOL_SLOTS
from drp.settings import Settings
from drpctl.driver.airflow_api import AirflowClient
from drpctl.stack.airflow import airflow_home, remote_log_folder

DAG_ID = "orders_elt_daily"
FINAL_STATES = {"success", "failed"}
Echo = Callable[[str], None]


class PipelineRunError(PlatformError):
    """A DAG run ended in failure; names the failing tasks and their logs."""


@dataclass
class RunSummary:
    dag_id: str
    run_id: str
    state: str
    day: date
    seconds: float
    tasks: dict[str, str] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    try_numbers: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)


def _task_results(
    settings: Settings, run_id: str
) -> tuple[dict[str, dict[str, Any]], dict[str, str], dict[str, int]]:
    """The last audit row of each task of the run: its metadata, error and try number."""
    last = flow_audit.last_tries(settings, DAG_ID, run_id)
    return (
        {t: a.metadata for t, a in last.items()},
        {t: a.error_message for t, a in last.items() if a.error_message},
        {t: a.try_number or 0 for t, a in last.items()},
    )


def log_location(settings: Settings, run_id: str, task_id: str, try_number: int) -> str:
    """Where a task try's log is: a local file under LocalExecutor; under Celery, its copy in the
    object store (the worker that ran it may be another host)."""
    relative = f"dag_id={DAG_ID}/run_id={run_id}/task_id={task_id}/attempt={max(try_number, 1)}.log"
    if settings.executor == "celery":
        return f"{remote_log_folder(settings)}/{relative}"
    return str(airflow_home(settings) / "logs" / relative)


def run_day(
    settings: Settings,
    day: date,
    *,
    echo: Echo = print,
    conf: dict[str, Any] | None = None,
    timeout: float = 3600,
) -> RunSummary:
    """Trigger one run for `[day, day + 1)`, print progress, and return its summary."""
    client = AirflowClient(settings)
    try:
        client.wait_for_dag(DAG_ID)
        client.ensure_pool(WAREHOUSE_POOL, WAREHOUSE_POOL_SLOTS, WAREHOUSE_POOL_DESCRIPTION)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        window = f"[{start.date()}, {(start + timedelta(days=1)).date()})"
        # One run per logical date: running a day again replaces its run with a new one. (Clearing
        # would not rebuild: Cosmos's watcher producer skips itself on a cleared run's new try.)
        # The replaced run's history stays in ops.pipeline_flow_audit.
        for old in client.runs_for_logical_date(DAG_ID, start):
            client.delete_run(DAG_ID, old["dag_run_id"])
            echo(f"replacing {DAG_ID} run {old['dag_run_id']} ({old['state']}) for {window}")
        run_id = f"manual__{day.isoformat()}__{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
        client.trigger(DAG_ID, run_id=run_id, start=start, end=start + timedelta(days=1), conf=conf)
        echo(f"triggered {DAG_ID} run {run_id} for {window}")
        # Unpause only once the day's run exists: unpausing first lets the scheduler create its own
        # run for the latest interval, which may be this very logical date.
        client.unpause(DAG_ID)
        summary = watch_run(settings, client, run_id, day, echo=echo, timeout=timeout)
    finally:
        client.close()
    if summary.state == "failed":
        raise PipelineRunError(failure_report(settings, summary))
    return summary


def backfill(
    settings: Settings,
    first: date,
    last: date,
    *,
    echo: Echo = print,
    timeout_per_day: float = 3600,
) -> list[RunSummary]:
    """Run `[first, last]` as an Airflow backfill (one run per day, oldest first, one at a time).

    Every day is rerun as a new run, even one that already succeeded. Prints each day's summary as it ends and
    returns them all; raises
    `PipelineRunError` naming each failed day once the whole range has finished.
    """
    client = AirflowClient(settings)
    summaries: list[RunSummary] = []
    try:
        client.wait_for_dag(DAG_ID)
        client.ensure_pool(WAREHOUSE_POOL, WAREHOUSE_POOL_SLOTS, WAREHOUSE_POOL_DESCRIPTION)
        lo = datetime(first.year, first.month, first.day, tzinfo=UTC)
        hi = datetime(last.year, last.month, last.day, tzinfo=UTC)
        for old in client.runs_between(DAG_ID, lo, hi):  # rerun every day as a new run (see run_day)
            client.delete_run(DAG_ID, old["dag_run_id"])
            echo(f"replacing {DAG_ID} run {old['dag_run_id']} ({old['state']})")
        created = client.create_backfill(DAG_ID, first=lo, last=hi)
        echo(f"backfill {created['id']} of {DAG_ID}: {first} .. {last} ({(last - first).days + 1} days)")
        client.unpause(DAG_ID)  # the scheduler runs backfills only for an unpaused DAG
        runs = _backfill_runs(client, lo, hi, expected=(last - first).days + 1)
        for run in runs:
            day = datetime.fromisoformat(run["logical_date"]).date()
            echo(f"{day}: run {run['dag_run_id']}")
            summary = watch_run(settings, client, run["dag_run_id"], day, echo=echo, timeout=timeout_per_day)
            echo(format_summary(settings, summary) + "\n")
            summaries.append(summary)
    finally:
        client.close()
    failed = [s for s in summaries if s.state == "failed"]
    if failed:
        raise PipelineRunError("\n".join(failure_report(settings, s) for s in failed))
    return summaries


def _backfill_runs(
    client: AirflowClient, lo: datetime, hi: datetime, *, expected: int, timeout: float = 60
) -> list[dict[str, Any]]:
    """The backfill's runs, oldest first (the API creates them with the backfill)."""
    deadline = time.monotonic() + timeout
    while True:
        # The API does not say which backfill a run belongs to; the range's runs were all deleted
        # before the backfill was created, so its backfill runs are this backfill's.
        runs = [r for r in client.runs_between(DAG_ID, lo, hi) if r.get("run_type") == "backfill"]
        if len(runs) >= expected or time.monotonic() > deadline:
            return sorted(runs, key=lambda r: str(r["logical_date"]))
        time.sleep(1)


def watch_run(
    settings: Settings,
    client: AirflowClient,
    run_id: str,
    day: date,
    *,
    echo: Echo = print,
    timeout: float = 3600,
) -> RunSummary:
    """Poll a run until it ends, printing each task's state changes; return its summary."""
    started = time.monotonic()
    seen: dict[str, str] = {}
    state = "queued"
    tis: list[dict[str, Any]] = []
    while state not in FINAL_STATES:
        if time.monotonic() - started > timeout:
            raise PipelineRunError(f"run {run_id} did not finish within {timeout:.0f}s")
        time.sleep(2)
        state = client.dag_run(DAG_ID, run_id)["state"]
        tis = client.task_instances(DAG_ID, run_id)
        for ti in sorted(tis, key=lambda t: t.get("start_date") or ""):
            task_state = ti.get("state") or "none"
            if seen.get(ti["task_id"]) != task_state and task_state not in {"none", "scheduled", "queued"}:
                seen[ti["task_id"]] = task_state
                echo(f"  {time.monotonic() - started:6.1f}s  {ti['task_id']:<45} {task_state}")
    summary = RunSummary(DAG_ID, run_id, state, day, time.monotonic() - started, tasks=dict(seen))
    summary.try_numbers = {t["task_id"]: t.get("try_number") or 1 for t in tis}
    summary.failed = [t["task_id"] for t in tis if t.get("state") == "failed"]
    summary.results, summary.errors = wait_for_task_audit(settings, run_id, tis)
    return summary


def wait_for_task_audit(
    settings: Settings, run_id: str, tis: list[dict[str, Any]], timeout: float = 60
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The run's task results from the audit table, once every finished task's last try is in it.

    A task reports its state before its callbacks run, so a run can end a moment before the
    audit rows of its last tasks are written.
    """
    expected = {
        t["task_id"]: t.get("try_number") or 1 for t in tis if t.get("state") in {"success", "failed"}
    }
    deadline = time.monotonic() + timeout
    while True:
        results, errors, tries = _task_results(settings, run_id)
        missing = [task for task, n in expected.items() if tries.get(task, 0) < n]
        if not missing or time.monotonic() > deadline:
            return results, errors
        time.sleep(0.5)


def failure_report(settings: Settings, summary: RunSummary) -> str:
    """Each failed task of the run: its error and where its log is."""
    lines = [
        f"{task} failed: {summary.errors.get(task, '')[:300]}\n"
        f"    log: {log_location(settings, summary.run_id, task, summary.try_numbers.get(task, 1))}"
        for task in summary.failed
    ]
    return f"run {summary.run_id} failed\n" + "\n".join(lines)


def format_summary(settings: Settings, summary: RunSummary) -> str:
    """What the run did, layer by layer."""
    r = summary.results
    lines = [f"run {summary.run_id}: {summary.state} in {summary.seconds:.1f}s", "", "raw (API → Postgres):"]
    for entity in ("customers", "products", "orders"):
        load = r.get(f"load_{entity}", {})
        if load:
            lines.append(
                f"  {entity:<10} received {load.get('received', 0):>8}  loaded {load.get('loaded', 0):>8}  "
                f"quarantined {load.get('quarantined', 0):>6}  duplicates {load.get('duplicates', 0):>5}"
                + (f"  drift {load['drift']}" if load.get("drift") else "")
            )
            if load.get("quarantined_by_reason"):
                lines.append(f"  {'':<10} quarantine reasons: {load['quarantined_by_reason']}")
    dbt = r.get("dbt_results", {})
    lines += [
        "",
        f"dbt: {dbt.get('models_built', 0)} models built, {dbt.get('tests_passed', 0)} tests passed, "
        f"{dbt.get('tests_warned', 0)} warned, {dbt.get('tests_failed', 0)} failed",
    ]
    gate = r.get("quality_gate", {})
    if gate:
        lines.append(
            f"quality gate: {'passed' if gate.get('success', True) else 'FAILED'}; "
            f"warnings: {len(gate.get('warning_failures') or [])}"
        )
    pub = r.get("publish", {})
    if pub:
        where = (
            f"lake snapshot {pub['lake_snapshot_id']} ({settings.lake_data_path})"
            if settings.warehouse_engine == "lake"
            else f"Postgres snapshot {pub['lake_snapshot_id']} (database {settings.postgres_db})"
        )
        lines += [
            "",
            f"published {pub['snapshot_date']}: {where}; "
            f"`drp export --date {pub['snapshot_date']}` writes Parquet files",
        ]
        lines += [f"  {model:<22} {rows:>10,} rows" for model, rows in pub.get("rows", {}).items()]
    lines += ["", f"Airflow UI: {settings.airflow_url}/dags/{summary.dag_id}/runs/{summary.run_id}"]
    return "\n".join(lines)
