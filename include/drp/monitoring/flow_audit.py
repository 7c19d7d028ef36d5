"""Airflow callbacks that write ops.pipeline_flow_audit: one row per task try and per DAG run.

Tasks return a dict (their XCom) with `records_processed` and any metadata; the success callback
copies it into the audit row. The DAG-level row aggregates its task rows. A failing callback is
logged with its traceback and never changes the task's own result.

A try whose process died (kill -9, OOM, a scheduler that died and had its tasks reset) runs no
callback: the listener plugin (`plugins/drp_audit_listener.py`) hands the run's tries, as the
scheduler knows them, to `record_unaudited_tries` when the run ends, before the DAG-level row is
written. A task try has at most one row, whoever writes it first (`write_audit_row`).

Every statement on the table is here: `write_audit_row`, `task_audits` and `audited_tries` (the
run driver reads a run's task results through `last_tries`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from drp.errors import PlatformError
from drp.intervals import resolve_interval
from drp.monitoring.alerts import alert
from drp.settings import Settings, get_settings

log = logging.getLogger(__name__)

Context = Mapping[str, Any]


def _now() -> datetime:
    return datetime.now(UTC)


def _value(obj: object, name: str) -> Any:
    return getattr(obj, name, None) if obj is not None else None


@dataclass(frozen=True, slots=True)
class TaskAudit:
    """One task try's audit row, as read back."""

    task_id: str
    try_number: int | None
    status: str
    started_at: datetime | None
    records_processed: int | None
    metadata: Any  # the task's result (a dict for the platform's tasks)
    error_message: str | None


@dataclass(frozen=True, slots=True)
class TryRecord:
    """One task try as Airflow's scheduler knows it (TaskInstance or TaskInstanceHistory)."""

    task_id: str
    try_number: int
    state: str | None  # Airflow's state of the try; None or running for a try the scheduler reset
    started_at: datetime | None = None
    ended_at: datetime | None = None
    hostname: str | None = None


def write_audit_row(settings: Settings, row: dict[str, Any]) -> bool:
    """Insert one audit row; a task try that already has one keeps it. True when inserted.

    A killed try's row can come from two writers (a heartbeat-timeout callback in the DAG
    processor and the run-end listener in the scheduler), so the check and the insert run under
    an advisory lock on the try. A run's outcome can be reported twice too: the scheduler also
    finishes running runs of a paused DAG (`dag.test()` runs, a run paused while it ended) and
    queues their DAG callback beside the one already run. A run row is written once per outcome:
    skipped when the run's newest row is already a run row with the same status (a cleared run
    that ends again writes task rows first, then its new outcome).
    """
    values = [json.dumps(v, default=str) if k == "metadata" else v for k, v in row.items()]
    insert = sql.SQL("insert into ops.pipeline_flow_audit ({}) values ({})").format(
        sql.SQL(", ").join(map(sql.Identifier, row)), sql.SQL(", ").join(sql.Placeholder() * len(row))
    )
    key = [row.get("flow_name"), row.get("flow_run_id"), row.get("task_id"), row.get("try_number")]
    with psycopg.connect(settings.postgres_conninfo(), connect_timeout=10) as conn, conn.transaction():
        if row.get("task_id") is not None and row.get("try_number") is not None:
            conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", [json.dumps(key)])
            exists = conn.execute(
                """
                select 1 from ops.pipeline_flow_audit
                where flow_name = %s and flow_run_id = %s and task_id = %s and try_number = %s
                """,
                key,
            ).fetchone()
            if exists:
                return False
        elif row.get("task_id") is None:
            conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", [json.dumps(key)])
            newest = conn.execute(
                """
                select task_id, status from ops.pipeline_flow_audit
                where flow_name = %s and flow_run_id = %s order by id desc limit 1
                """,
                key[:2],
            ).fetchone()
            if newest is not None and newest[0] is None and newest[1] == row.get("status"):
                return False
        conn.execute(insert, values)
    return True


