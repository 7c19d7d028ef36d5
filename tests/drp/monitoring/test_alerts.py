"""Alerts: recorded in ops.alerts, delivered by the Airflow notifier, raised once per situation.

Real Postgres, a real webhook receiver (`WebhookReceiver`), real loads from a generator of this
module's own (its epoch, 1997, is a time no other test loads), real `dbt source freshness`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import structlog
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.execution_time.callback_supervisor import execute_callback

from drp import tasks
from drp.ingest.errors import BatchRejectedError
from drp.ingest.loader import load_interval
from drp.monitoring import alert_store
from drp.monitoring.alert_store import NO_WEBHOOK, AlertRecord
from drp.monitoring.alerts import alert, alert_on_load, alert_on_rejected, send_alert
from drp.monitoring.deadlines import publish_deadline
from drp.monitoring.freshness import SourceStaleError, check_source_freshness
from drp.monitoring.notifier import DrpNotifier
from drp.settings import Settings, get_settings, load_settings
from tests.drp.ingest.conftest import source, start_generator  # noqa: F401 - fixtures
from tests.drp.ingest.source import Generator
from tests.e2e.dag_runs import WebhookReceiver

pytestmark = pytest.mark.integration

EPOCH = date(1997, 6, 2)


def day(offset: int, hours: int = 0) -> datetime:
    return datetime(EPOCH.year, EPOCH.month, EPOCH.day, tzinfo=UTC) + timedelta(days=offset, hours=hours)


class RefusingReceiver:
    """A webhook that answers every POST with 503."""

    def __init__(self) -> None:
        self.posts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.posts += 1
                self.send_response(503)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/down"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def alerting(settings: Settings, webhook: WebhookReceiver) -> Settings:
    webhook.messages.clear()
    return settings.model_copy(update={"alert_webhook_url": webhook.url})


@pytest.fixture
def raised(settings: Settings) -> Iterator[Callable[[str], list[AlertRecord]]]:
    """The alerts this test raised whose title contains a marker; deleted afterwards."""
    since = datetime.now(UTC)
    seen: list[int] = []

    def read(marker: str) -> list[AlertRecord]:
        rows = [a for a in alert_store.alerts_where(settings, since=since) if marker in a.title]
        seen.extend(a.id for a in rows)
        return rows

    yield read
    alert_store.delete_alerts(settings, seen)


@pytest.fixture(scope="module")
def generator(start_generator: Callable[..., Generator]) -> Generator:  # noqa: F811
    """A small generator of this module's own, from 1997-06-02."""
    return start_generator(epoch=EPOCH, orders_per_day=300, seed=19970602)


def test_an_alert_is_recorded_then_delivered(
    alerting: Settings, webhook: WebhookReceiver, raised: Callable[[str], list[AlertRecord]]
) -> None:
    alert(
        alerting, "drift", "pytest-alert delivered", ["a line", "{{ not a template }}"],
        level="warning", run_id="run-1", dag_id="dag-1", details={"n": 3},
    )  # fmt: skip
    [row] = raised("pytest-alert delivered")
    assert (row.kind, row.level, row.lines, row.run_id, row.dag_id) == (
        "drift", "warning", ["a line", "{{ not a template }}"], "run-1", "dag-1",
    )  # fmt: skip
    assert row.details == {"n": 3}
    assert row.delivered and row.delivered_at is not None and row.delivery_error is None
    [message] = webhook.messages
    assert message["drp"]["id"] == row.id and message["drp"]["kind"] == "drift"
    assert "pytest-alert delivered" in message["text"] and "{{ not a template }}" in message["text"]


def test_a_failed_delivery_is_recorded_and_never_raised(
    settings: Settings, raised: Callable[[str], list[AlertRecord]]
) -> None:
    down = RefusingReceiver()
    try:
        alert(
            settings.model_copy(update={"alert_webhook_url": down.url}),
            "quarantine",
            "pytest-alert 503",
            ["x"],
        )
    finally:
        down.close()
    closed = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = closed.server_port
    closed.server_close()  # nothing listens there any more
    refused = settings.model_copy(update={"alert_webhook_url": f"http://127.0.0.1:{port}/hooks"})
    assert send_alert(refused, "pytest-alert refused", ["y"]) is False
    alert(settings.model_copy(update={"alert_webhook_url": ""}), "freshness", "pytest-alert unset", ["z"])

    [status_503] = raised("pytest-alert 503")
    assert down.posts == 1 and not status_503.delivered and "503" in (status_503.delivery_error or "")
    [connection_refused] = raised("pytest-alert refused")
    assert connection_refused.kind == "run_failed"  # send_alert's default for an error
    assert not connection_refused.delivered and "ConnectError" in (connection_refused.delivery_error or "")
    [unset] = raised("pytest-alert unset")
    assert not unset.delivered and unset.delivery_error == NO_WEBHOOK


