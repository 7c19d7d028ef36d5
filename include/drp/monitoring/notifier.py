"""The platform's Airflow notifier: every alert is recorded in ops.alerts, then sent to the webhook.

`DrpNotifier` is an Airflow `BaseNotifier`, so it plugs in wherever Airflow takes one:

- a task or DAG callback: `on_failure_callback=DrpNotifier("task_failed")`;
- a deadline alert's callback: `SyncCallback(DrpNotifier, kwargs={"kind": "deadline"})`
  (`drp.monitoring.deadlines`);
- code: `drp.monitoring.alerts.alert(...)` builds one with its title and lines and calls `notify`.

The title and lines default to a description of the Airflow context (which task, run, interval,
error). Delivery posts a Slack-compatible message (`{"text", "blocks"}`, plus a `drp` section
for machines) to `DRP_ALERT_WEBHOOK_URL`. A notifier never raises: a row that cannot be written is
logged and the message is still sent; a delivery that fails is logged and recorded on the row
(`delivered = false`, `delivery_error`), so the task or run it reports on keeps its own result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx
from airflow.sdk.bases.notifier import BaseNotifier

from drp.monitoring import alert_store
from drp.monitoring.alert_store import NO_WEBHOOK
from drp.settings import Settings, get_settings

log = logging.getLogger(__name__)

Context = Mapping[str, Any]
ICONS = {"error": ":red_circle:", "warning": ":warning:"}
WEBHOOK_TIMEOUT_SECONDS = 10


class AlertSkipped(Exception):  # noqa: N818 - a signal, not an error
    """The context describes nothing worth an alert (e.g. a deadline a backfill was created after)."""


class DrpNotifier(BaseNotifier):
    """Record an alert in ops.alerts and post it to the platform's webhook.

    Args:
        kind: what the alert is about (`drp.monitoring.alert_store.KINDS`).
        title: the headline; default: composed from the Airflow context for the kind.
        lines: the body, one fact a line; default: composed from the context.
        level: "error", "warning" or "info".
        details: JSON-able facts kept on the row (not sent).
        dag_id, run_id, task_id: where the alert comes from; default: read from the context.
        settings: the platform's settings (default: `get_settings()` when notifying).
        context: Airflow's, when the notifier is awaited or built by a deadline callback.
    """

    template_fields = ("title", "lines")

    def __init__(
        self,
        kind: str = "task_failed",
        title: str | None = None,
        lines: Sequence[str] | None = None,
        *,
        level: str = "error",
        details: Mapping[str, Any] | None = None,
        dag_id: str | None = None,
        run_id: str | None = None,
        task_id: str | None = None,
        settings: Settings | None = None,
        context: Context | None = None,
    ) -> None:
        super().__init__(context)  # type: ignore[arg-type]
        if kind not in alert_store.KINDS:
            raise ValueError(f"unknown alert kind {kind!r}; expected one of {sorted(alert_store.KINDS)}")
        if level not in alert_store.LEVELS:
            raise ValueError(f"unknown alert level {level!r}; expected one of {alert_store.LEVELS}")
        self.kind = kind
        self.title = title
        self.lines = list(lines) if lines is not None else None
        self.level = level
        self.details = dict(details or {})
        self.dag_id, self.run_id, self.task_id = dag_id, run_id, task_id
        self.settings = settings
        self.delivered = False  # set by `notify`: whether the webhook took the alert

    def notify(self, context: Context) -> None:  # type: ignore[override]
        """Record the alert, then deliver it; never raises."""
        try:
            self._notify(context)
        except AlertSkipped as skipped:
            log.info("%s alert not raised: %s", self.kind, skipped)
        except Exception:
            log.exception("%s alert could not be raised", self.kind)

    def _notify(self, context: Context) -> None:
        settings = self.settings or get_settings()
        dag_id, run_id, task_id = _where(context)
        title, lines = self.title, self.lines
        details: dict[str, Any] = {}
        if title is None or lines is None:
            if self.kind not in COMPOSERS:
                raise ValueError(f"a {self.kind} alert needs its title and lines")
            composed_title, composed_lines, details = COMPOSERS[self.kind](settings, context)
            title = composed_title if title is None else title
            lines = composed_lines if lines is None else lines
        alert_id: int | None = None
        try:
            alert_id = alert_store.insert_alert(
                settings,
                kind=self.kind,
                level=self.level,
                title=title,
                lines=lines,
                dag_id=self.dag_id or dag_id,
                run_id=self.run_id or run_id,
                task_id=self.task_id or task_id,
                details={**details, **self.details},
            )
        except Exception:
            # Deliver anyway: the people on call matter more than the record.
            log.exception("alert %r could not be recorded in ops.alerts", title)
        error = self.deliver(settings, title, lines, alert_id=alert_id)
        self.delivered = error is None
        if alert_id is not None:
            alert_store.mark_delivery(settings, alert_id, error=error)

    def deliver(
        self, settings: Settings, title: str, lines: Sequence[str], *, alert_id: int | None
    ) -> str | None:
        """POST the message to the webhook; returns None when delivered, else why not."""
        url = settings.alert_webhook_url
        if not url:
            log.warning("alert not sent (%s): %s", NO_WEBHOOK, title)
            return NO_WEBHOOK
        text = f"{ICONS.get(self.level, ':information_source:')} *{title}*\n" + "\n".join(
            f"• {line}" for line in lines
        )
        payload: dict[str, Any] = {
            "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
            "drp": {
                "id": alert_id,
                "kind": self.kind,
                "level": self.level,
                "title": title,
                "lines": list(lines),
            },
        }
        try:
            response = httpx.post(url, json=payload, timeout=WEBHOOK_TIMEOUT_SECONDS)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
            log.error("alert %r not delivered to the webhook: %s", title, error)
            return error
        return None


# --- titles and lines from an Airflow context ---------------------------------------------------

Composed = tuple[str, list[str], dict[str, Any]]


def _value(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _where(context: Context) -> tuple[str | None, str | None, str | None]:
    """(dag_id, run_id, task_id) of a task, DAG or deadline callback's context."""
    ti, dag_run, dag = context.get("ti"), context.get("dag_run"), context.get("dag")
    dag_id = _value(ti, "dag_id") or _value(dag_run, "dag_id") or _value(dag, "dag_id")
    run_id = (
        _value(ti, "run_id")
        or context.get("run_id")
        or _value(dag_run, "run_id")
        or _value(dag_run, "dag_run_id")  # a deadline's context: the REST API's DAG run
    )
    return dag_id, run_id, _value(ti, "task_id")


