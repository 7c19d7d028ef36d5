"""The publish deadline under the real scheduler: a run not done by its deadline alerts, once.

Run it under the scheduler lock (`flock /tmp/work/scheduler.lock pytest ...`): it triggers a run
of the real DAG. The DAG is paused for the test, so the run stays queued and never publishes;
its logical date is chosen so that its deadline (`publish_deadline_utc` after the interval's end)
falls a few seconds after it is created. The scheduler then finds the deadline missed and its
executor runs the callback, `DrpNotifier(kind="deadline")`, which records the alert in ops.alerts
and posts it to the stack's webhook (if one is set: the row says either way).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from drp.monitoring import alert_store
from drp.monitoring.deadlines import publish_deadline_offset
from drp.settings import Settings
from drpctl.driver.airflow_api import AirflowClient
from drpctl.driver.run import DAG_ID

pytestmark = [pytest.mark.e2e]

LEAD_SECONDS = 20  # from the run's creation to its deadline
WAIT_SECONDS = 180  # the scheduler's loop plus a callback process


def test_a_run_past_its_publish_deadline_alerts_once(settings: Settings) -> None:
    client = AirflowClient(settings)
    run_id = f"pytest_deadline__{uuid4().hex[:12]}"
    client.wait_for_dag(DAG_ID)
    was_paused = client.is_paused(DAG_ID)
    client.set_paused(DAG_ID, True)
    now = datetime.now(UTC).replace(microsecond=0)
    logical = now + timedelta(seconds=LEAD_SECONDS) - publish_deadline_offset(settings)
    deadline = logical + publish_deadline_offset(settings)
    try:
        client.trigger(DAG_ID, run_id=run_id, start=logical, end=logical + timedelta(days=1))
        rows: list[alert_store.AlertRecord] = []
        stop = time.monotonic() + LEAD_SECONDS + WAIT_SECONDS
        while not rows and time.monotonic() < stop:
            time.sleep(3)
            rows = alert_store.alerts_where(settings, kind="deadline", dag_id=DAG_ID, run_id=run_id)
        assert rows, f"no deadline alert for {run_id} within {WAIT_SECONDS}s after its deadline {deadline}"
        time.sleep(10)  # a second callback would have come by now
        [row] = alert_store.alerts_where(settings, kind="deadline", dag_id=DAG_ID, run_id=run_id)
        assert row.created_at >= deadline
        assert row.level == "error"
        assert row.title == f"drp: {DAG_ID} not published by {deadline:%Y-%m-%d %H:%M} UTC"
        assert f"run: {run_id} (state: queued)" in row.lines
        # Delivered to the stack's webhook, or on record why not.
        assert row.delivered or row.delivery_error
    finally:
        client.delete_run(DAG_ID, run_id)
        client.set_paused(DAG_ID, was_paused)
        client.close()
        ids = [a.id for a in alert_store.alerts_where(settings, run_id=run_id)]
        alert_store.delete_alerts(settings, ids)