def test_an_alert_that_cannot_be_recorded_is_still_sent(
    alerting: Settings, webhook: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    no_database = alerting.model_copy(update={"postgres_port": 9})  # nothing answers on port 9
    with caplog.at_level(logging.ERROR):
        alert(no_database, "drift", "pytest-alert no database", ["still sent"])
        alert(alerting, "no-such-kind", "pytest-alert bad kind", ["refused"])  # logged, not raised
    assert [m["drp"]["title"] for m in webhook.messages] == ["pytest-alert no database"]
    assert webhook.messages[0]["drp"]["id"] is None
    assert "could not be recorded" in caplog.text and "unknown alert kind" in caplog.text


def test_the_notifier_as_a_task_failure_callback(
    alerting: Settings, webhook: WebhookReceiver, raised: Callable[[str], list[AlertRecord]]
) -> None:
    ti = SimpleNamespace(
        dag_id="pytest_dag", run_id="manual__1997-06-02", task_id="load_orders", try_number=3
    )
    context: dict[str, Any] = {
        "ti": ti,
        "exception": ValueError("source said no"),
        "data_interval_start": day(0),
        "data_interval_end": day(1),
    }
    # As Airflow calls it: `notifier(context)` renders the templated fields, then notifies.
    DrpNotifier("task_failed", settings=alerting)(dict(context))
    DrpNotifier("task_failed", title="pytest-alert {{ ti.task_id }} broke", settings=alerting)(dict(context))

    [composed] = [
        a for a in raised("pytest_dag.load_orders") if a.title == "drp: task pytest_dag.load_orders failed"
    ]
    assert (composed.dag_id, composed.run_id, composed.task_id) == (
        "pytest_dag",
        "manual__1997-06-02",
        "load_orders",
    )
    assert "run: manual__1997-06-02 (try 3)" in composed.lines
    assert "error: ValueError: source said no" in composed.lines
    assert composed.delivered
    [templated] = raised("pytest-alert load_orders broke")
    assert templated.task_id == "load_orders" and templated.delivered
    assert len(webhook.messages) == 2


def test_the_deadline_callback_through_airflows_callback_runner(
    settings: Settings,
    webhook: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
    raised: Callable[[str], list[AlertRecord]],
) -> None:
    """What the executor runs when the scheduler finds a missed deadline (`execute_callback`)."""
    callback = publish_deadline(load_settings(check_secrets=False)).callback.serialize()
    monkeypatch.setenv("DRP_ALERT_WEBHOOK_URL", webhook.url)
    get_settings.cache_clear()
    webhook.messages.clear()
    deadline_time = datetime(1997, 6, 3, 6, tzinfo=UTC)

    def context(run_id: str, run_after: datetime) -> dict[str, Any]:
        dag_run = {
            "dag_id": "pytest_deadline", "dag_run_id": run_id, "state": "running",
            "run_after": run_after.isoformat(), "data_interval_start": day(0).isoformat(),
            "data_interval_end": day(1).isoformat(),
        }  # fmt: skip
        return {"dag_run": dag_run, "deadline": {"id": "d-1", "deadline_time": deadline_time.isoformat()}}

    try:
        log = structlog.get_logger()
        for run_id, run_after in (
            ("pytest-deadline-late", day(1)),  # due at the interval's end: the deadline was reachable
            ("pytest-deadline-backfill", deadline_time + timedelta(days=9000)),  # created long after
        ):
            kwargs = {**callback["kwargs"], "context": context(run_id, run_after)}
            assert execute_callback(callback["path"], kwargs, Path(), None, log) == (True, None)
    finally:
        get_settings.cache_clear()

    [row] = raised("pytest_deadline")
    assert (row.kind, row.level, row.run_id) == ("deadline", "error", "pytest-deadline-late")
    assert row.title == "drp: pytest_deadline not published by 1997-06-03 06:00 UTC"
    assert row.delivered and [m["drp"]["id"] for m in webhook.messages] == [row.id]


def test_drift_and_quarantine_alert_once_each(
    alerting: Settings,
    generator: Generator,
    source: str,  # noqa: F811
    raised: Callable[[str], list[AlertRecord]],
) -> None:
    def load(offset: int, faults: dict[str, str] | None = None) -> Any:
        result = load_interval(
            alerting, "orders", day(offset), day(offset + 1),
            api_base_url=generator.url, source_system=source, faults=faults,
        )  # fmt: skip
        alert_on_load(alerting, result)
        return result

    clean = load(1)
    drifted = load(2, {"drift_from": day(2).date().isoformat(), "drift": "add"})
    noisy = load(3, {"invalid": "0.1"})

    assert clean.received > 0 and not clean.drift and not clean.warnings
    assert raised("[1997-06-03") == []  # a clean load raises nothing
    [drift] = raised("[1997-06-04")
    assert drift.kind == "drift" and drift.level == "warning"
    assert drift.details["batch_id"] == str(drifted.batch_id) and drift.details["drift"] == drifted.drift
    assert any("not in the contract" in line for line in drift.lines)
    [quarantine] = raised("[1997-06-05")
    assert quarantine.kind == "quarantine" and quarantine.level == "warning"
    assert quarantine.details["quarantined"] == noisy.quarantined > 0
    assert quarantine.lines[0] == noisy.warnings[0]


def test_a_rejected_batch_alerts_with_its_cause(
    alerting: Settings,
    generator: Generator,
    source: str,  # noqa: F811
    raised: Callable[[str], list[AlertRecord]],
) -> None:
    with pytest.raises(BatchRejectedError) as info:
        load_interval(
            alerting, "orders", day(5), day(6), api_base_url=generator.url, source_system=source,
            faults={"drift_from": day(5).date().isoformat(), "drift": "both"},
        )  # fmt: skip
    alert_on_rejected(alerting, info.value)
    [rejected] = raised("[1997-06-07")
    assert rejected.kind == "batch_rejected" and rejected.level == "error"
    assert any("`customer_id` missing in 100% of records" in line for line in rejected.lines)
    assert rejected.details["batch_id"] == str(info.value.batch_id)


def test_the_ingest_task_alerts_drift_and_a_rejected_batch_once(
    alerting: Settings,
    generator: Generator,
    source: str,  # noqa: F811
    raised: Callable[[str], list[AlertRecord]],
) -> None:
    """The DAG's load task body: drift alerted and the load stands; a rejection alerted and failed."""
    port = int(generator.url.rsplit(":", 1)[1])
    task_settings = alerting.model_copy(update={"generator_host": "127.0.0.1", "generator_port": port})

    out = tasks.ingest(
        "orders", day(30), day(31), faults={"drift_from": day(30).date().isoformat(), "drift": "add"},
        settings=task_settings, source_system=source,
    )  # fmt: skip
    assert out["drift"] and out["loaded"] == out["received"] > 0
    [drift] = raised("[1997-07-02")
    assert drift.kind == "drift" and drift.details["batch_id"] == out["batch_id"]

    with pytest.raises(AirflowFailException, match="`customer_id` missing in 100% of records"):
        tasks.ingest(
            "orders", day(31), day(32), faults={"drift_from": day(31).date().isoformat(), "drift": "both"},
            settings=task_settings, source_system=source,
        )  # fmt: skip
    [rejected] = raised("[1997-07-03")
    assert rejected.kind == "batch_rejected"
    assert len(raised("[1997-07-0")) == 2  # nothing else: one alert per situation


def test_source_freshness_alerts_on_stale_intervals(
    alerting: Settings,
    generator: Generator,
    source: str,  # noqa: F811
    raised: Callable[[str], list[AlertRecord]],
) -> None:
    """Behind by hours warns, the run goes on; behind by more than 12 hours stops it."""

    def load(offset: int, late_hours: tuple[int, int] | None) -> None:
        faults = None
        if late_hours:
            faults = {"late": "1", "late_min_hours": str(late_hours[0]), "late_max_hours": str(late_hours[1])}
        load_interval(
            alerting, "orders", day(offset), day(offset + 1),
            api_base_url=generator.url, source_system=source, faults=faults,
        )  # fmt: skip

    load(10, None)
    load(11, (4, 6))  # every order arrives 4-6 hours after it changed
    load(12, (13, 20))

    fresh = check_source_freshness(alerting, day(10), day(11))
    assert [(s.source, s.status) for s in fresh] == [("raw.orders_raw", "pass")]
    assert raised("[1997-06-12") == []

    behind = check_source_freshness(alerting, day(11), day(12))
    assert [s.status for s in behind] == ["warn"]
    assert behind[0].age_seconds is not None and 4 * 3600 <= behind[0].age_seconds < 12 * 3600
    [warning] = raised("[1997-06-13")
    assert (warning.kind, warning.level) == ("freshness", "warning")

    with pytest.raises(SourceStaleError, match=r"raw\.orders_raw: error"):
        check_source_freshness(alerting, day(12), day(13))
    [error] = raised("[1997-06-14")
    assert (error.kind, error.level) == ("freshness", "error")
    assert "publish is blocked for this run" in error.lines

    with pytest.raises(SourceStaleError, match="no change delivered"):
        check_source_freshness(alerting, day(20), day(21))  # nothing loaded at all
    assert len(raised("[1997-06-22")) == 1