def _error(context: Context) -> str:
    error = context.get("exception") or context.get("reason")
    if error is None:
        return "unknown"
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
    return " ".join(text.split())[:500]


def _when(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _interval(context: Context) -> str:
    dag_run = context.get("dag_run")
    start = context.get("data_interval_start") or _value(dag_run, "data_interval_start")
    end = context.get("data_interval_end") or _value(dag_run, "data_interval_end")
    return f"interval: {start} → {end}"


def _task_failed(settings: Settings, context: Context) -> Composed:
    dag_id, run_id, task_id = _where(context)
    try_number = _value(context.get("ti"), "try_number")
    return (
        f"drp: task {dag_id}.{task_id} failed",
        [
            f"run: {run_id} (try {try_number})",
            f"error: {_error(context)}",
            _interval(context),
            f"Airflow: {settings.airflow_url}/dags/{dag_id}",
        ],
        {"try_number": try_number},
    )


def _run_failed(settings: Settings, context: Context) -> Composed:
    dag_id, run_id, _task = _where(context)
    return (
        f"drp: {dag_id} run failed",
        [
            f"run: {run_id}",
            f"error: {_error(context)}",
            _interval(context),
            f"Airflow: {settings.airflow_url}/dags/{dag_id}",
        ],
        {},
    )


def _deadline(settings: Settings, context: Context) -> Composed:
    """A run that missed its publish deadline (Airflow's deadline alert context: the run, the deadline).

    A run created after its deadline had already passed (a backfill or a rerun of a past day)
    could never have met it: that is not an alert. A scheduled run is created when its interval
    ends, so one that is late because the scheduler was down still alerts.
    """
    dag_run = context.get("dag_run") or {}
    deadline = context.get("deadline") or {}
    deadline_time = _when(_value(deadline, "deadline_time"))
    created = _when(_value(dag_run, "run_after"))
    dag_id, run_id, _task = _where(context)
    if deadline_time is not None and created is not None and created >= deadline_time:
        raise AlertSkipped(f"run {run_id} was created at {created}, after its deadline {deadline_time}")
    return (
        f"drp: {dag_id} not published by {deadline_time:%Y-%m-%d %H:%M} UTC"
        if deadline_time
        else f"drp: {dag_id} missed its publish deadline",
        [
            f"run: {run_id} (state: {_value(dag_run, 'state')})",
            _interval(context),
            f"Airflow: {settings.airflow_url}/dags/{dag_id}",
        ],
        {"deadline_time": deadline_time, "deadline_id": _value(deadline, "id")},
    )


COMPOSERS: dict[str, Callable[[Settings, Context], Composed]] = {
    "task_failed": _task_failed,
    "run_failed": _run_failed,
    "deadline": _deadline,
}
