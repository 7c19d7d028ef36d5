"""ops.alerts, the record of every alert raised: the table's owner (every statement on it is here).

A row is written before delivery is attempted and updated with the outcome, so an alert whose
webhook was down, unset or refused stays on record with `delivered = false` and the reason.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import psycopg

from drp.settings import Settings

# The delivery error of an alert recorded while no webhook is set: recorded, not sent.
NO_WEBHOOK = "no alert webhook (DRP_ALERT_WEBHOOK_URL; in Airflow, the connection drp_alert_webhook)"

Level = Literal["error", "warning", "info"]
LEVELS: tuple[Level, ...] = ("error", "warning", "info")
KINDS = frozenset(
    {
        "run_failed",
        "task_failed",
        "drift",
        "quarantine",
        "freshness",
        "deadline",
        "batch_rejected",
        "quality_warning",
        "reconciliation",
    }
)


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One row of ops.alerts, as read back."""

    id: int
    created_at: datetime
    kind: str
    level: str
    title: str
    lines: list[str]
    dag_id: str | None
    run_id: str | None
    task_id: str | None
    details: dict[str, Any] = field(default_factory=dict)
    delivered: bool = False
    delivered_at: datetime | None = None
    delivery_error: str | None = None


_COLUMNS = (
    "id, created_at, kind, level, title, lines, dag_id, run_id, task_id, details, "
    "delivered, delivered_at, delivery_error"
)


def _connect(settings: Settings) -> psycopg.Connection:
    return psycopg.connect(settings.postgres_conninfo(), autocommit=True, connect_timeout=10)


def insert_alert(
    settings: Settings,
    *,
    kind: str,
    level: str,
    title: str,
    lines: Sequence[str],
    dag_id: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """Record a new, not yet delivered alert; returns its id."""
    with _connect(settings) as conn:
        row = conn.execute(
            """
            insert into ops.alerts (kind, level, title, lines, dag_id, run_id, task_id, details)
            values (%s, %s, %s, %s, %s, %s, %s, %s)
            returning id
            """,
            (
                kind,
                level,
                title,
                json.dumps(list(lines)),
                dag_id,
                run_id,
                task_id,
                json.dumps(details or {}, default=str),
            ),
        ).fetchone()
    assert row is not None
    return int(row[0])


def mark_delivery(settings: Settings, alert_id: int, *, error: str | None) -> None:
    """Record the delivery's outcome: delivered when `error` is None, else not, with the reason."""
    with _connect(settings) as conn:
        conn.execute(
            """
            update ops.alerts
            set delivered = %(ok)s,
                delivered_at = case when %(ok)s then now() end,
                delivery_error = %(error)s
            where id = %(id)s
            """,
            {"ok": error is None, "error": error, "id": alert_id},
        )


def alerts_where(
    settings: Settings,
    *,
    kind: str | None = None,
    dag_id: str | None = None,
    run_id: str | None = None,
    since: datetime | None = None,
) -> list[AlertRecord]:
    """Alerts matching every filter given, oldest first."""
    filters = {"kind": kind, "dag_id": dag_id, "run_id": run_id}
    clauses = [f"{column} = %({column})s" for column, value in filters.items() if value is not None]
    params: dict[str, Any] = {k: v for k, v in filters.items() if v is not None}
    if since is not None:
        clauses.append("created_at >= %(since)s")
        params["since"] = since
    where = " and ".join(clauses) or "true"
    with _connect(settings) as conn:
        rows = conn.execute(
            f"select {_COLUMNS} from ops.alerts where {where} order by id",
            params,
        ).fetchall()
    return [AlertRecord(*row) for row in rows]


def delete_alerts(settings: Settings, ids: Sequence[int]) -> int:
    """Delete alerts by id (tests clean up their own); returns how many."""
    with _connect(settings) as conn:
        cursor = conn.execute("delete from ops.alerts where id = any(%s)", (list(ids),))
    return cursor.rowcount
