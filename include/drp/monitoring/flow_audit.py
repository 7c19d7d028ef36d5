"""Airflow callbacks that write ops.pipeline_flow_audit: one row per task try and per DAG run.

Tasks return a dict (their XCom) with `records_processed` and any metadata; the success callback
copies it into the audit row. The DAG-level row aggregates its task rows. A failing callback is
logged with its traceback and never changes the task's own result.

Every statement on the table is here: `write_audit_row` and `task_audits` (the run driver reads a
run's task results through `last_tries`).
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

from drp.monitoring.alerts import send_alert
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


def write_audit_row(settings: Settings, row: dict[str, Any]) -> None:
    """Insert one audit row."""
    values = [json.dumps(v, default=str) if k == "metadata" else v for k, v in row.items()]
    query = sql.SQL("insert into ops.pipeline_flow_audit ({}) values ({})").format(
        sql.SQL(", ").join(map(sql.Identifier, row)), sql.SQL(", ").join(sql.Placeholder() * len(row))
    )
    with psycopg.connect(settings.postgres_conninfo(), autocommit=True, connect_timeout=10) as conn:
        conn.execute(query, values)


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


def last_tries(settings: Settings, flow_name: str, run_id: str) -> dict[str, TaskAudit]:
    """The last recorded try of each task of a run."""
    return _last_try_of_each_task(task_audits(settings, flow_name, run_id))


def _last_try_of_each_task(rows: list[TaskAudit]) -> dict[str, TaskAudit]:
    return {row.task_id: row for row in rows}  # rows come in write order: the last try wins


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
    return {
        "flow_name": ti.dag_id,
        "flow_run_id": ti.run_id,
        "task_id": ti.task_id,
        "try_number": _value(ti, "try_number"),
        "status": status,
        "logical_date": context.get("logical_date"),
        "data_interval_start": context.get("data_interval_start"),
        "data_interval_end": context.get("data_interval_end"),
        "started_at": started,
        "ended_at": ended,
        "duration_seconds": (ended - started).total_seconds() if started else None,
        "records_processed": records,
        "metadata": metadata,
        "error_message": _error_text(context) if status != "success" else None,
    }


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
        "data_interval_start": context.get("data_interval_start") or _value(dag_run, "data_interval_start"),
        "data_interval_end": context.get("data_interval_end") or _value(dag_run, "data_interval_end"),
        "started_at": started,
        "ended_at": ended,
        "duration_seconds": (ended - started).total_seconds() if started else None,
        "records_processed": sum(r.records_processed or 0 for r in tasks.values()),
        "metadata": metadata,
        "error_message": (
            f"failed tasks: {', '.join(failed)}; {_error_text(context) or ''}".strip("; ")
            if status == "failed"
            else None
        ),
    }


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
    return _guarded(f"task_{status}", lambda ctx: write_audit_row(get_settings(), task_row(ctx, status)))


def _dag(status: str) -> Callable[[Context], None]:
    def run(ctx: Context) -> None:
        settings = get_settings()
        row = dag_row(settings, ctx, status)
        write_audit_row(settings, row)
        if status == "failed":
            send_alert(
                settings,
                f"drp: {row['flow_name']} run failed",
                [
                    f"run: {row['flow_run_id']}",
                    f"failed tasks: {', '.join(row['metadata']['failed_tasks']) or 'unknown'}",
                    f"interval: {row['data_interval_start']} → {row['data_interval_end']}",
                    f"Airflow: {settings.airflow_url}/dags/{row['flow_name']}",
                ],
            )

    return _guarded(f"dag_{status}", run)


on_task_success = _task("success")
on_task_failure = _task("failed")
on_task_retry = _task("up_for_retry")
on_dag_success = _dag("success")
on_dag_failure = _dag("failed")
