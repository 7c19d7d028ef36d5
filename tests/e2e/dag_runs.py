"""Running the real daily DAG with `dag.test()` on the running stack: the DAG, its alert webhook, days."""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from unittest import mock

import drp.assets
from drp.settings import PROJECT_ROOT, Settings, get_settings
from drp.transform.dbt_runner import dbt_env
from drpctl.driver.airflow_api import AirflowClient
from drpctl.driver.run import DAG_ID
from drpctl.stack.native import parse_dbt_project

# Which batch delivered a row, and when, legitimately differs between runs of the same data.
LINEAGE = ("batch_id", "ingested_at")


def business_columns(con: Any, relation: str, dropped: tuple[str, ...] = LINEAGE) -> str:
    """The relation's columns, minus `dropped`, as a select list."""
    columns = [r[0] for r in con.execute(f"describe {relation}").fetchall()]
    return ", ".join(c for c in columns if c not in dropped)


class WebhookReceiver:
    """A local Slack-compatible webhook: records every JSON body it receives."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.messages.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/drp"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()


def keep_scheduler_off(settings: Settings) -> None:
    """Keep the scheduler away from the DAG while `dag.test()` runs it in this process.

    The scheduler examines every running run of an unpaused DAG, a `dag.test()` run included, and
    would run the same tasks a second time. So the DAG is paused, and any run the scheduler still
    has in flight (left by an earlier `drp run`) is stopped.
    """
    client = AirflowClient(settings)
    try:
        client.wait_for_dag(DAG_ID)
        client.set_paused(DAG_ID, True)
        active = client.call(
            "GET", f"/dags/{DAG_ID}/dagRuns", params={"state": ["running", "queued"], "limit": 100}
        )["dag_runs"]
        for run in active:
            client.call("PATCH", f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}", json={"state": "failed"})
        deadline = time.monotonic() + 120
        while active and time.monotonic() < deadline:  # let their task processes exit
            busy = [
                t
                for run in active
                for t in client.task_instances(DAG_ID, run["dag_run_id"])
                if t["state"] in {"running", "deferred", "queued"}
            ]
            if not busy:
                break
            time.sleep(2)
    finally:
        client.close()


@contextmanager
def dag_under_test(settings: Settings, webhook: WebhookReceiver, **overrides: Any) -> Iterator[Any]:
    """The real DAG object, with the task environment a supervised Airflow worker has.

    `overrides` (settings fields, e.g. another `postgres_db` and lake) replace the platform's
    settings for the tasks, which `dag.test()` runs in this process: every variable derived from
    them (dbt's `DRP_LAKE_DATA_PATH` from the lake prefix, ...) follows.
    """
    keep_scheduler_off(settings)
    task_settings = settings.model_copy(update=overrides)
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in dbt_env(task_settings).items() if k.startswith(("DRP_", "DBT_"))})
    os.environ.update({f"DRP_{field.upper()}": str(value) for field, value in overrides.items()})
    os.environ["DRP_ALERT_WEBHOOK_URL"] = webhook.url
    get_settings.cache_clear()
    # The DAG names its Assets after the settings it is parsed with, and `dag.test()` parses it
    # again and writes it to Airflow's metadata DB. Named after the overrides, it would be a new
    # version of the platform's DAG with Assets nobody activated (its tasks then refuse to run):
    # the DAG stays the platform's, only its tasks' settings change.
    raw_uri, published_uri = drp.assets.raw_asset_uri, drp.assets.published_asset_uri
    platform_assets = ExitStack()
    platform_assets.enter_context(
        mock.patch.object(drp.assets, "raw_asset_uri", lambda _settings, entity: raw_uri(settings, entity))
    )
    platform_assets.enter_context(
        mock.patch.object(
            drp.assets, "published_asset_uri", lambda _settings, model: published_uri(settings, model)
        )
    )
    try:
        task_env = get_settings()
        assert all(getattr(task_env, f) == getattr(task_settings, f) for f in overrides), overrides
        parse_dbt_project(task_env)
        # Airflow takes ~4 s to import and sets itself up on import: only a DAG run needs it.
        from airflow.dag_processing.dagbag import DagBag  # noqa: PLC0415 - heavy, run-time only

        bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
        assert bag.import_errors == {}
        dag = bag.dags[DAG_ID]
        # `dag.test()` runs a copy serialized in memory, whose deadline alerts stay dicts instead of
        # stored rows, and Airflow 3.3 then fails the run's final state update looking them up by id
        # ("can't adapt type 'dict'"). The deadline is tested under the real scheduler
        # (tests/e2e/test_alert_deadline.py).
        dag.deadline = None
        yield dag
    finally:
        platform_assets.close()
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()


def run_conf(day: date, **extra: Any) -> dict[str, Any]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return {
        "interval_start": start.isoformat(),
        "interval_end": (start + timedelta(days=1)).isoformat(),
        **extra,
    }


def run_day(dag: Any, day: date, **extra: Any) -> Any:
    """dag.test() one day (after deleting any earlier run of that logical date); returns the DagRun."""
    logical = datetime(day.year, day.month, day.day, tzinfo=UTC)
    client = AirflowClient(get_settings())
    try:
        for old in client.runs_for_logical_date(dag.dag_id, logical):
            client.delete_run(dag.dag_id, old["dag_run_id"])
    finally:
        client.close()
    # A run's conf overwrites the DAG's Param objects in place (Airflow's `process_params` merges
    # them by reference), so in this one process it would become every later run's default: a
    # drill's faults would reach the next clean day. Each run starts from the defaults it found.
    params = [p for params in (dag.params, *(t.params for t in dag.tasks)) for p in params.values()]
    defaults = [(param, copy.deepcopy(param.value)) for param in params]
    try:
        return dag.test(logical_date=logical, run_conf=run_conf(day, **extra))
    finally:
        for param, value in defaults:
            param.value = value
