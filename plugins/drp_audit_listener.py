"""Audit rows for task tries whose process died: a listener on the scheduler's run-end events.

A try killed with its process (kill -9, out of memory) or reset because its scheduler died runs no
`on_failure_callback`, and the task SDK's `on_task_instance_failed` runs in that dead process. The
scheduler still knows every try (TaskInstance and TaskInstanceHistory): when a run ends, before
its DAG callback is even queued, this listener hands them to `flow_audit.record_unaudited_tries`,
which writes a row for each try that has none. Logic lives in `drp.monitoring.flow_audit`.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

from drp.monitoring.flow_audit import TryRecord, record_unaudited_tries
from drp.settings import Settings, get_settings

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun

log = logging.getLogger(__name__)
AUDITED_DAGS = frozenset({"orders_elt_daily", "lake_maintenance"})
SETTINGS_TIMEOUT = 60.0


def _settings() -> Settings:
    """The settings, looked up on a thread of their own.

    Inside Airflow they are read from Connections. A lookup that reaches the metadata-DB secrets
    backend uses Airflow's thread-scoped session and closes it when done: on the scheduler's
    thread that is the scheduling loop's own session, whose DagRuns it would detach (a crash loop,
    seen when a connection was missing). Another thread gets a session of its own.
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drp-audit-settings")
    try:
        return pool.submit(get_settings).result(timeout=SETTINGS_TIMEOUT)
    finally:
        pool.shutdown(wait=False)  # a lookup past the timeout must not hold the scheduler's loop


def _tries(dag_run: DagRun) -> list[TryRecord]:
    """Every try of the run's tasks, read through the scheduler's own session (it sees the states
    the scheduler set in this very loop, not yet committed)."""
    # Scheduler-side models, imported when the hook runs: every Airflow process loads the plugin,
    # task processes included, and they need none of this.
    from airflow.models.taskinstance import TaskInstance  # noqa: PLC0415
    from airflow.models.taskinstancehistory import TaskInstanceHistory  # noqa: PLC0415
    from sqlalchemy import select  # noqa: PLC0415
    from sqlalchemy.orm import object_session  # noqa: PLC0415

    session = object_session(dag_run)
    if session is None:
        return []
    records = []
    for model in (TaskInstanceHistory, TaskInstance):
        rows = session.execute(
            select(
                model.task_id,
                model.try_number,
                model.state,
                model.start_date,
                model.end_date,
                model.hostname,
            ).where(model.dag_id == dag_run.dag_id, model.run_id == dag_run.run_id)
        ).all()
        records += [
            TryRecord(task_id, try_number or 0, str(state) if state else None, start, end, host or None)
            for task_id, try_number, state, start, end, host in rows
        ]
    return records


class AuditListener:
    """Records the tries no callback recorded, once the run's outcome is known."""

    def _record(self, dag_run: DagRun) -> None:
        if dag_run.dag_id not in AUDITED_DAGS:
            return
        try:
            context = {
                "logical_date": dag_run.logical_date,
                "data_interval_start": dag_run.data_interval_start,
                "data_interval_end": dag_run.data_interval_end,
                "params": dag_run.conf or {},  # a trigger form's interval overrides the data interval
            }
            record_unaudited_tries(_settings(), dag_run.dag_id, dag_run.run_id, _tries(dag_run), context)
        except Exception:  # never let the audit break the scheduler's loop
            log.exception("audit listener failed for run %s", dag_run.run_id)

    @hookimpl
    def on_dag_run_success(self, dag_run: DagRun, msg: str) -> None:
        self._record(dag_run)

    @hookimpl
    def on_dag_run_failed(self, dag_run: DagRun, msg: str) -> None:
        self._record(dag_run)


class DrpAuditPlugin(AirflowPlugin):
    name = "drp_audit"
    # Airflow reads the class attribute (declared so on AirflowPlugin): one listener per process.
    listeners: list[object] = [AuditListener()]  # noqa: RUF012
