"""Crash drills under the real scheduler: kill -9 a component mid-run, the run still completes.

Finding 2 of issue 16: kill -9 of the scheduler during the dbt build failed the run (Cosmos's
watcher producer skipped its retry), the run's audit row named no failed task, and the killed try
had no audit row. Here every drill must end with the run succeeding through Airflow's own retries,
with one audit row per task try (the killed one too) and nothing lost or duplicated in raw.

These tests kill and stop the shared stack's processes: run them under the scheduler lock, e.g.
`flock /tmp/work/scheduler.lock .venv/bin/pytest -q tests/e2e/test_recovery_from_crashes.py`.
Each drill is one run of a day nobody else uses, at the generator's own volume.


The file is named to run after test_daily_dag.py: a run here publishes a build of all the history
the shared raw holds, including test_daily_dag's bad day, which that module expects unpublished.
"""

from __future__ import annotations

import contextlib
import signal
import time
import xmlrpc.client
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psutil
import psycopg
import pytest

from drp.monitoring.flow_audit import TaskAudit, task_audits
from drp.pools import WAREHOUSE_POOL, WAREHOUSE_POOL_DESCRIPTION, WAREHOUSE_POOL_SLOTS
from drp.settings import Settings
from drpctl.driver.airflow_api import AirflowClient
from drpctl.driver.run import DAG_ID, RunSummary, watch_run
from drpctl.stack.supervisor import Supervisor

pytestmark = [pytest.mark.e2e, pytest.mark.dag_e2e]

SCHEDULER = "airflow-scheduler"
PRODUCER = "transform.dbt_producer_watcher"
# Longer than [scheduler] scheduler_health_check_threshold (30 s): the restarted scheduler finds
# the dead one's job stale at once and resets its tasks, as after a real crash and restart.
SCHEDULER_DOWN_SECONDS = 40
RUN_TIMEOUT = 1800


@pytest.fixture
def client(settings: Settings) -> Iterator[AirflowClient]:
    api = AirflowClient(settings)
    try:
        api.wait_for_dag(DAG_ID)
        api.ensure_pool(WAREHOUSE_POOL, WAREHOUSE_POOL_SLOTS, WAREHOUSE_POOL_DESCRIPTION)
        yield api
    finally:
        api.close()


@pytest.fixture
def supervisor(settings: Settings) -> Iterator[Supervisor]:
    sup = Supervisor(settings)
    assert sup.running(), "the native stack's supervisord is not running (`make up`)"
    try:
        yield sup
    finally:
        sup.start(SCHEDULER)  # whatever happened, leave the scheduler running
        _wait_for(lambda: (sup.info(SCHEDULER) or {}).get("statename") == "RUNNING", 60, "scheduler up")


def _wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _trigger(client: AirflowClient, day: date) -> str:
    """A new run for `[day, day + 1)`, replacing any earlier run of that day (as `drp run` does)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    for old in client.runs_for_logical_date(DAG_ID, start):
        client.delete_run(DAG_ID, old["dag_run_id"])
    run_id = f"manual__{day.isoformat()}__crash_{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
    client.trigger(DAG_ID, run_id=run_id, start=start, end=start + timedelta(days=1))
    client.unpause(DAG_ID)
    return run_id


def _task_state(client: AirflowClient, run_id: str, task_id: str) -> dict[str, Any]:
    for ti in client.task_instances(DAG_ID, run_id):
        if ti["task_id"] == task_id:
            return ti
    return {}


def _wait_running(client: AirflowClient, run_id: str, task_id: str, timeout: float = 900) -> None:
    def running() -> bool:
        state = _task_state(client, run_id, task_id).get("state")
        assert state not in {"success", "failed", "upstream_failed", "skipped"}, f"{task_id} is {state}"
        return state == "running"

    _wait_for(running, timeout, f"{task_id} to run", interval=0.3)


def _task_process(client: AirflowClient, run_id: str, task_id: str) -> psutil.Process:
    """The process running the task's code: the task runner reports its pid when it starts."""

    def find() -> psutil.Process | None:
        pid = _task_state(client, run_id, task_id).get("pid")
        return psutil.Process(pid) if pid and psutil.pid_exists(pid) else None

    return _wait_for(find, 60, f"the process of {task_id}", interval=0.2)


def _kill_scheduler_tree(supervisor: Supervisor) -> list[int]:
    """kill -9 the scheduler and everything it started (executor workers, task processes, dbt):
    what a crashed scheduler host takes with it."""
    pid = (supervisor.info(SCHEDULER) or {}).get("pid")
    assert pid, "the scheduler is not running"
    scheduler = psutil.Process(pid)
    tree = [scheduler, *scheduler.children(recursive=True)]
    for proc in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGKILL)
    return [p.pid for p in tree]


def _keep_scheduler_down(supervisor: Supervisor, seconds: float) -> None:
    """Stop the instance supervisord restarts after the kill, wait, start it again."""
    rpc = supervisor._proxy().supervisor

    def stopped() -> bool:
        state = (supervisor.info(SCHEDULER) or {}).get("statename")
        if state in {"STOPPED", "EXITED", "FATAL"}:
            return True
        with contextlib.suppress(xmlrpc.client.Fault):
            rpc.stopProcess(SCHEDULER, True)
        return False

    _wait_for(stopped, 60, "the scheduler to stay down")
    time.sleep(seconds)
    supervisor.start(SCHEDULER)


