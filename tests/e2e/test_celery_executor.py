"""The daily DAG under CeleryExecutor: two workers, each with its own directory, as if on two hosts.

The module switches the running stack to `DRP_EXECUTOR=celery` (`drp up` restarts it: the
executor is a setting the running stack is compared on), and back to the default afterwards.
Runs go through the real scheduler, Redis broker and workers; task logs through the object store.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest

from drp.settings import Settings
from drp.storage.object_store import client as s3_client
from drpctl.chaos.invariants import check_batches
from drpctl.chaos.observe import batch_rows, observe_batch, published_slices
from drpctl.driver.airflow_api import AirflowClient
from drpctl.driver.run import DAG_ID
from drpctl.stack.supervisor import Supervisor, worker_names
from tests.e2e.process_env import assert_holds_no_drp_secret

pytestmark = [pytest.mark.e2e, pytest.mark.dag_e2e, pytest.mark.lifecycle]
DRP = str(Path(sys.executable).parent / "drp")
CELERY_DAY = date(2025, 7, 14)
KILL_DAY = date(2025, 7, 15)
# The dbt build: the run's longest task, so a worker is surely killed while it runs.
LONG_TASK = "transform.dbt_producer_watcher"


def _drp(*args: str, executor: str, timeout: float = 1500) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DRP_EXECUTOR": executor}
    return subprocess.run([DRP, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False)


def _run_day(day: date, executor: str) -> str:
    """`drp run --date` under the executor; returns the run id."""
    result = _drp("run", "--date", day.isoformat(), executor=executor)
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert ": success in" in out, out[-3000:]
    line = next(ln for ln in out.splitlines() if ln.startswith("triggered orders_elt_daily run "))
    return line.split()[3]


@pytest.fixture(scope="module")
def celery_stack(settings: Settings) -> Iterator[Settings]:
    up = _drp("up", executor="celery", timeout=600)
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    assert "celery        healthy" in up.stdout, up.stdout[-2000:]
    try:
        yield settings.model_copy(update={"executor": "celery"})
    finally:
        back = _drp("up", executor="local", timeout=600)
        assert back.returncode == 0, back.stdout[-3000:] + back.stderr[-3000:]


def _task_instances(settings: Settings, run_id: str) -> list[dict[str, Any]]:
    api = AirflowClient(settings)
    try:
        return api.task_instances(DAG_ID, run_id)
    finally:
        api.close()


def _kill_worker(settings: Settings, name: str) -> int:
    """SIGKILL a worker and every process below it, as when its host dies."""
    info = Supervisor(settings).info(name)
    assert info and info["pid"], name
    root = psutil.Process(info["pid"])
    procs = [root, *root.children(recursive=True)]
    for proc in procs:
        proc.kill()
    return len(procs)


@pytest.mark.timeout(1500)
def test_a_worker_killed_mid_task_is_recovered_by_retries(celery_stack: Settings) -> None:
    settings = celery_stack
    since = datetime.now(UTC)
    env = {**os.environ, "DRP_EXECUTOR": "celery"}
    runner = subprocess.Popen(
        [DRP, "run", "--date", KILL_DAY.isoformat()],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        logical = datetime(KILL_DAY.year, KILL_DAY.month, KILL_DAY.day, tzinfo=UTC)
        deadline = time.monotonic() + 900
        victim = None
        while victim is None and time.monotonic() < deadline and runner.poll() is None:
            api = AirflowClient(settings)
            try:
                runs = [r for r in api.runs_for_logical_date(DAG_ID, logical) if r["state"] == "running"]
                tis = api.task_instances(DAG_ID, runs[0]["dag_run_id"]) if runs else []
            finally:
                api.close()
            running = [
                t for t in tis if t["task_id"] == LONG_TASK and t["state"] == "running" and t["hostname"]
            ]
            if running:
                victim = running[0]
            else:
                time.sleep(1)
        assert victim is not None, "the dbt build never ran"
        killed = _kill_worker(settings, victim["hostname"])
        assert killed >= 2
        out, _ = runner.communicate(timeout=1200)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 0, out[-3000:]
    assert ": success in" in out
    run_id = victim["dag_run_id"]
    retried = next(t for t in _task_instances(settings, run_id) if t["task_id"] == LONG_TASK)
    assert retried["state"] == "success" and retried["try_number"] >= 2, retried

    # The killed try is audited (the scheduler's heartbeat timeout runs its failure callback).
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        audited = conn.execute(
            "select status from ops.pipeline_flow_audit where flow_run_id = %s and task_id = %s "
            "and try_number = %s",
            (run_id, LONG_TASK, victim["try_number"]),
        ).fetchall()
    assert [row[0] for row in audited] == ["up_for_retry"], audited

    # Nothing lost or duplicated: every batch of the run holds exactly what its row says.
    observed = [observe_batch(row, None) for row in batch_rows(settings, since)]
    assert {b.entity for b in observed} == {"orders", "customers", "products"}
    assert check_batches(observed, append_only=True) == []
    # The killed worker came back under the supervisor.
    assert Supervisor(settings).info(victim["hostname"])["statename"] == "RUNNING"


# Last: it leaves the stack on the default executor.
def test_a_day_under_celery_uses_both_workers_and_equals_the_local_run(celery_stack: Settings) -> None:
    settings = celery_stack
    workers = set(worker_names(settings))
    assert len(workers) == 2

    run_id = _run_day(CELERY_DAY, "celery")
    tis = _task_instances(settings, run_id)
    assert tis and all(t["state"] == "success" for t in tis)
    # Both workers ran tasks (their names, from the metadata DB), holding no DRP_* secret and no
    # `.env`: credentials from the platform's Airflow Connections, as on a host of their own.
    assert {t["hostname"] for t in tis} == workers
    for worker in workers:
        assert_holds_no_drp_secret(settings, worker)

    # Every task's log is in the object store, and each worker's is readable through the API.
    prefix = f"airflow/dag_id={DAG_ID}/run_id={run_id}/"
    keys = {
        o.object_name
        for o in s3_client(settings).list_objects(settings.s3_bucket_logs, prefix, recursive=True)
    }
    assert {f"{prefix}task_id={t['task_id']}/attempt={t['try_number']}.log" for t in tis} <= keys
    api = AirflowClient(settings)
    try:
        for worker in sorted(workers):
            ti = next(t for t in tis if t["hostname"] == worker)
            path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/logs/{ti['try_number']}"
            body = api.call("GET", path, headers={"Accept": "application/json"})
            events = [str(e.get("event", "")) for e in body["content"]]
            assert not any("Could not read served logs" in e for e in events), (worker, events[:5])
            assert len(events) > 5, (worker, events)
    finally:
        api.close()
    _, _, under_celery = published_slices(settings, [CELERY_DAY])

    # The same day again under LocalExecutor (a rerun: the same source data) publishes the same.
    restarted = _drp("up", executor="local", timeout=600)
    assert restarted.returncode == 0, restarted.stdout[-3000:]
    _run_day(CELERY_DAY, "local")
    _, _, under_local = published_slices(settings, [CELERY_DAY])
    assert under_celery and under_local == under_celery