def task_audits(settings: Settings, flow_name: str, run_id: str) -> list[TaskAudit]:
    """Every task try recorded for a run, in the order the rows were written."""
    with psycopg.connect(settings.postgres_conninfo(), connect_timeout=10) as conn:
        rows = conn.execute(
            """
            select task_id, try_number, status, started_at, records_processed, metadata, error_message
            from ops.pipeline_flow_audit
            where flow_name = %s and flow_run_id = %s and task_id is not null
            order by id
            """,
            (flow_name, run_id),
        ).fetchall()
    return [TaskAudit(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class RunAudit:
    """A run's own row (task_id null), as read back."""

    run_id: str
    status: str
    duration_seconds: float | None
    error_message: str | None


def newest_run(settings: Settings, flow_name: str, moment: datetime) -> RunAudit | None:
    """The newest recorded run of the flow whose interval holds `moment` (a day's start: its
    daily run, or a run over a range that included the day)."""
    with psycopg.connect(settings.postgres_conninfo(), connect_timeout=10) as conn:
        row = conn.execute(
            """
            select flow_run_id, status, duration_seconds, error_message from ops.pipeline_flow_audit
            where flow_name = %s and task_id is null
              and data_interval_start <= %s and data_interval_end > %s
            order by id desc limit 1
            """,
            (flow_name, moment, moment),
        ).fetchone()
    return RunAudit(*row) if row else None


def audited_tries(settings: Settings, flow_name: str, run_id: str) -> set[tuple[str, int]]:
    """(task_id, try_number) of every task try of a run that has an audit row."""
    return {(a.task_id, a.try_number) for a in task_audits(settings, flow_name, run_id) if a.try_number}


def last_tries(settings: Settings, flow_name: str, run_id: str) -> dict[str, TaskAudit]:
    """The last recorded try of each task of a run."""
    return _last_try_of_each_task(task_audits(settings, flow_name, run_id))


def _last_try_of_each_task(rows: list[TaskAudit]) -> dict[str, TaskAudit]:
    # The highest try wins; rows come in write order, and the listener writes a killed earlier
    # try after its task's later tries.
    return {row.task_id: row for row in sorted(rows, key=lambda r: r.try_number or 0)}


# Airflow's state of a try with no row → the audit status. A try the scheduler reset (its
# scheduler died; state running, queued or none) was retried: up_for_retry.
_UNAUDITED_STATUS = {"failed": "failed", "up_for_retry": "up_for_retry", "success": "success"}


def unaudited_rows(
    flow_name: str, run_id: str, tries: list[TryRecord], audited: set[tuple[str, int]], context: Context
) -> list[dict[str, Any]]:
    """Audit rows for the tries no callback recorded (the task's process died)."""
    last_try: dict[str, int] = {}
    for t in tries:
        last_try[t.task_id] = max(last_try.get(t.task_id, 0), t.try_number)
    interval = processed_interval(context)
    rows = []
    for t in tries:
        if t.try_number < 1 or (t.task_id, t.try_number) in audited:
            continue
        if t.state in {"skipped", "removed", "upstream_failed", "deferred"}:
            continue  # no try ran a task body, or a later state will be recorded
        status = _UNAUDITED_STATUS.get(t.state or "", "up_for_retry")
        if status == "failed" and t.try_number < last_try[t.task_id]:
            # Airflow's history stores every earlier unfinished try as failed; it was retried.
            status = "up_for_retry"
        ended = t.ended_at or _now()
        where = f" on {t.hostname}" if t.hostname else ""
        rows.append(
            {
                "flow_name": flow_name,
                "flow_run_id": run_id,
                "task_id": t.task_id,
                "try_number": t.try_number,
                "status": status,
                "logical_date": context.get("logical_date"),
                "data_interval_start": interval[0],
                "data_interval_end": interval[1],
                "started_at": t.started_at,
                "ended_at": ended,
                "duration_seconds": (ended - t.started_at).total_seconds() if t.started_at else None,
                "records_processed": None,
                "metadata": {"recorded_by": "scheduler", "airflow_state": t.state},
                "error_message": (
                    None
                    if status == "success"
                    else f"try {t.try_number} ended {t.state or 'abandoned'}{where} without running its "
                    "callbacks: its process died (killed, out of memory, or its scheduler died)"
                ),
            }
        )
    return rows


def record_unaudited_tries(
    settings: Settings, flow_name: str, run_id: str, tries: list[TryRecord], context: Context
) -> list[str]:
    """Write a row for each try of a run that has none; returns `task_id#try` of those written."""
    audited = audited_tries(settings, flow_name, run_id)
    written = []
    for row in unaudited_rows(flow_name, run_id, tries, audited, context):
        if write_audit_row(settings, row):
            written.append(f"{row['task_id']}#{row['try_number']}")
    if written:
        log.warning("audit: recorded tries that ran no callback for run %s: %s", run_id, ", ".join(written))
    return written


def processed_interval(context: Context) -> tuple[Any, Any]:
    """The interval the run processed, as its tasks resolve it: the data interval, unless the
    run's trigger form (params, or the run's conf) overrode it. Unresolvable: the data interval
    as given (the audit row must be written whatever the context holds)."""
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None:
        return start, end
    params = context.get("params") or _value(context.get("dag_run"), "conf") or {}
    try:
        return resolve_interval(start, end, dict(params))
    except (PlatformError, TypeError, ValueError):
        return start, end


def _error_text(context: Context) -> str | None:
    error = context.get("exception") or context.get("reason")
    if error is None:
        return None
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
    return text[:4000]


def task_row(context: Context, status: str) -> dict[str, Any]:
    """The audit row for the task try described by an Airflow callback context."""
    ti = context["ti"]
    started = _value(ti, "start_date")
    ended = _value(ti, "end_date") or _now()
    result: Any = None
    if status == "success":
        try:
            result = ti.xcom_pull(task_ids=ti.task_id)
        except Exception:  # an XCom backend error must not lose the audit row itself
            log.exception("audit: could not read the XCom of %s", ti.task_id)
    metadata = result if isinstance(result, dict) else ({} if result is None else {"result": result})
    records = metadata.get("records_processed") if isinstance(metadata, dict) else None
    interval = processed_interval(context)
    return {
        "flow_name": ti.dag_id,
        "flow_run_id": ti.run_id,
        "task_id": ti.task_id,
        "try_number": _value(ti, "try_number"),
        "status": status,
        "logical_date": context.get("logical_date"),
        "data_interval_start": interval[0],
        "data_interval_end": interval[1],
        "started_at": started,
        "ended_at": ended,
        "duration_seconds": (ended - started).total_seconds() if started else None,
        "records_processed": records,
        "metadata": metadata,
        "error_message": (_error_text(context) or _NO_ERROR) if status != "success" else None,
    }


# A failure callback without an error: Airflow runs it outside the task (the DAG processor, for a
# try whose process died or stopped heartbeating), with no exception to report.
_NO_ERROR = (
    "the task reported no error: its process died (killed, out of memory) or stopped "
    "heartbeating, and Airflow ran this callback for it"
)


def dag_row(settings: Settings, context: Context, status: str) -> dict[str, Any]:
    """The audit row for a DAG run, aggregating the task rows already written for it."""
    dag = context.get("dag")
    dag_run = context.get("dag_run")
    dag_id = _value(dag, "dag_id") or _value(dag_run, "dag_id")
    run_id = context.get("run_id") or _value(dag_run, "run_id")
    rows = task_audits(settings, dag_id, run_id)
    tasks = _last_try_of_each_task(rows)  # the last try of each task decides its state
    # `dag.test()` stamps start_date with the logical date; run_after is when it really began
    # (for scheduled, triggered and backfill runs run_after <= start_date, so start_date wins).
    stamps = [s for s in (_value(dag_run, "start_date"), _value(dag_run, "run_after")) if s is not None]
    started = max(stamps) if stamps else min((r.started_at for r in rows if r.started_at), default=None)
    ended = _value(dag_run, "end_date") or _now()
    failed = sorted(t for t, r in tasks.items() if r.status == "failed")
    # Airflow names the task that failed the run (`ti` in a DAG failure callback's context): named
    # even when its try left no row.
    culprit = _value(context.get("ti"), "task_id")
    if status == "failed" and culprit and culprit not in failed:
        failed = sorted([*failed, culprit])
    interval = processed_interval(
        {
            **context,
            "data_interval_start": context.get("data_interval_start")
            or _value(dag_run, "data_interval_start"),
            "data_interval_end": context.get("data_interval_end") or _value(dag_run, "data_interval_end"),
        }
    )
    metadata = {
        "tasks": {t: r.status for t, r in tasks.items()},
        "failed_tasks": failed,
        "layers": {t: r.metadata for t, r in tasks.items() if r.metadata},
    }
    return {
        "flow_name": dag_id,
        "flow_run_id": run_id,
        "task_id": None,
        "try_number": None,
        "status": status,
        "logical_date": context.get("logical_date") or _value(dag_run, "logical_date"),
        "data_interval_start": interval[0],
        "data_interval_end": interval[1],
        "started_at": started,
        "ended_at": ended,
        "duration_seconds": (ended - started).total_seconds() if started else None,
        "records_processed": sum(r.records_processed or 0 for r in tasks.values()),
        "metadata": metadata,
        "error_message": _run_error(failed, _error_text(context)) if status == "failed" else None,
    }


def _run_error(failed: list[str], reason: str | None) -> str:
    named = ", ".join(failed) or "none recorded (see the run's task states in Airflow)"
    return f"failed tasks: {named}" + (f"; {reason}" if reason else "")


def _guarded(kind: str, func: Callable[[Context], None]) -> Callable[[Context], None]:
    def callback(context: Context) -> None:
        try:
            func(context)
        except Exception:
            # Logged loudly (with the run it concerns) but never raised: the task's own result stands.
            log.exception("audit callback %s failed for run %s", kind, context.get("run_id"))

    callback.__name__ = f"audit_{kind}"
    return callback


def _task(status: str) -> Callable[[Context], None]:
    def run(ctx: Context) -> None:
        write_audit_row(get_settings(), task_row(ctx, status))

    return _guarded(f"task_{status}", run)


def run_failure_lines(settings: Settings, row: Mapping[str, Any]) -> list[str]:
    """The failed-run alert's body, naming every failed task the run's audit row names."""
    failed = row["metadata"]["failed_tasks"]
    return [
        f"run: {row['flow_run_id']}",
        f"failed tasks: {', '.join(failed) or 'none recorded (see the run in Airflow)'}",
        f"interval: {row['data_interval_start']} → {row['data_interval_end']}",
        f"Airflow: {settings.airflow_url}/dags/{row['flow_name']}",
    ]


def _dag(status: str) -> Callable[[Context], None]:
    def run(ctx: Context) -> None:
        settings = get_settings()
        row = dag_row(settings, ctx, status)
        if not write_audit_row(settings, row):
            log.info("audit: run %s already recorded as %s", row["flow_run_id"], status)
            return  # the outcome was recorded (and alerted) by the other report of it
        if status == "failed":
            alert(
                settings,
                "run_failed",
                f"drp: {row['flow_name']} run failed",
                run_failure_lines(settings, row),
                run_id=row["flow_run_id"],
                dag_id=row["flow_name"],
                details={"failed_tasks": row["metadata"]["failed_tasks"], "error": row["error_message"]},
            )

    return _guarded(f"dag_{status}", run)


on_task_success = _task("success")
on_task_failure = _task("failed")
on_task_retry = _task("up_for_retry")
on_dag_success = _dag("success")
on_dag_failure = _dag("failed")
