"""Days of the `ops` tables as the pipeline's writers leave them, for the data health tests.

CLEAN: every layer fine. CRITICAL: the gate failed on a critical expectation, nothing published.
HELD: a quarantine-heavy reload refused (held), its run failed. CARRIED: its own run failed, and
CARRIER's run carried it in and published both. RELOADED: published, then its orders replayed.
WINDOW: an orders batch over three days (16-18). NOTHING: no run at all.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg

from drp.db.migrate import upgrade
from drp.ingest.thresholds import Violation
from drp.monitoring.alert_store import NO_WEBHOOK
from drp.monitoring.data_health import DAILY_DAG
from drp.settings import Settings, load_settings
from drp.warehouse import identity
from drpctl.db_admin import create_database, drop_database

CLEAN, CRITICAL, HELD, CARRIED, CARRIER, RELOADED, WINDOW, NOTHING = (
    date(2025, 1, d) for d in (10, 11, 12, 13, 14, 15, 16, 20)
)


@contextmanager
def health_database(**overrides: Any) -> Iterator[Settings]:
    """Settings of a new, migrated database holding the days above (dropped afterwards)."""
    base = load_settings()
    name = f"drp_test_health_{secrets.token_hex(4)}"
    create_database(base.postgres_admin_dsn, name, base.postgres_user)
    try:
        settings = load_settings(postgres_db=name, **overrides)
        upgrade(settings)
        docs_root = f"s3://{settings.s3_bucket_analytics}/{settings.quality_docs_prefix}/"
        with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as conn:
            write_days(conn, identity(settings), docs_root)
        yield settings
    finally:
        drop_database(base.postgres_admin_dsn, name)


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _batch(
    conn: psycopg.Connection[Any],
    day: date,
    entity: str,
    *,
    status: str = "succeeded",
    received: int = 100,
    quarantined: int = 0,
    reasons: tuple[str, ...] = (),
    violations: list[Violation] | None = None,
    ended: int = 0,
    ended_at: datetime | None = None,
    days: int = 1,
) -> None:
    batch_id = uuid.uuid4()
    start = _start(day)
    finished = ended_at or start + timedelta(days=days, minutes=ended + 1)
    conn.execute(
        """insert into ops.ingest_batches (batch_id, source_system, entity, data_interval_start,
               data_interval_end, status, received, loaded, quarantined, duplicates, drift,
               threshold_violations, started_at, ended_at)
           values (%s, 'generator', %s, %s, %s, %s, %s, %s, %s, 0, '{}', %s, %s, %s)""",
        (
            batch_id,
            entity,
            start,
            start + timedelta(days=days),
            status,
            received,
            received - quarantined,
            quarantined,
            json.dumps([v.as_dict() for v in violations])
            if violations
            else None,  # as the loader stores them
            finished - timedelta(minutes=1),
            finished,
        ),
    )
    for reason in reasons:
        conn.execute(
            f"""insert into raw.{entity}_rejected (batch_id, source_system, data_interval_start,
                    data_interval_end, reasons, raw_payload) values (%s, 'generator', %s, %s, %s, '{{}}')""",
            (batch_id, start, start + timedelta(days=1), [reason]),
        )


def _run(
    conn: psycopg.Connection[Any], day: date, run_id: str, status: str, error: str | None = None
) -> None:
    start = _start(day)
    conn.execute(
        """insert into ops.pipeline_flow_audit (flow_name, flow_run_id, task_id, status,
               data_interval_start, data_interval_end, duration_seconds, error_message)
           values (%s, %s, null, %s, %s, %s, 61.5, %s)""",
        (DAILY_DAG, run_id, status, start, start + timedelta(days=1), error),
    )


def _task(
    conn: psycopg.Connection[Any], run_id: str, task_id: str, status: str, metadata: dict[str, Any]
) -> None:
    conn.execute(
        """insert into ops.pipeline_flow_audit (flow_name, flow_run_id, task_id, try_number, status, metadata)
           values (%s, %s, %s, 1, %s, %s)""",
        (DAILY_DAG, run_id, task_id, status, json.dumps(metadata)),
    )


def _built_and_gated(
    conn: psycopg.Connection[Any],
    day: date,
    run_id: str,
    *,
    critical: list[str] | None = None,
    docs_root: str = "s3://b/docs/",
) -> None:
    _task(conn, run_id, "source_freshness", "success", {"sources": {"raw.orders_raw": "pass"}})
    dbt = {"models_built": 15, "tests_passed": 104, "tests_warned": 0, "tests_failed": 0}
    _task(conn, run_id, "dbt_results", "success", dbt)
    start = _start(day)
    for suite, failed in (("staging.orders", critical or []), ("analytics.fct_orders", [])):
        conn.execute(
            """insert into ops.quality_results (run_id, suite, data_interval_start, data_interval_end,
                   success, evaluated_count, failed_count, critical_count, warning_count,
                   failed_expectations, critical_failed, warning_failed, validated_at, result_url,
                   data_docs_url)
               values (%s, %s, %s, %s, %s, 20, %s, 12, 8, %s, %s, '{}', now(), %s, %s)""",
            (
                run_id,
                suite,
                start,
                start + timedelta(days=1),
                not failed,
                len(failed),
                failed,
                failed,
                f"{docs_root}validations/{suite.replace('.', '/')}/{run_id}/page.html",
                f"{docs_root}index.html",
            ),
        )


def _published(
    conn: psycopg.Connection[Any],
    lake: str,
    day: date,
    run_id: str,
    snapshot: int,
    carried: tuple[date, ...] = (),
) -> None:
    # As publish records it: the gate's report (QualityReport.as_dict) under details.quality.
    details = {"quality": {"passed": True, "carried_days": [d.isoformat() for d in carried]}}
    conn.execute(
        """insert into ops.published_snapshots (snapshot_date, run_id, lake_snapshot_id, marts, details, lake)
           values (%s, %s, %s, %s, %s, %s)""",
        (
            day,
            run_id,
            snapshot,
            json.dumps({"fct_orders": {"rows": 1234, "checksum": "1"}}),
            json.dumps(details),
            lake,
        ),
    )


def _alert(conn: psycopg.Connection[Any], run_id: str, level: str, error: str | None) -> None:
    conn.execute(
        """insert into ops.alerts (kind, level, title, run_id, delivered, delivery_error)
           values (%s, %s, %s, %s, %s, %s)""",
        (f"run_{level}", level, f"drp: {run_id}", run_id, error is None, error),
    )


def write_days(conn: psycopg.Connection[Any], lake: str, docs_root: str) -> None:
    """CLEAN, CRITICAL, HELD and CARRIED as the pipeline's writers leave them."""
    # A clean day: 3 % of orders quarantined (under the 5 % warning share).
    for entity in ("orders", "customers", "products"):
        _batch(
            conn,
            CLEAN,
            entity,
            quarantined=3 if entity == "orders" else 0,
            reasons=("negative_value:amount",) * 3 if entity == "orders" else (),
        )
    _run(conn, CLEAN, "clean", "success")
    _built_and_gated(conn, CLEAN, "clean")
    _published(conn, lake, CLEAN, "clean", 7)
    _alert(conn, "clean", "warning", NO_WEBHOOK)

    # A critical violation: the gate failed, nothing published, the alert went out.
    for entity in ("orders", "customers", "products"):
        _batch(conn, CRITICAL, entity)
    _run(conn, CRITICAL, "critical", "failed", "quality gate failed for run critical\n  - details")
    _built_and_gated(
        conn, CRITICAL, "critical", critical=["order_created_at_not_in_future"], docs_root=docs_root
    )
    _alert(conn, "critical", "error", None)

    # A quarantine-heavy reload: refused (held) while the earlier live batch stays live.
    for entity in ("orders", "customers", "products"):
        _batch(conn, HELD, entity)
    _batch(
        conn,
        HELD,
        "orders",
        status="held",
        quarantined=40,
        ended=30,
        violations=[Violation("quarantined_share", 0.4, 0.2, "quarantined 40.0 % > 20.0 %")],
    )
    _run(conn, HELD, "held", "failed", "load_orders failed")

    # Its own run failed; the next day's run carried it in and published it.
    for entity in ("orders", "customers", "products"):
        _batch(conn, CARRIED, entity)
    _run(conn, CARRIED, "carried_own", "failed", "generator unreachable")
    # The next day's run built and validated both days; publish records its own day only.
    for entity in ("orders", "customers", "products"):
        _batch(conn, CARRIER, entity)
    _run(conn, CARRIER, "carried_by_next", "success")
    _built_and_gated(conn, CARRIER, "carried_by_next")
    _published(conn, lake, CARRIER, "carried_by_next", 9, carried=(CARRIED,))

    # Published, then its orders replayed: consumers still read the batch the replay replaced.
    for entity in ("orders", "customers", "products"):
        _batch(conn, RELOADED, entity)
    _run(conn, RELOADED, "reloaded", "success")
    _built_and_gated(conn, RELOADED, "reloaded")
    _published(conn, lake, RELOADED, "reloaded", 11)
    conn.execute(
        "update ops.ingest_batches set status = 'replaced' where entity = 'orders' and data_interval_start = %s",
        (_start(RELOADED),),
    )
    _batch(conn, RELOADED, "orders", ended_at=datetime.now(UTC) + timedelta(hours=1))

    # One orders batch over three days (a range load): each day shows it, with its window.
    _batch(conn, WINDOW, "orders", days=3)
