"""Raising alerts from code: recorded in ops.alerts, delivered by the platform's Airflow notifier.

`alert(...)` is what tasks call (drift, quarantine, a rejected batch, stale sources, ...);
Airflow callbacks and deadline alerts use `drp.monitoring.notifier.DrpNotifier` directly. Either
way the alert is written to ops.alerts first (`drp.monitoring.alert_store`), then posted to the
Slack-compatible webhook at `DRP_ALERT_WEBHOOK_URL`, and the row records whether it arrived.

An alert never fails the task that raises it: whatever goes wrong is logged, and a failed
delivery stays on record.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from drp.ingest.errors import format_window
from drp.settings import Settings

if TYPE_CHECKING:
    from drp.ingest.errors import BatchRejectedError
    from drp.ingest.loader import BatchResult

log = logging.getLogger(__name__)


def alert(
    settings: Settings,
    kind: str,
    title: str,
    lines: Sequence[str],
    *,
    level: str = "error",
    run_id: str | None = None,
    dag_id: str | None = None,
    task_id: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Record one alert in ops.alerts and send it to the webhook; never raises.

    Args:
        settings: Platform settings (database, webhook URL).
        kind: What it is about: one of `drp.monitoring.alert_store.KINDS` (drift, quarantine,
            batch_rejected, freshness, deadline, run_failed, task_failed, quality_warning,
            reconciliation).
        title: The headline.
        lines: The body, one fact a line.
        level: "error", "warning" or "info".
        run_id: The Airflow run it concerns, if any (likewise `dag_id`, `task_id`).
        dag_id: The DAG.
        task_id: The task.
        details: JSON-able facts kept on the row for later reading (not sent).

    Raised inside an Airflow task without `dag_id`, `run_id` and `task_id`, the alert names the
    running task.
    """
    where = {"dag_id": dag_id, "run_id": run_id, "task_id": task_id}
    _raise(settings, kind, title, lines, level=level, details=details, **where)


def send_alert(
    settings: Settings, title: str, lines: list[str], *, level: str = "error", kind: str | None = None
) -> bool:
    """Compatibility wrapper over `alert` for earlier callers; returns True when delivered.

    Without `kind`, an error is a failed run (the DAG's failure callback) and a warning a quality
    warning (the gate): the two callers this function had.
    """
    kind = kind or ("run_failed" if level == "error" else "quality_warning")
    return _raise(settings, kind, title, lines, level=level)


def _raise(
    settings: Settings,
    kind: str,
    title: str,
    lines: Sequence[str],
    *,
    level: str,
    dag_id: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> bool:
    """Raise the alert through the notifier; True when the webhook took it."""
    if dag_id is run_id is task_id is None:
        dag_id, run_id, task_id = _current_task()
    try:
        # Lazy: Airflow's SDK takes seconds to import and only the notifier needs it.
        from drp.monitoring.notifier import DrpNotifier  # noqa: PLC0415

        notifier = DrpNotifier(
            kind,
            title,
            [str(line) for line in lines],
            level=level,
            details=details,
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            settings=settings,
        )
        # `notify`, not the notifier's `__call__`: the text is final, and rendering it as a Jinja
        # template would choke on braces in an error message or a record.
        notifier.notify({})
    except Exception:
        log.exception("alert %r (%s) could not be raised", title, kind)
        return False
    return notifier.delivered


def _current_task() -> tuple[str | None, str | None, str | None]:
    """(dag_id, run_id, task_id) of the Airflow task running this code, or Nones outside one."""
    try:
        from airflow.sdk import get_current_context  # noqa: PLC0415 - heavy, and only in a task

        ti = get_current_context()["ti"]
    except RuntimeError:  # not inside a task (a CLI, a test): the alert names no task
        return None, None, None
    return ti.dag_id, ti.run_id, ti.task_id


# --- alerts on loads ------------------------------------------------------------------------


def alert_on_load(settings: Settings, result: BatchResult) -> None:
    """Alert on what a successful load noticed: schema drift, a quarantined share above the warning."""
    window = format_window(result.start, result.end)
    facts = {"batch_id": str(result.batch_id), "entity": result.entity, "received": result.received}
    if result.drift:
        alert(
            settings,
            "drift",
            f"drp: schema drift in {result.entity} {window}",
            [
                *(
                    f"`{name}` in {count} of {result.received} records, not in the contract"
                    for name, count in sorted(result.drift.items())
                ),
                f"batch {result.batch_id} loaded; the contract's fields are unchanged",
            ],
            level="warning",
            details={**facts, "drift": result.drift},
        )
    if result.warnings:
        alert(
            settings,
            "quarantine",
            f"drp: {result.entity} {window}: quarantined share above the warning share",
            [
                *result.warnings,
                "by reason: "
                + ", ".join(f"{reason} {n}" for reason, n in sorted(result.quarantined_by_reason.items())),
                f"batch {result.batch_id} is live; the records are in raw.{result.entity}_rejected",
            ],
            level="warning",
            details={**facts, "quarantined": result.quarantined, "by_reason": result.quarantined_by_reason},
        )


def alert_on_rejected(settings: Settings, error: BatchRejectedError) -> None:
    """Alert on a batch refused by the thresholds, naming every cause."""
    window = format_window(error.start, error.end)
    if error.held:
        outcome = f"batch {error.batch_id} held; live batch {', '.join(map(str, error.kept_live))} stays live"
    else:
        outcome = f"batch {error.batch_id} is the interval's first: live, so its quarantine is visible"
    alert(
        settings,
        "batch_rejected",
        f"drp: {error.entity} batch rejected for {window}",
        [*error.violations, *error.warnings, outcome],
        level="error",
        details={
            "batch_id": str(error.batch_id),
            "entity": error.entity,
            "violations": list(error.violations),
            "held": error.held,
            "kept_live": [str(b) for b in error.kept_live],
            "drift": error.result.drift if error.result else {},
        },
    )
