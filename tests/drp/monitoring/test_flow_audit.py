"""The audit table's owner: rows the callbacks write, read back per task try and per run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from drp.monitoring.flow_audit import (
    TryRecord,
    dag_row,
    last_tries,
    processed_interval,
    record_unaudited_tries,
    run_failure_lines,
    task_audits,
    task_row,
    unaudited_rows,
    write_audit_row,
)
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


def _run_context(flow: str, run_id: str, **extra: Any) -> dict[str, Any]:
    dag_run = SimpleNamespace(
        dag_id=flow, run_id=run_id, start_date=T0, run_after=None, end_date=T0 + timedelta(hours=1),
        logical_date=T0, data_interval_start=T0, data_interval_end=T0 + timedelta(days=1),
    )  # fmt: skip
    return {"dag_run": dag_run, "run_id": run_id, **extra}


def test_a_try_whose_process_died_gets_exactly_one_row(settings: Settings, pg: psycopg.Connection) -> None:
    """Finding 2: a kill -9'd try ran no callback and left no row. The run-end listener hands the
    scheduler's tries to `record_unaudited_tries`, which writes one row per try that has none."""
    flow, run_id = f"pytest-audit-{uuid4().hex[:12]}", "manual__2003-03-01"
    try:
        # The callbacks recorded load_orders' second try and the gate; the first try was killed.
        write_audit_row(settings, _task(flow, run_id, "load_orders", 2, "success", records=7))
        write_audit_row(settings, _task(flow, run_id, "quality_gate", 1, "failed", error_message="gate"))
        tries = [
            # Airflow's history stores a killed, retried try as failed.
            TryRecord("load_orders", 1, "failed", T0, T0 + timedelta(minutes=1), "worker-1"),
            TryRecord("load_orders", 2, "success", T0, T0 + timedelta(minutes=2)),
            # A try the dead scheduler's successor reset (still `running` in its history row).
            TryRecord("transform.dbt_producer_watcher", 1, "running", T0, None),
            TryRecord("transform.dbt_producer_watcher", 2, "failed", T0, T0 + timedelta(minutes=3)),
            TryRecord("quality_gate", 1, "failed", T0, T0 + timedelta(minutes=4)),
            TryRecord("publish", 0, "upstream_failed"),  # never ran: no try, no row
        ]
        written = record_unaudited_tries(settings, flow, run_id, tries, {"logical_date": T0})
        assert sorted(written) == [
            "load_orders#1",
            "transform.dbt_producer_watcher#1",
            "transform.dbt_producer_watcher#2",
        ]
        # Run-end events can repeat (and a heartbeat-timeout callback can race the listener):
        # each try keeps its one row.
        assert record_unaudited_tries(settings, flow, run_id, tries, {"logical_date": T0}) == []
        assert not write_audit_row(settings, _task(flow, run_id, "load_orders", 1, "failed"))

        audits = task_audits(settings, flow, run_id)
        keys = [(a.task_id, a.try_number) for a in audits]
        assert len(keys) == len(set(keys)) == 5
        killed = next(a for a in audits if (a.task_id, a.try_number) == ("load_orders", 1))
        assert killed.status == "up_for_retry"
        assert (
            killed.error_message
            and "process died" in killed.error_message
            and "worker-1" in killed.error_message
        )
        # The listener wrote try 1 after try 2's row: the highest try still decides.
        last = last_tries(settings, flow, run_id)
        assert (last["load_orders"].try_number, last["load_orders"].status) == (2, "success")
        assert last["transform.dbt_producer_watcher"].status == "failed"

        run = dag_row(settings, _run_context(flow, run_id, reason="task_failure"), "failed")
        assert run["metadata"]["failed_tasks"] == ["quality_gate", "transform.dbt_producer_watcher"]
        assert (
            run["error_message"] == "failed tasks: quality_gate, transform.dbt_producer_watcher; task_failure"
        )
    finally:
        pg.execute("delete from ops.pipeline_flow_audit where flow_name = %s", [flow])


def test_the_run_row_names_the_failed_task_even_without_its_row(
    settings: Settings, pg: psycopg.Connection
) -> None:
    """Finding 2's `failed tasks: ; task_failure`: the task that failed the run (Airflow's `ti` in
    the DAG failure callback) is named even when none of its tries left a row."""
    flow, run_id = f"pytest-audit-{uuid4().hex[:12]}", "manual__2003-03-01"
    try:
        write_audit_row(settings, _task(flow, run_id, "load_orders", 1, "success", records=3))
        culprit = SimpleNamespace(task_id="transform.dbt_producer_watcher", state="failed")
        run = dag_row(settings, _run_context(flow, run_id, reason="task_failure", ti=culprit), "failed")
        assert run["metadata"]["failed_tasks"] == ["transform.dbt_producer_watcher"]
        assert run["error_message"] == "failed tasks: transform.dbt_producer_watcher; task_failure"
        # Nothing to name at all: say so, never an empty list.
        bare = dag_row(settings, _run_context(flow, run_id, reason="task_failure"), "failed")
        assert bare["error_message"].startswith("failed tasks: none recorded")
        assert dag_row(settings, _run_context(flow, run_id, ti=culprit), "success")["error_message"] is None
    finally:
        pg.execute("delete from ops.pipeline_flow_audit where flow_name = %s", [flow])


