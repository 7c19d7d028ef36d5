"""`make run` / `make backfill`: trigger the daily DAG through Airflow's REST API, watch, summarize."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from drp.errors import PlatformError
from drp.orchestration.airflow_api import AirflowClient
from drp.settings import Settings

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


def _task_results(settings: Settings, run_id: str) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The last audit row of each task of the run: its metadata and error."""
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        rows = conn.execute(
            """
            select distinct on (task_id) task_id, metadata, error_message
            from ops.pipeline_flow_audit
            where flow_name = %s and flow_run_id = %s and task_id is not null
            order by task_id, id desc
            """,
            (DAG_ID, run_id),
        ).fetchall()
    return {r[0]: r[1] for r in rows}, {r[0]: r[2] for r in rows if r[2]}


def log_location(settings: Settings, run_id: str, task_id: str, try_number: int) -> str:
    from drp.stack.airflow import airflow_home

    return str(
        airflow_home(settings)
        / "logs"
        / f"dag_id={DAG_ID}"
        / f"run_id={run_id}"
        / f"task_id={task_id}"
        / f"attempt={max(try_number, 1)}.log"
    )


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
        client.unpause(DAG_ID)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        window = f"[{start.date()}, {(start + timedelta(days=1)).date()})"
        existing = client.runs_for_logical_date(DAG_ID, start)
        if existing and not conf:
            # One run per logical date: running a day again reruns that run (its history is kept).
            run_id = existing[0]["dag_run_id"]
            client.clear_run(DAG_ID, run_id)
            echo(f"rerunning {DAG_ID} run {run_id} for {window}")
        else:
            for old in existing:  # a drill with other params replaces the day's run
                client.delete_run(DAG_ID, old["dag_run_id"])
            run_id = f"manual__{day.isoformat()}__{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
            client.trigger(DAG_ID, run_id=run_id, start=start, end=start + timedelta(days=1), conf=conf)
            echo(f"triggered {DAG_ID} run {run_id} for {window}")
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
                if seen.get(ti["task_id"]) != task_state and task_state not in {
                    "none",
                    "scheduled",
                    "queued",
                }:
                    seen[ti["task_id"]] = task_state
                    echo(f"  {time.monotonic() - started:6.1f}s  {ti['task_id']:<45} {task_state}")
        summary = RunSummary(DAG_ID, run_id, state, day, time.monotonic() - started, tasks=dict(seen))
        summary.results, summary.errors = _task_results(settings, run_id)
        if state == "failed":
            failed = [t for t in tis if t.get("state") in {"failed", "upstream_failed"}]
            lines = [
                f"{t['task_id']} {t['state']}: {summary.errors.get(t['task_id'], '')[:300]}\n"
                f"    log: {log_location(settings, run_id, t['task_id'], t.get('try_number') or 1)}"
                for t in failed
                if t["state"] == "failed"
            ]
            raise PipelineRunError(f"run {run_id} failed\n" + "\n".join(lines))
        return summary
    finally:
        client.close()


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
        lines += ["", f"published snapshots (s3://{settings.s3_bucket_analytics}/):"]
        lines += [
            f"  {key}  ({pub.get('rows', {}).get(key.split('/')[1], '?')} rows)"
            for key in pub["snapshot_keys"]
        ]
        lines.append(f"  {pub['manifest_key']}")
    lines += ["", f"Airflow UI: {settings.airflow_url}/dags/{summary.dag_id}/runs/{summary.run_id}"]
    return "\n".join(lines)
