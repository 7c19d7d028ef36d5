"""The audit table's owner: rows the callbacks write, read back per task try and per run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from drp.monitoring.flow_audit import dag_row, last_tries, task_audits, write_audit_row
from drp.settings import Settings

pytestmark = pytest.mark.integration

T0 = datetime(2003, 3, 1, tzinfo=UTC)


def _task(flow: str, run_id: str, task: str, try_number: int, status: str, **extra: Any) -> dict[str, Any]:
    records = extra.pop("records", None)
    return {
        "flow_name": flow,
        "flow_run_id": run_id,
        "task_id": task,
        "try_number": try_number,
        "status": status,
        "started_at": T0 + timedelta(minutes=try_number),
        "records_processed": records,
        "metadata": {} if records is None else {"records_processed": records},
        **extra,
    }


def test_every_try_is_read_back_and_the_last_one_decides(settings: Settings, pg: psycopg.Connection) -> None:
    flow, run_id = f"pytest-audit-{uuid4().hex[:12]}", "manual__2003-03-01"
    rows = [
        _task(flow, run_id, "load", 1, "failed", error_message="boom"),
        _task(flow, run_id, "load", 2, "success", records=10),
        _task(flow, run_id, "publish", 1, "success", records=5),
        # Neither the run's own row nor another run's rows are task tries of this run.
        {"flow_name": flow, "flow_run_id": run_id, "task_id": None, "status": "running", "metadata": {}},
        _task(flow, "manual__2003-03-02", "load", 1, "success", records=99),
    ]
    try:
        for row in rows:
            write_audit_row(settings, row)
        audits = task_audits(settings, flow, run_id)
        assert [(a.task_id, a.try_number, a.status) for a in audits] == [
            ("load", 1, "failed"),
            ("load", 2, "success"),
            ("publish", 1, "success"),
        ]
        assert audits[0].error_message == "boom" and audits[1].metadata == {"records_processed": 10}
        last = last_tries(settings, flow, run_id)
        assert {t: (a.try_number, a.status) for t, a in last.items()} == {
            "load": (2, "success"),
            "publish": (1, "success"),
        }

        dag_run = SimpleNamespace(
            dag_id=flow, run_id=run_id, start_date=None, run_after=None, end_date=T0 + timedelta(hours=1),
            logical_date=T0, data_interval_start=T0, data_interval_end=T0 + timedelta(days=1),
        )  # fmt: skip
        run = dag_row(settings, {"dag_run": dag_run, "run_id": run_id}, "success")
        assert run["records_processed"] == 15  # the last try of each task
        assert run["metadata"]["tasks"] == {"load": "success", "publish": "success"}
        assert run["metadata"]["failed_tasks"] == [] and run["error_message"] is None
        assert run["started_at"] == T0 + timedelta(minutes=1)  # the earliest try began the run
    finally:
        pg.execute("delete from ops.pipeline_flow_audit where flow_name = %s", [flow])