def test_a_run_outcome_reported_twice_is_recorded_once(settings: Settings, pg: psycopg.Connection) -> None:
    """The scheduler also finishes runs of a paused DAG (a `dag.test()` run, a DAG paused while its
    run ended) and queues their DAG callback beside the one already run: one row per outcome. A
    cleared run that ends again records its new outcome."""
    flow, run_id = f"pytest-audit-{uuid4().hex[:12]}", "manual__2003-03-01"
    try:
        write_audit_row(settings, _task(flow, run_id, "quality_gate", 1, "failed", error_message="gate"))
        run = dag_row(settings, _run_context(flow, run_id, reason="task_failure"), "failed")
        assert write_audit_row(settings, run)
        assert not write_audit_row(settings, {**run, "ended_at": T0 + timedelta(hours=2)})
        # Cleared and run again: its task rows come first, then the run's new outcome.
        write_audit_row(settings, _task(flow, run_id, "quality_gate", 2, "success"))
        again = dag_row(settings, _run_context(flow, run_id), "success")
        assert write_audit_row(settings, again)
        assert not write_audit_row(settings, again)
        write_audit_row(settings, _task(flow, run_id, "quality_gate", 3, "failed", error_message="gate"))
        assert write_audit_row(settings, run)  # failed again, after a success: a new outcome
        statuses = pg.execute(
            "select status from ops.pipeline_flow_audit where flow_name = %s and task_id is null order by id",
            [flow],
        ).fetchall()
        assert [s for (s,) in statuses] == ["failed", "success", "failed"]
    finally:
        pg.execute("delete from ops.pipeline_flow_audit where flow_name = %s", [flow])


def test_unaudited_rows_skip_tries_that_never_ran_or_have_a_row() -> None:
    tries = [
        TryRecord("a", 1, "failed"),
        TryRecord("a", 2, "success"),
        TryRecord("b", 1, None),
        TryRecord("c", 0, None),
        TryRecord("d", 1, "skipped"),
        TryRecord("e", 1, "upstream_failed"),
    ]
    rows = unaudited_rows("flow", "run", tries, {("a", 2)}, {})
    assert [(r["task_id"], r["try_number"], r["status"]) for r in rows] == [
        ("a", 1, "up_for_retry"),  # a later try exists: it was retried
        ("b", 1, "up_for_retry"),
    ]
    last = unaudited_rows("flow", "run", [TryRecord("a", 3, "failed")], set(), {})
    assert [(r["try_number"], r["status"]) for r in last] == [(3, "failed")]
    assert all(r["metadata"]["recorded_by"] == "scheduler" for r in rows)


def test_the_failed_run_alert_names_every_failed_task(settings: Settings) -> None:
    row = {
        "flow_name": "orders_elt_daily",
        "flow_run_id": "manual__2003-03-01",
        "data_interval_start": T0,
        "data_interval_end": T0 + timedelta(days=1),
        "metadata": {"failed_tasks": ["load_orders", "transform.dbt_producer_watcher"]},
    }
    lines = run_failure_lines(settings, row)
    assert "failed tasks: load_orders, transform.dbt_producer_watcher" in lines
    row["metadata"]["failed_tasks"] = []
    assert any(line.startswith("failed tasks: none recorded") for line in run_failure_lines(settings, row))


def test_a_failure_callback_without_an_error_says_the_process_died() -> None:
    """Airflow runs the callbacks of a try whose process died in the DAG processor, with no
    exception in the context: the row still explains the failure."""
    ti = SimpleNamespace(
        dag_id="d", run_id="r", task_id="load_orders", try_number=1, start_date=T0, end_date=None
    )
    row = task_row({"ti": ti}, "up_for_retry")
    assert row["error_message"] and "process died" in row["error_message"]
    failed = task_row({"ti": ti, "exception": ValueError("boom")}, "failed")
    assert failed["error_message"] == "ValueError: boom"


def test_rows_record_the_interval_the_run_processed() -> None:
    """A trigger form's interval (params, or the run's conf) overrides the data interval for the
    tasks, so the audit rows record it: `dag.test()` and manual runs process the day they name."""
    airflow_start, airflow_end = T0 - timedelta(days=1), T0
    named = {"interval_start": "2025-03-11", "interval_end": "2025-03-12T00:00:00+00:00"}
    expected = (datetime(2025, 3, 11, tzinfo=UTC), datetime(2025, 3, 12, tzinfo=UTC))
    base = {"data_interval_start": airflow_start, "data_interval_end": airflow_end}
    assert processed_interval({**base, "params": named}) == expected
    assert processed_interval({**base, "dag_run": SimpleNamespace(conf=named)}) == expected
    assert processed_interval(base) == (airflow_start, airflow_end)
    # Unresolvable overrides leave the data interval: the row is written anyway.
    assert processed_interval({**base, "params": {"interval_start": "soon"}}) == (airflow_start, airflow_end)

    ti = SimpleNamespace(dag_id="d", run_id="r", task_id="t", try_number=1, start_date=T0, end_date=T0)
    row = task_row({"ti": ti, **base, "params": named}, "failed")
    assert (row["data_interval_start"], row["data_interval_end"]) == expected
    [unaudited] = unaudited_rows(
        "d", "r", [TryRecord("t", 1, "failed", T0, T0, None)], set(), {**base, "params": named}
    )
    assert (unaudited["data_interval_start"], unaudited["data_interval_end"]) == expected