def _assert_one_row_per_try(audits: list[TaskAudit], summary: RunSummary) -> None:
    tries = Counter((a.task_id, a.try_number) for a in audits)
    assert [k for k, n in tries.items() if n > 1] == [], "a task try has more than one audit row"
    # Every try Airflow ran of a task that ran has its row, the killed ones included.
    for task_id, last in summary.try_numbers.items():
        if summary.tasks.get(task_id) in {"success", "failed"}:
            missing = [n for n in range(1, last + 1) if (task_id, n) not in tries]
            assert missing == [], f"{task_id}: no audit row for tries {missing}"


def _run_row(settings: Settings, run_id: str) -> tuple[str, str | None]:
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        deadline = time.monotonic() + 120  # the DAG callback runs in the DAG processor, a bit later
        while True:
            row = conn.execute(
                "select status, error_message from ops.pipeline_flow_audit "
                "where flow_name = %s and flow_run_id = %s and task_id is null order by id desc limit 1",
                (DAG_ID, run_id),
            ).fetchone()
            if row or time.monotonic() > deadline:
                assert row, f"no run-level audit row for {run_id}"
                return row[0], row[1]
            time.sleep(2)


def _assert_raw_exactly_once(settings: Settings, entity: str, day: date) -> None:
    """One live batch for the day; its records are in raw or quarantine, none twice."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        live = conn.execute(
            "select batch_id, received, loaded, quarantined, duplicates from ops.ingest_batches "
            "where entity = %s and data_interval_start = %s and data_interval_end = %s and status = 'succeeded'",
            (entity, start, start + timedelta(days=1)),
        ).fetchall()
        assert len(live) == 1, f"{entity} {day}: {len(live)} live batches"
        batch_id, received, loaded, quarantined, duplicates = live[0]
        assert received > 0 and loaded + quarantined + duplicates == received
        rows, distinct = conn.execute(
            f"select count(*), count(distinct record_hash) from raw.{entity}_raw where batch_id = %s",
            (batch_id,),
        ).fetchone() or (0, 0)
        rejected = conn.execute(
            f"select count(*) from raw.{entity}_rejected where batch_id = %s", (batch_id,)
        ).fetchone()
        assert (rows, distinct) == (loaded, loaded), f"{entity} {day}: raw rows {rows}, distinct {distinct}"
        assert rejected and rejected[0] == quarantined


def test_scheduler_killed_during_the_dbt_build_recovers_through_retries(
    settings: Settings, client: AirflowClient, supervisor: Supervisor
) -> None:
    """kill -9 of the scheduler (and every process it started) while `dbt build` runs: the
    restarted scheduler resets the build's try, the retry restores the lake head and rebuilds,
    the per-model sensors resolve from the retry, and the run publishes."""
    day = date(2026, 10, 12)
    run_id = _trigger(client, day)
    _wait_running(client, run_id, PRODUCER)
    time.sleep(5)  # into the build: dbt has started writing the lake's head
    killed = _kill_scheduler_tree(supervisor)
    assert len(killed) > 1
    _keep_scheduler_down(supervisor, SCHEDULER_DOWN_SECONDS)

    summary = watch_run(settings, client, run_id, day, echo=lambda _line: None, timeout=RUN_TIMEOUT)
    assert summary.state == "success", f"failed: {summary.failed}; errors: {summary.errors}"
    assert summary.try_numbers[PRODUCER] >= 2, "the dbt build was not retried"
    # Every model and test sensor resolved from the retried build, none ran dbt itself.
    sensors = {t: s for t, s in summary.tasks.items() if t.startswith("transform.") and t != PRODUCER}
    assert sensors and set(sensors.values()) == {"success"}, sensors

    audits = task_audits(settings, DAG_ID, run_id)
    _assert_one_row_per_try(audits, summary)
    killed_try = next(a for a in audits if (a.task_id, a.try_number) == (PRODUCER, 1))
    assert killed_try.status == "up_for_retry" and killed_try.error_message
    assert "process died" in killed_try.error_message
    assert _run_row(settings, run_id) == ("success", None)
    assert summary.results.get("publish")
    _assert_raw_exactly_once(settings, "orders", day)


@pytest.mark.parametrize(
    ("task_id", "day"),
    [("load_orders", date(2026, 10, 13)), ("quality_gate", date(2026, 10, 14))],
    ids=["load", "gate"],
)
def test_a_killed_task_process_is_retried_without_losing_or_duplicating_raw(
    settings: Settings, client: AirflowClient, supervisor: Supervisor, task_id: str, day: date
) -> None:
    """kill -9 of a task's process mid-task (the load, the quality gate): Airflow retries it, the
    run publishes, the killed try has its audit row, and the day's raw holds one live batch per
    entity with every record once."""
    run_id = _trigger(client, day)
    _wait_running(client, run_id, task_id)
    task = _task_process(client, run_id, task_id)
    time.sleep(0.5)  # into the task's work (a load takes seconds, the gate about 20)
    task.send_signal(signal.SIGKILL)

    summary = watch_run(settings, client, run_id, day, echo=lambda _line: None, timeout=RUN_TIMEOUT)
    assert summary.state == "success", f"failed: {summary.failed}; errors: {summary.errors}"
    assert summary.try_numbers[task_id] >= 2, f"the killed {task_id} was not retried"
    audits = task_audits(settings, DAG_ID, run_id)
    _assert_one_row_per_try(audits, summary)
    killed_try = next(a for a in audits if (a.task_id, a.try_number) == (task_id, 1))
    assert killed_try.status == "up_for_retry" and "process died" in (killed_try.error_message or "")
    _assert_raw_exactly_once(settings, "orders", day)
    assert _run_row(settings, run_id) == ("success", None)
